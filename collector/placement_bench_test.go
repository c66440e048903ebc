package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// syntheticPlacement serves a cloud of n providers (every third a root with
// the next two as its children) in the body shapes the real server records
// (testdata/placement/cloud-1.39.json), with a fixed latency per request
// like a real API on a LAN.
type syntheticPlacement struct {
	*httptest.Server
	list     []byte
	requests atomic.Int64
}

func newSyntheticPlacement(tb testing.TB, n int, latency time.Duration) *syntheticPlacement {
	s := &syntheticPlacement{}
	var b bytes.Buffer
	b.WriteString(`{"resource_providers": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		uuid := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		root, parent := uuid, "null"
		if i%3 != 0 {
			root = fmt.Sprintf("10000000-0000-4000-8000-%012d", i-i%3)
			parent = `"` + root + `"`
		}
		fmt.Fprintf(&b, `{"uuid": %q, "name": "node-%d", "generation": 4, "links": [{"rel": "self", "href": "/resource_providers/%[1]s"}, {"rel": "inventories", "href": "/resource_providers/%[1]s/inventories"}, {"rel": "usages", "href": "/resource_providers/%[1]s/usages"}, {"rel": "aggregates", "href": "/resource_providers/%[1]s/aggregates"}, {"rel": "traits", "href": "/resource_providers/%[1]s/traits"}, {"rel": "allocations", "href": "/resource_providers/%[1]s/allocations"}], "parent_provider_uuid": %[3]s, "root_provider_uuid": %[4]q}`,
			uuid, i, parent, root)
	}
	b.WriteString(`]}`)
	s.list = b.Bytes()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		switch {
		case p == "/":
			fmt.Fprint(w, `{"versions": [{"id": "v1.0", "max_version": "1.39", "min_version": "1.0", "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]}`)
		case p == "/resource_providers":
			_, _ = w.Write(s.list)
		case strings.HasSuffix(p, "/inventories"):
			fmt.Fprint(w, `{"resource_provider_generation": 4, "inventories": {"DISK_GB": {"total": 1000, "reserved": 10, "min_unit": 1, "max_unit": 1000, "step_size": 1, "allocation_ratio": 1.1}, "MEMORY_MB": {"total": 65536, "reserved": 512, "min_unit": 1, "max_unit": 65536, "step_size": 1, "allocation_ratio": 1.5}, "VCPU": {"total": 16, "reserved": 2, "min_unit": 1, "max_unit": 16, "step_size": 1, "allocation_ratio": 16.0}}}`)
		case strings.HasSuffix(p, "/usages"):
			fmt.Fprint(w, `{"resource_provider_generation": 4, "usages": {"DISK_GB": 20, "MEMORY_MB": 4096, "VCPU": 4}}`)
		case strings.HasSuffix(p, "/traits"):
			fmt.Fprint(w, `{"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"], "resource_provider_generation": 4}`)
		case strings.HasSuffix(p, "/aggregates"):
			fmt.Fprint(w, `{"aggregates": ["20000000-0000-4000-8000-000000000001"], "resource_provider_generation": 4}`)
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(s.Close)
	return s
}

func benchCollector(b *testing.B, srv *syntheticPlacement) *placementCollector {
	c, err := newPlacementCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"placement": srv.URL}, 30*time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	return c.(*placementCollector)
}

const benchProviders = 2000

// BenchmarkPlacementFirstPoll: a cold cache fetches every sub-resource,
// with bounded concurrency, at 1 ms latency per request.
func BenchmarkPlacementFirstPoll(b *testing.B) {
	srv := newSyntheticPlacement(b, benchProviders, time.Millisecond)
	cfg := mustConfig(b, "placement:\n  concurrency: 8\n")
	for b.Loop() {
		c := benchCollector(b, srv)
		srv.requests.Store(0)
		if _, err := poll(b, c, cfg); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(srv.requests.Load()), "requests/poll")
	}
}

// BenchmarkPlacementSteadyPoll: nothing changed since the last poll and
// usages are off, so a poll is the list alone: O(1) requests. The time
// includes building and encoding the snapshot, as the Poller does.
func BenchmarkPlacementSteadyPoll(b *testing.B) {
	srv := newSyntheticPlacement(b, benchProviders, time.Millisecond)
	c := benchCollector(b, srv)
	p := NewPoller(nopLogger(), NewSafeConfig(mustConfig(b, "placement:\n  metrics: {usage: false}\n")), map[string]Collector{"placement": c})
	p.PollOnce(context.Background(), "placement", c)
	for b.Loop() {
		srv.requests.Store(0)
		p.PollOnce(context.Background(), "placement", c)
		if !p.snapshots["placement"].success {
			b.Fatal("poll failed")
		}
		b.ReportMetric(float64(srv.requests.Load()), "requests/poll")
	}
}

// BenchmarkPlacementServeMetrics: what one scrape of /metrics costs for the
// 2,000-provider snapshot (all families on), through promhttp as served.
func BenchmarkPlacementServeMetrics(b *testing.B) {
	srv := newSyntheticPlacement(b, benchProviders, 0)
	c := benchCollector(b, srv)
	cfg := NewSafeConfig(mustConfig(b, "placement:\n  interval: 1h\n"))
	p := NewPoller(nopLogger(), cfg, map[string]Collector{"placement": c})
	p.PollOnce(context.Background(), "placement", c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(p)
	handler := p.Handler(reg, nopLogger(), 1)
	// As Prometheus asks: text format, gzip.
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	uncompressed, err := io.Copy(io.Discard, p.snapshots["placement"].text())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(uncompressed), "uncompressed-bytes")
}

// BenchmarkPlacementListRequest: one GET /resource_providers of the same
// 2,000 providers, made and decoded by the exporter (no server latency):
// the yardstick the scrape cost is compared with.
func BenchmarkPlacementListRequest(b *testing.B) {
	srv := newSyntheticPlacement(b, benchProviders, 0)
	c := benchCollector(b, srv)
	sc, err := c.session.ServiceClient(context.Background(), "placement")
	if err != nil {
		b.Fatal(err)
	}
	if err := c.discover(context.Background(), sc); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(srv.list)), "bytes/list")
	for b.Loop() {
		if _, err := c.listProviders(context.Background(), sc, nil, "list_resource_providers"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlacementRetainedMemory10k: what a 10,000-provider cloud keeps
// in memory between polls (cache and stored snapshot), after a GC.
func BenchmarkPlacementRetainedMemory10k(b *testing.B) {
	srv := newSyntheticPlacement(b, 10000, 0)
	c, err := newPlacementCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"placement": srv.URL}, time.Minute)})
	if err != nil {
		b.Fatal(err)
	}
	p := NewPoller(nopLogger(), NewSafeConfig(mustConfig(b, "placement:\n  concurrency: 16\n  timeout: 5m\n")), map[string]Collector{"placement": c})
	for b.Loop() {
		p.PollOnce(context.Background(), "placement", c)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MB")
	b.ReportMetric(float64(len(p.snapshots["placement"].gzipped))/(1<<10), "snapshot-KB")
}
