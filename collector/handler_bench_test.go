package collector

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// syntheticPlacementText is the text of a Placement snapshot of n providers
// in the real families' shape (collector/testdata/placement-cloud.prom):
// info, generation, seven inventory families and usage for three classes,
// two traits and one aggregate per provider, grouped by family.
func syntheticPlacementText(n int) []byte {
	var b bytes.Buffer
	uuid := func(i int) string { return fmt.Sprintf("10000000-0000-4000-8000-%012d", i) }
	family := func(name, help string, labels func(i int, class string) string, value func(i int, class string) float64, classes ...string) {
		fmt.Fprintf(&b, "# HELP openstack_placement_%s %s\n# TYPE openstack_placement_%s gauge\n", name, help, name)
		if len(classes) == 0 {
			classes = []string{""}
		}
		for i := range n {
			for _, class := range classes {
				fmt.Fprintf(&b, "openstack_placement_%s{%s} %s\n", name, labels(i, class), strconv.FormatFloat(value(i, class), 'g', -1, 64))
			}
		}
	}
	nameUUID := func(i int, _ string) string { return fmt.Sprintf(`name="compute-%05d",uuid="%s"`, i, uuid(i)) }
	byClass := func(i int, class string) string {
		return fmt.Sprintf(`name="compute-%05d",resource_class="%s",uuid="%s"`, i, class, uuid(i))
	}
	classes := []string{"DISK_GB", "MEMORY_MB", "VCPU"}
	family("resource_provider_info", "A resource provider and its place in its provider tree.",
		func(i int, _ string) string {
			return fmt.Sprintf(`name="compute-%05d",parent_provider_uuid="",root_provider_uuid="%s",uuid="%s"`, i, uuid(i), uuid(i))
		}, func(int, string) float64 { return 1 })
	family("resource_provider_generation", "Generation of the resource provider.", nameUUID, func(i int, _ string) float64 { return float64(i % 97) })
	for _, inv := range []string{"inventory_total_units", "inventory_reserved", "inventory_allocation_ratio", "inventory_min_unit",
		"inventory_max_unit", "inventory_step_size", "capacity"} {
		family("resource_provider_"+inv, "Inventory field "+inv+" of the resource class.", byClass,
			func(i int, class string) float64 { return float64(len(class)*1000 + i%512) }, classes...)
	}
	family("resource_provider_usage", "Amount of the resource class allocated to consumers.", byClass,
		func(i int, class string) float64 { return float64(i % (len(class) * 10)) }, classes...)
	family("resource_provider_trait_info", "The provider has the trait.",
		func(i int, trait string) string {
			return fmt.Sprintf(`name="compute-%05d",trait="%s",uuid="%s"`, i, trait, uuid(i))
		}, func(int, string) float64 { return 1 }, "CUSTOM_GOLD", "CUSTOM_SSD")
	family("resource_provider_aggregate_info", "The provider is a member of the aggregate.",
		func(i int, _ string) string {
			return fmt.Sprintf(`aggregate_uuid="20000000-0000-4000-8000-%012d",name="compute-%05d",uuid="%s"`, i%20, i, uuid(i))
		}, func(int, string) float64 { return 1 })
	return b.Bytes()
}

func gzipped(text []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed) // as encodeSnapshot
	_, _ = zw.Write(text)
	_ = zw.Close()
	return b.Bytes()
}

// benchServer is /metrics over a stored synthetic snapshot of n providers,
// with the exporter's own registry as main.go builds it.
func benchServer(n int) (*Poller, http.Handler, []byte, int) {
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"placement": &fakeCollector{}})
	text := syntheticPlacementText(n)
	samples := bytes.Count(text, []byte("\n")) - 2*bytes.Count(text, []byte("\n# TYPE "))
	stored := gzipped(text)
	p.snapshots["placement"] = &snapshot{gzipped: stored, success: true}
	reg := prometheus.NewRegistry()
	reg.MustRegister(p, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p, p.Handler(reg, nopLogger(), 0), stored, samples
}

func benchScrape(b *testing.B, h http.Handler, accept string) int {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	return rec.Body.Len()
}

// BenchmarkServeMetrics: one scrape of /metrics (gzip, as Prometheus asks)
// of a 10,000 and a 100,000-provider Placement snapshot: in the text format
// (the stored bytes); in protobuf the first scrape of a snapshot (it
// converts the snapshot) and the later ones (they serve the conversion).
// protobuf-first also reports how much the process's peak RSS rose during
// the scrape (Linux: /proc/self/clear_refs resets the peak).
func BenchmarkServeMetrics(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		p, h, stored, samples := benchServer(n)
		b.Run(fmt.Sprintf("providers=%d/text", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				size = benchScrape(b, h, acceptPrometheus2)
			}
			b.ReportMetric(float64(size), "bytes/scrape")
			b.ReportMetric(float64(samples), "snapshot-samples")
		})
		b.Run(fmt.Sprintf("providers=%d/protobuf-first", n), func(b *testing.B) {
			var size int
			var peak float64
			for b.Loop() {
				p.mu.Lock()
				p.snapshots["placement"] = &snapshot{gzipped: stored, success: true} // a new poll
				p.mu.Unlock()
				if rise, ok := peakRSSRise(func() { size = benchScrape(b, h, acceptNativeHistos) }); ok {
					peak = max(peak, rise)
				}
			}
			b.ReportMetric(float64(size), "bytes/scrape")
			if peak > 0 {
				b.ReportMetric(peak/(1<<20), "peak-RSS-rise-MiB")
			}
		})
		b.Run(fmt.Sprintf("providers=%d/protobuf-repeat", n), func(b *testing.B) {
			benchScrape(b, h, acceptNativeHistos)
			var size int
			for b.Loop() {
				size = benchScrape(b, h, acceptNativeHistos)
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}

// peakRSSRise runs f and returns how far the process's resident memory
// peaked above what it was before, after returning freed memory to the OS.
func peakRSSRise(f func()) (float64, bool) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, false
	}
	before, ok := procStatus("VmRSS:")
	if !ok {
		return 0, false
	}
	f()
	peak, ok := procStatus("VmHWM:")
	runtime.KeepAlive(f)
	return peak - before, ok
}

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(field string) (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}
