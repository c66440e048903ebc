package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden .prom files from the current output")

// interaction is one recorded request and response of a real server (see
// e2e/placement/README.md for how the cassettes are recorded).
type interaction struct {
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	Query           string            `json:"query"`
	Headers         map[string]string `json:"headers"`
	Status          int               `json:"status"`
	ResponseHeaders map[string]string `json:"response_headers"`
	Body            string            `json:"body"`
	Edited          bool              `json:"edited"`
}

type cassette struct {
	RecordedFrom string        `json:"recorded_from"`
	Notes        string        `json:"notes"`
	Interactions []interaction `json:"interactions"`
}

func loadCassette(t testing.TB, path string) []interaction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c cassette
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c.Interactions
}

// fixtureServer replays cassettes. Requests are matched on method, path,
// query parameters (order of repeated keys included) and, where recorded,
// the microversion header. Tests can swap cassettes between polls and
// inject faults with handle.
type fixtureServer struct {
	*httptest.Server
	t testing.TB

	mu           sync.Mutex
	interactions []interaction
	counts       map[string]int // "METHOD /path?query" -> requests
	unmatched    []string
	// handle, when set, may answer a request itself (fault injection).
	handle func(w http.ResponseWriter, r *http.Request) bool
}

func newFixtureServer(t testing.TB, cassettes ...string) *fixtureServer {
	s := &fixtureServer{t: t, counts: map[string]int{}}
	s.load(cassettes...)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.unmatched) > 0 {
			t.Errorf("requests with no recorded response: %s", strings.Join(s.unmatched, "; "))
		}
	})
	return s
}

func (s *fixtureServer) load(cassettes ...string) {
	var all []interaction
	for _, c := range cassettes {
		all = append(all, loadCassette(s.t, c)...)
	}
	s.mu.Lock()
	s.interactions = all
	s.mu.Unlock()
}

func (s *fixtureServer) setHandler(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.handle = h
	s.mu.Unlock()
}

func (s *fixtureServer) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.Query().Encode()
	}
	s.mu.Lock()
	s.counts[key]++
	handle := s.handle
	s.mu.Unlock()
	if handle != nil && handle(w, r) {
		return
	}
	if it := s.match(r); it != nil {
		for k, v := range it.ResponseHeaders {
			w.Header().Set(k, v)
		}
		w.WriteHeader(it.Status)
		_, _ = w.Write([]byte(it.Body))
		return
	}
	s.mu.Lock()
	s.unmatched = append(s.unmatched, key+" ("+r.Header.Get("OpenStack-API-Version")+r.Header.Get("X-OpenStack-Manila-API-Version")+")")
	s.mu.Unlock()
	http.Error(w, "no recorded response", http.StatusTeapot)
}

func (s *fixtureServer) match(r *http.Request) *interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	query := r.URL.Query()
	for i := range s.interactions {
		it := &s.interactions[i]
		if it.Method != r.Method || it.Path != r.URL.Path {
			continue
		}
		recorded, err := parseQuery(it.Query)
		if err != nil || !reflect.DeepEqual(recorded, query) {
			continue
		}
		headersMatch := true
		for k, v := range it.Headers {
			if r.Header.Get(k) != v {
				headersMatch = false
			}
		}
		if headersMatch {
			return it
		}
	}
	return nil
}

func parseQuery(raw string) (url.Values, error) {
	req, err := http.NewRequest(http.MethodGet, "http://x/?"+raw, nil)
	if err != nil {
		return nil, err
	}
	return req.URL.Query(), nil
}

// requests returns how many requests were made, by kind, and resets.
func (s *fixtureServer) requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.counts
	s.counts = map[string]int{}
	return out
}

// countMatching sums the requests whose key contains every part.
func countMatching(counts map[string]int, parts ...string) int {
	n := 0
	for k, v := range counts {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(k, p)
		}
		if all {
			n += v
		}
	}
	return n
}

func describeCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %d %s\n", counts[k], k)
	}
	return b.String()
}

// testSession is a token-less session whose endpoints all point at srv, as
// a clouds.yaml with admin_token and endpoint overrides would give.
func testSession(overrides map[string]string, timeout time.Duration) *openstack.Session {
	return openstack.NewSession(&openstack.Cloud{
		Name:              "test",
		AuthType:          openstack.AuthTypeAdminToken,
		StaticToken:       "admin:0123456789abcdef0123456789abcdef",
		EndpointOverrides: overrides,
		TLS:               &tls.Config{MinVersion: tls.VersionTLS12},
	}, openstack.NewAPIMetrics(), openstack.Limits{RequestTimeout: timeout})
}

// poll runs one Update without a deadline.
func poll(t testing.TB, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	return collect(t, context.Background(), c, cfg)
}

// collect runs one Update and returns what it sent. It also encodes that as
// the Poller does and checks that the snapshot holds exactly those metrics:
// each family sent together, no series refused.
func collect(t testing.TB, ctx context.Context, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	var sent []prometheus.Metric
	err := update(ctx, c, cfg, func(m prometheus.Metric) { sent = append(sent, m) })
	var problems strings.Builder
	enc := newSnapshotEncoder(log.NewLogfmtLogger(&problems), true)
	for _, m := range sent {
		enc.add(m)
	}
	s := &snapshot{}
	s.gzipped, s.proto = enc.finish()
	if problems.Len() > 0 {
		t.Errorf("the snapshot encoder refused metrics of the poll:\n%s", problems.String())
	}
	if err := testutil.CollectAndCompare(replay(sent), s.text()); err != nil {
		t.Errorf("the snapshot differs from the metrics sent: %v", err)
	}
	assertSameFamilies(t, decodeSnapshot(t, s.gzipped, expfmt.NewFormat(expfmt.TypeTextPlain)),
		decodeSnapshot(t, s.proto, expfmt.NewFormat(expfmt.TypeProtoDelim)))
	return sent, err
}

// decodeSnapshot reads a gzip-compressed exposition in format.
func decodeSnapshot(t testing.TB, gzipped []byte, format expfmt.Format) []*dto.MetricFamily {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gzipped))
	if err != nil {
		t.Fatal(err)
	}
	dec := expfmt.NewDecoder(zr, format)
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding the %s snapshot: %v", format, err)
		}
		out = append(out, mf)
	}
	return out
}

// assertSameFamilies compares two expositions family by family, in any
// order of families and samples.
func assertSameFamilies(t testing.TB, text, pb []*dto.MetricFamily) {
	t.Helper()
	normalize := func(fams []*dto.MetricFamily) map[string]*dto.MetricFamily {
		out := map[string]*dto.MetricFamily{}
		for _, mf := range fams {
			sort.Slice(mf.Metric, func(i, j int) bool { return mf.Metric[i].String() < mf.Metric[j].String() })
			out[mf.GetName()] = mf
		}
		return out
	}
	a, b := normalize(text), normalize(pb)
	if len(a) != len(b) {
		t.Errorf("text has %d families, protobuf %d", len(a), len(b))
	}
	for name, mf := range a {
		if !proto.Equal(mf, b[name]) {
			t.Errorf("family %s differs:\n text: %v\nproto: %v", name, mf, b[name])
		}
	}
}

// replay serves a fixed set of metrics, so that comparing against a golden
// file does not poll again.
type replay []prometheus.Metric

func (r replay) Describe(chan<- *prometheus.Desc) {}
func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// exposition renders metrics (of the named families, or all) as text.
func exposition(t testing.TB, metrics []prometheus.Metric, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(replay(metrics))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range families {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// assertGolden compares metrics with testdata/<name>.prom; -update rewrites it.
func assertGolden(t *testing.T, metrics []prometheus.Metric, name string) {
	t.Helper()
	path := filepath.Join("testdata", name+".prom")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(exposition(t, metrics)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(replay(metrics), f); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

func nopLogger() log.Logger { return log.NewNopLogger() }
