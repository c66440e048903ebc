package collector

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// syntheticPlacement serves a cloud of n providers (every third a root with
// the next two as its children) in the body shapes the real server records
// (testdata/placement/cloud-1.39.json), with a fixed latency per request
// like a real API on a LAN. Each provider has one of customTraits custom
// traits (CUSTOM_TRAIT_<i mod customTraits>) beside two standard ones, and
// GET /traits lists those and 300 standard traits, as a real server lists
// all of os-traits. bump moves generations, as allocation changes do.
type syntheticPlacement struct {
	*httptest.Server
	customTraits int
	maxVersion   string
	// onRequest, when set, runs before each request is answered.
	onRequest func()

	mu          sync.Mutex
	generations []int64
	list        []byte
	next        int // the provider bump moves next
	counts      map[string]int
}

func newSyntheticPlacement(tb testing.TB, n int, latency time.Duration) *syntheticPlacement {
	s := &syntheticPlacement{customTraits: 10, maxVersion: "1.39", generations: make([]int64, n), counts: map[string]int{}}
	for i := range s.generations {
		s.generations[i] = 4
	}
	s.list = s.providers(func(int) bool { return true })
	s.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &countingWriter{ResponseWriter: rw}
		defer func() { s.mu.Lock(); s.counts["bytes"] += w.n; s.mu.Unlock() }()
		if s.onRequest != nil {
			s.onRequest()
		}
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.Path
		kind := p
		if i := strings.LastIndexByte(p, '/'); strings.HasPrefix(p, "/resource_providers/") {
			kind = p[i:]
		}
		if r.URL.Query().Has("required") {
			kind = "required"
		}
		s.mu.Lock()
		s.counts[kind]++
		s.mu.Unlock()
		switch {
		case p == "/":
			fmt.Fprintf(w, `{"versions": [{"id": "v1.0", "max_version": %q, "min_version": "1.0", "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]}`, s.maxVersion)
		case p == "/traits":
			_, _ = w.Write(s.traitList())
		case p == "/resource_providers" && kind == "required":
			want := r.URL.Query().Get("required")
			_, _ = w.Write(s.providers(func(i int) bool { return s.customTrait(i) == want }))
		case p == "/resource_providers":
			s.mu.Lock()
			list := s.list
			s.mu.Unlock()
			_, _ = w.Write(list)
		default:
			i, ok := s.index(p)
			if !ok {
				http.NotFound(w, r)
				return
			}
			s.mu.Lock()
			g := s.generations[i]
			s.mu.Unlock()
			switch kind {
			case "/inventories":
				fmt.Fprintf(w, `{"resource_provider_generation": %d, "inventories": {"DISK_GB": {"total": 1000, "reserved": 10, "min_unit": 1, "max_unit": 1000, "step_size": 1, "allocation_ratio": 1.1}, "MEMORY_MB": {"total": 65536, "reserved": 512, "min_unit": 1, "max_unit": 65536, "step_size": 1, "allocation_ratio": 1.5}, "VCPU": {"total": 16, "reserved": 2, "min_unit": 1, "max_unit": 16, "step_size": 1, "allocation_ratio": 16.0}}}`, g)
			case "/usages":
				fmt.Fprintf(w, `{"resource_provider_generation": %d, "usages": {"DISK_GB": 20, "MEMORY_MB": 4096, "VCPU": 4}}`, g)
			case "/traits":
				fmt.Fprintf(w, `{"traits": [%q, "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"], "resource_provider_generation": %d}`, s.customTrait(i), g)
			case "/aggregates":
				fmt.Fprintf(w, `{"aggregates": ["20000000-0000-4000-8000-000000000001"], "resource_provider_generation": %d}`, g)
			default:
				http.NotFound(w, r)
			}
		}
	}))
	tb.Cleanup(s.Close)
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += n
	return n, err
}

func syntheticUUID(i int) string { return fmt.Sprintf("10000000-0000-4000-8000-%012d", i) }

func (s *syntheticPlacement) index(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "/resource_providers/10000000-0000-4000-8000-")
	if !ok || len(rest) < 12 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:12])
	return i, err == nil && i < len(s.generations)
}

func (s *syntheticPlacement) customTrait(i int) string {
	return fmt.Sprintf("CUSTOM_TRAIT_%d", i%s.customTraits)
}

func (s *syntheticPlacement) traitList() []byte {
	var b bytes.Buffer
	b.WriteString(`{"traits": ["HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"`)
	for i := 0; i < 298; i++ {
		fmt.Fprintf(&b, `, "HW_STANDARD_%d"`, i)
	}
	for i := 0; i < s.customTraits; i++ {
		fmt.Fprintf(&b, `, "CUSTOM_TRAIT_%d"`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// providers encodes the list of the providers that match.
func (s *syntheticPlacement) providers(match func(int) bool) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	b.WriteString(`{"resource_providers": [`)
	first := true
	for i, g := range s.generations {
		if !match(i) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		uuid := syntheticUUID(i)
		root, parent := uuid, "null"
		if i%3 != 0 {
			root = syntheticUUID(i - i%3)
			parent = `"` + root + `"`
		}
		fmt.Fprintf(&b, `{"uuid": %q, "name": "node-%d", "generation": %d, "links": [{"rel": "self", "href": "/resource_providers/%[1]s"}, {"rel": "inventories", "href": "/resource_providers/%[1]s/inventories"}, {"rel": "usages", "href": "/resource_providers/%[1]s/usages"}, {"rel": "aggregates", "href": "/resource_providers/%[1]s/aggregates"}, {"rel": "traits", "href": "/resource_providers/%[1]s/traits"}, {"rel": "allocations", "href": "/resource_providers/%[1]s/allocations"}], "parent_provider_uuid": %[4]s, "root_provider_uuid": %[5]q}`,
			uuid, i, g, parent, root)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// bump moves the generation of k providers, the next ones in turn, as k
// allocation changes would.
func (s *syntheticPlacement) bump(k int) {
	s.mu.Lock()
	for ; k > 0; k-- {
		s.generations[s.next]++
		s.next = (s.next + 1) % len(s.generations)
	}
	s.mu.Unlock()
	list := s.providers(func(int) bool { return true })
	s.mu.Lock()
	s.list = list
	s.mu.Unlock()
}

// requests returns the requests since the last call, by kind: the path of
// a top-level resource ("/resource_providers", "/traits"), the last path
// element of a sub-resource ("/usages"), "required" for a list by trait;
// and under "bytes" the response bytes sent.
func (s *syntheticPlacement) requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.counts
	s.counts = map[string]int{}
	return out
}

// total sums the requests of counts.
func total(counts map[string]int) int {
	n := 0
	for kind, v := range counts {
		if kind != "bytes" {
			n += v
		}
	}
	return n
}

// pollQuiet runs one Update and drops its metrics: for polls whose output
// is not under test, at a scale where checking it would cost seconds.
func pollQuiet(tb testing.TB, c Collector, cfg *Config) error {
	tb.Helper()
	ch := make(chan prometheus.Metric, 256)
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	err := c.Update(context.Background(), cfg, ch)
	close(ch)
	<-done
	return err
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
		srv.requests()
		if _, err := poll(b, c, cfg); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(total(srv.requests())), "requests/poll")
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
		srv.requests()
		p.PollOnce(context.Background(), "placement", c)
		if !p.snapshots["placement"].success {
			b.Fatal("poll failed")
		}
		b.ReportMetric(float64(total(srv.requests())), "requests/poll")
	}
}

// BenchmarkPlacementRequests10k counts the requests per poll of a
// 10,000-provider cloud with 10 custom traits and every family on (usages
// included; interval 1m, usages_max_age 5m, aggregates_max_age 10m), for
// the two ways of reading traits: one GET per provider (a server below
// microversion 1.18), and at 1.39 one list per custom trait whenever that
// costs less (always on the cold poll, from about 170 due providers on
// here). "cold" is the
// first poll; "steady" a poll once the periodic re-reads are spread out
// (after 15 simulated minutes), with churn providers per poll moving their
// generation as allocation changes do. max-requests/poll is the largest
// poll of the measured ones.
func BenchmarkPlacementRequests10k(b *testing.B) {
	const n = 10000
	cfg := mustConfig(b, "placement:\n  concurrency: 16\n  timeout: 5m\n")
	for _, design := range []struct{ name, maxVersion string }{{"per-provider-traits", "1.17"}, {"traits-by-list", "1.39"}} {
		srv := newSyntheticPlacement(b, n, 0)
		srv.maxVersion = design.maxVersion
		b.Run(design.name+"/cold", func(b *testing.B) {
			for b.Loop() {
				c := benchCollector(b, srv)
				srv.requests()
				if err := pollQuiet(b, c, cfg); err != nil {
					b.Fatal(err)
				}
				counts := srv.requests()
				b.ReportMetric(float64(total(counts)), "requests/poll")
				b.ReportMetric(float64(counts["bytes"])/(1<<20), "MB/poll")
			}
		})
		for _, churn := range []int{0, 100, 1000} {
			b.Run(fmt.Sprintf("%s/steady-churn-%d", design.name, churn), func(b *testing.B) {
				c := benchCollector(b, srv)
				now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
				c.now = func() time.Time { return now }
				step := func() map[string]int {
					srv.bump(churn)
					srv.requests()
					if err := pollQuiet(b, c, cfg); err != nil {
						b.Fatal(err)
					}
					now = now.Add(time.Minute)
					return srv.requests()
				}
				for range 16 {
					step()
				}
				polls, requests, usages, most, bytes := 0, 0, 0, 0, 0
				for b.Loop() {
					counts := step()
					polls++
					requests += total(counts)
					usages += counts["/usages"]
					bytes += counts["bytes"]
					most = max(most, total(counts))
				}
				b.ReportMetric(float64(requests)/float64(polls), "requests/poll")
				b.ReportMetric(float64(bytes)/float64(polls)/(1<<20), "MB/poll")
				b.ReportMetric(float64(usages)/float64(polls), "usage-requests/poll")
				b.ReportMetric(float64(most), "max-requests/poll")
			})
		}
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
	b.ReportMetric(float64(len(srv.providers(func(int) bool { return true }))), "bytes/list")
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
