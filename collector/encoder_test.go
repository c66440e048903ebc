package collector

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

var (
	escapeFamily = newGaugeFamily("escape_test", "Help with a \\ backslash\nand a newline.", []string{"b_label", "a_label"})
	otherDesc    = prometheus.NewDesc("other_test_total", "A counter through client_golang's model.", []string{"k"}, nil)
)

// What the encoder writes by hand must read back as client_golang writes
// it: escaping, label order, special values, counters; and what it refuses
// is dropped and said, while the rest is served.
func TestSnapshotEncoderText(t *testing.T) {
	var logged strings.Builder
	enc := newSnapshotEncoder(logfmtTo(&logged), true)
	for _, m := range []prometheus.Metric{
		escapeFamily.sample(1, `quote " and \ and`+"\nnewline", "x"),
		escapeFamily.sample(math.Inf(1), "inf", "x"),
		escapeFamily.sample(math.Inf(-1), "-inf", "x"),
		escapeFamily.sample(-1, "minus one", "x"),
		escapeFamily.sample(0.1, "tenth", "x"),
		escapeFamily.sample(2, "inf", "x"),            // the same series again
		escapeFamily.sample(3, "bad \xff utf-8", "x"), // invalid UTF-8
		prometheus.MustNewConstMetric(otherDesc, prometheus.CounterValue, 42, "v"),
		escapeFamily.sample(4, "late", "x"), // the family again, after another
	} {
		enc.add(m)
	}
	text, proto := enc.finish()
	s := &snapshot{gzipped: text, proto: proto}
	raw := readAll(t, s)
	want := `# HELP escape_test Help with a \\ backslash\nand a newline.
# TYPE escape_test gauge
escape_test{a_label="x",b_label="quote \" and \\ and\nnewline"} 1
escape_test{a_label="x",b_label="inf"} +Inf
escape_test{a_label="x",b_label="-inf"} -Inf
escape_test{a_label="x",b_label="minus one"} -1
escape_test{a_label="x",b_label="tenth"} 0.1
# HELP other_test_total A counter through client_golang's model.
# TYPE other_test_total counter
other_test_total{k="v"} 42
`
	if raw != want {
		t.Errorf("got:\n%s\nwant:\n%s", raw, want)
	}
	for _, want := range []string{"a series was sent twice", "not valid UTF-8", "sent in two parts"} {
		if strings.Count(logged.String(), want) != 1 {
			t.Errorf("%q logged %d times:\n%s", want, strings.Count(logged.String(), want), logged.String())
		}
	}
	assertSameFamilies(t, decodeSnapshot(t, s.gzipped, expfmt.NewFormat(expfmt.TypeTextPlain)),
		decodeSnapshot(t, s.proto, expfmt.NewFormat(expfmt.TypeProtoDelim)))
}

func readAll(t *testing.T, s *snapshot) string {
	t.Helper()
	b, err := io.ReadAll(s.text())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Once a scrape asked for protobuf, the polls write it themselves and the
// handler serves that, converting nothing.
func TestPollerWritesProtobufOnceAsked(t *testing.T) {
	c := &fakeCollector{}
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": c})
	p.PollOnce(context.Background(), "fake", c)
	if p.snapshots["fake"].proto != nil {
		t.Fatal("protobuf written before any scrape asked for it")
	}
	handler := p.Handler(prometheus.NewRegistry(), nopLogger(), 0)
	scrape := func() string {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "protobuf") {
			t.Fatalf("scrape: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		return rec.Body.String()
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") || s0(p).converted.byFormat != nil {
		t.Fatalf("before a poll wrote protobuf: %s, conversions %v; want text, which the client takes too, and none", rec.Header().Get("Content-Type"), s0(p).converted.byFormat)
	}
	p.PollOnce(context.Background(), "fake", c)
	first := scrape()
	p.PollOnce(context.Background(), "fake", c)
	s := p.snapshots["fake"]
	if s.proto == nil {
		t.Fatal("the poll after a protobuf scrape wrote no protobuf")
	}
	if s.converted.byFormat != nil {
		t.Fatal("a conversion exists before any scrape of this snapshot")
	}
	second := scrape()
	if s.converted.byFormat != nil {
		t.Error("the scrape converted the text although the poll wrote protobuf")
	}
	if first == second {
		t.Error("the second scrape served the first poll's value")
	}
	assertSameFamilies(t, decodeSnapshot(t, s.gzipped, expfmt.NewFormat(expfmt.TypeTextPlain)),
		decodeSnapshot(t, s.proto, expfmt.NewFormat(expfmt.TypeProtoDelim)))
}

func s0(p *Poller) *snapshot { return p.snapshots["fake"] }
