package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const (
	acceptProtobuf     = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	acceptOpenMetrics  = "application/openmetrics-text;version=1.0.0"
	acceptPrometheus2  = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	acceptPrometheus3  = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
	acceptNativeHistos = acceptProtobuf + ",application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
)

// scrape GETs /metrics and returns the response and its body, decompressed.
func scrape(t testing.TB, h http.Handler, accept, encoding string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	var body io.Reader = rec.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// decodeAll decodes a text or protobuf response into families, failing on a
// family that comes twice (the text decoder rejects one split in two).
func decodeAll(t testing.TB, body []byte, format expfmt.Format) map[string]*dto.MetricFamily {
	t.Helper()
	out := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if out[mf.GetName()] != nil {
			t.Errorf("%s: family %s comes twice", format, mf.GetName())
		}
		out[mf.GetName()] = mf
	}
}

// asText renders a family in the text format, what both formats carry
// (protobuf also carries created timestamps, which text cannot), its lines
// sorted: the order of the samples carries no meaning.
func asText(t testing.TB, mf *dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// openMetricsFamilies checks a whole OpenMetrics response: one "# EOF", as
// its last line; each family once, its samples together. It returns each
// family's lines by the name its TYPE line gives.
func openMetricsFamilies(t testing.TB, body []byte) map[string]string {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n# EOF\n")) || bytes.Count(body, []byte("# EOF")) != 1 {
		t.Fatalf("OpenMetrics needs exactly one # EOF, at the end:\n%s", tail(body))
	}
	out := map[string]string{}
	var current string
	var lines strings.Builder
	done := func() {
		if current != "" {
			out[current] = lines.String()
		}
		lines.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(body[:len(body)-len("# EOF\n")]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") || strings.HasPrefix(line, "# UNIT ") {
			if name := strings.Fields(line)[2]; name != current {
				done()
				if _, dup := out[name]; dup {
					t.Errorf("OpenMetrics: family %s comes twice", name)
				}
				current = name
			}
		} else if !strings.HasPrefix(line, current) || current == "" {
			t.Errorf("OpenMetrics: sample %q outside its family %s", line, current)
		}
		lines.WriteString(line + "\n")
	}
	done()
	return out
}

func tail(b []byte) []byte {
	if len(b) > 300 {
		return b[len(b)-300:]
	}
	return b
}

// testOwnRegistry is an exporter registry with one family of each type and
// fixed values, and the poller's meta-metrics.
func testOwnRegistry(p *Poller) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "own_requests_total", Help: "An exporter counter."}, []string{"code"})
	counter.WithLabelValues("200").Add(3)
	histogram := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "own_duration_seconds", Help: "An exporter histogram.", Buckets: []float64{0.1, 1}})
	histogram.Observe(0.5)
	summary := prometheus.NewSummary(prometheus.SummaryOpts{Name: "own_size_bytes", Help: "An exporter summary."})
	summary.Observe(7)
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "An exporter gauge."})
	gauge.Set(1)
	reg.MustRegister(p, counter, histogram, summary, gauge)
	return reg
}

func polledPlacement(t testing.TB) *Poller {
	t.Helper()
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	p := NewPoller(nopLogger(), NewSafeConfig(mustConfig(t, "placement:\n"+allFormsQueries)), map[string]Collector{"placement": c})
	p.PollOnce(context.Background(), "placement", c)
	return p
}

// Every format serves the same families with the same samples as the text
// format, which writes the stored snapshot: the collector's (several
// families, converted from the snapshot) and the exporter's own (encoded
// per scrape), compressed or not.
func TestHandlerFormatsServeTheSameSamples(t *testing.T) {
	p := polledPlacement(t)
	h := p.Handler(testOwnRegistry(p), nopLogger(), 2)

	// A client that prefers protobuf but takes text gets text until a poll
	// has written protobuf too; from the next poll on, that protobuf.
	if resp, _ := scrape(t, h, acceptNativeHistos, "gzip"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("before a poll wrote protobuf: %q", resp.Header.Get("Content-Type"))
	}
	p.PollOnce(context.Background(), "placement", p.collectors["placement"])

	resp, body := scrape(t, h, "", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	text := decodeAll(t, body, expfmt.ResponseFormat(resp.Header))
	for _, name := range []string{"openstack_placement_resource_provider_info", "openstack_placement_resource_provider_inventory_total_units",
		"openstack_placement_query_resource_providers", "own_requests_total", "own_duration_seconds", "own_size_bytes", "own_metric",
		"openstack_capacity_exporter_collector_success"} {
		if text[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
	if n := len(text["openstack_placement_resource_provider_info"].GetMetric()); n != 7 {
		t.Errorf("%d providers", n)
	}

	for _, c := range []struct{ accept, encoding, contentType string }{
		{"", "gzip", "text/plain; version=0.0.4"},
		{acceptPrometheus2, "gzip", "text/plain; version=0.0.4"},
		{acceptProtobuf, "gzip", "application/vnd.google.protobuf"},
		{acceptProtobuf, "", "application/vnd.google.protobuf"},
		{acceptNativeHistos, "gzip", "application/vnd.google.protobuf"},
	} {
		resp, body := scrape(t, h, c.accept, c.encoding)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.contentType) {
			t.Fatalf("%s %s: %d %q", c.accept, c.encoding, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		got := decodeAll(t, body, expfmt.ResponseFormat(resp.Header))
		if len(got) != len(text) {
			t.Errorf("%s %s: %d families, text %d", c.accept, c.encoding, len(got), len(text))
		}
		for name, mf := range text {
			if got[name] == nil {
				t.Errorf("%s %s: %s missing", c.accept, c.encoding, name)
			} else if g, w := asText(t, got[name]), asText(t, mf); g != w {
				t.Errorf("%s %s: %s is\n%s\nin text\n%s", c.accept, c.encoding, name, g, w)
			}
		}
	}

	for _, encoding := range []string{"gzip", ""} {
		resp, body := scrape(t, h, acceptOpenMetrics, encoding)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
			t.Fatalf("content type %q", ct)
		}
		got := openMetricsFamilies(t, body)
		if len(got) != len(text) {
			t.Errorf("OpenMetrics %s: %d families, text %d", encoding, len(got), len(text))
		}
		for _, mf := range text {
			var want bytes.Buffer
			if _, err := expfmt.MetricFamilyToOpenMetrics(&want, mf); err != nil {
				t.Fatal(err)
			}
			name := strings.Fields(want.String())[2] // counters lose _total
			if got[name] != want.String() {
				t.Errorf("OpenMetrics %s: %s is\n%s\nwant\n%s", encoding, name, got[name], want.String())
			}
		}
	}
}

func gzipText(t testing.TB, text string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, text); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A snapshot is converted to another format once, on its first scrape in
// that format; later scrapes of it serve the stored conversion, and a new
// snapshot is converted afresh.
func TestHandlerConvertsOncePerSnapshot(t *testing.T) {
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": &fakeCollector{}})
	s := &snapshot{gzipped: gzipText(t, "# HELP first_value A value.\n# TYPE first_value gauge\nfirst_value 1\n")}
	p.snapshots["fake"] = s
	h := p.Handler(prometheus.NewRegistry(), nopLogger(), 0)
	families := func(accept string) string {
		resp, body := scrape(t, h, accept, "gzip")
		var names []string
		for name, mf := range decodeAll(t, body, expfmt.ResponseFormat(resp.Header)) {
			names = append(names, fmt.Sprintf("%s=%v", name, mf.GetMetric()[0].GetGauge().GetValue()))
		}
		sort.Strings(names)
		return strings.Join(names, " ")
	}
	if got := families(acceptProtobuf); got != "first_value=1" {
		t.Fatalf("first protobuf scrape: %s", got)
	}
	// Were the snapshot read again, the second scrape would show this.
	s.gzipped = gzipText(t, "# HELP reparsed_value A value.\n# TYPE reparsed_value gauge\nreparsed_value 2\n")
	if got := families(acceptProtobuf); got != "first_value=1" {
		t.Errorf("second protobuf scrape converted the snapshot again: %s", got)
	}
	if got := families(""); got != "reparsed_value=2" {
		t.Errorf("text scrape: %s", got)
	}

	p.mu.Lock()
	p.snapshots["fake"] = &snapshot{gzipped: gzipText(t, "# HELP next_value A value.\n# TYPE next_value gauge\nnext_value 3\n")}
	p.mu.Unlock()
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() { got[i] = families(acceptProtobuf) })
	}
	wg.Wait()
	for i, g := range got {
		if g != "next_value=3" {
			t.Errorf("concurrent scrape %d of the next snapshot: %s", i, g)
		}
	}
}

// Families the stored text holds in any shape the text format allows (no
// HELP, untyped, a line longer than the read buffer, a histogram) survive the
// conversion one family at a time.
func TestConvertFamilyByFamily(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	text := "# TYPE untyped_value untyped\nuntyped_value 1\n" +
		"# HELP long_value A value with a long label.\n# TYPE long_value gauge\nlong_value{l=\"" + long + "\"} 2\nlong_value{l=\"short\"} 3\n" +
		"# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
	zr, err := gzip.NewReader(bytes.NewReader(convert(strings.NewReader(text), expfmt.NewFormat(expfmt.TypeProtoDelim), nopLogger())))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	want, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d families, want %d", len(got), len(want))
	}
	for name, mf := range want {
		if got[name] == nil || asText(t, got[name]) != asText(t, mf) {
			t.Errorf("%s: got %v", name, got[name])
		}
	}
}

// blockingGatherer holds every scrape in Gather until released, so that a
// test knows how many are in flight.
type blockingGatherer struct {
	entered chan struct{}
	release chan struct{}
}

func (g blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.entered <- struct{}{}
	<-g.release
	return nil, nil
}

// --web.max-requests bounds the scrapes in flight, of all formats together;
// the ones past it are answered 503 at once. 0 means no limit.
func TestHandlerMaxRequests(t *testing.T) {
	formats := []string{"", acceptProtobuf, acceptOpenMetrics}
	for _, c := range []struct{ limit, scrapes, rejected int }{
		{limit: 3, scrapes: 3 + 4, rejected: 4},
		{limit: 1, scrapes: 1 + 2, rejected: 2},
		{limit: 0, scrapes: 20, rejected: 0},
	} {
		t.Run(fmt.Sprint(c.limit), func(t *testing.T) {
			p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), nil)
			g := blockingGatherer{entered: make(chan struct{}, c.scrapes), release: make(chan struct{})}
			h := p.Handler(g, nopLogger(), c.limit)
			release := sync.OnceFunc(func() { close(g.release) })
			defer release()
			admitted := c.scrapes - c.rejected
			codes := make(chan int, c.scrapes)
			var wg sync.WaitGroup
			for i := range admitted {
				wg.Go(func() {
					resp, _ := scrape(t, h, formats[i%len(formats)], "gzip")
					codes <- resp.StatusCode
				})
			}
			for range admitted {
				select {
				case <-g.entered:
				case <-time.After(5 * time.Second):
					t.Fatal("fewer scrapes in flight than the limit allows")
				}
			}
			for i := range c.rejected {
				type answer struct {
					code int
					body string
				}
				answered := make(chan answer, 1)
				go func() {
					resp, body := scrape(t, h, formats[i%len(formats)], "gzip")
					answered <- answer{resp.StatusCode, string(body)}
				}()
				select {
				case a := <-answered:
					if want := fmt.Sprintf("Too many concurrent scrapes (limit %d), try again later.\n", c.limit); a.code != http.StatusServiceUnavailable || a.body != want {
						t.Errorf("scrape %d past the limit: %d %q", admitted+i+1, a.code, a.body)
					}
				case <-time.After(2 * time.Second):
					release()
					t.Fatalf("scrape %d past the limit (%q) was let in", admitted+i+1, formats[i%len(formats)])
				}
			}
			release()
			wg.Wait()
			close(codes)
			for code := range codes {
				if code != http.StatusOK {
					t.Errorf("an admitted scrape answered %d", code)
				}
			}
			// The slots are free again (release stays closed).
			if resp, _ := scrape(t, h, acceptProtobuf, ""); resp.StatusCode != http.StatusOK {
				t.Errorf("after the burst: %d", resp.StatusCode)
			}
		})
	}
}

// Prometheus gets the stored text unless it asks for protobuf first;
// OpenMetrics goes only to a client that does not take text.
func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   expfmt.FormatType
	}{
		{"", expfmt.TypeTextPlain},
		{"*/*", expfmt.TypeTextPlain},
		{acceptPrometheus2, expfmt.TypeTextPlain},
		{acceptPrometheus3, expfmt.TypeTextPlain},
		{acceptNativeHistos, expfmt.TypeProtoDelim},
		{acceptProtobuf, expfmt.TypeProtoDelim},
		{acceptOpenMetrics, expfmt.TypeOpenMetrics},
		{"application/openmetrics-text;version=0.0.1", expfmt.TypeOpenMetrics},
		{"application/openmetrics-text; version=1.0.0, text/plain;q=0", expfmt.TypeOpenMetrics},
		{"application/json", expfmt.TypeTextPlain},
	} {
		h := http.Header{}
		h.Set("Accept", c.accept)
		if got := negotiate(h).FormatType(); got != c.want {
			t.Errorf("Accept %q: %v, want %v", c.accept, got, c.want)
		}
	}
}
