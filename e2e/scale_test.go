//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPlacementScale is the scripted run against the real Placement: 2,000
// providers, usages off. It asserts the request counts (the cost model) and
// reports the timings and memory; targets on those live in the README, not
// in assertions. E2E_SCALE_PROVIDERS overrides the size.
func TestPlacementScale(t *testing.T) {
	n := 2000
	if v := os.Getenv("E2E_SCALE_PROVIDERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "e2e/placement/start.sh")
	seedStart := time.Now()
	run(t, seedBin, "-endpoint", placementURL, "-concurrency", "4", "bulk", strconv.Itoa(n))
	t.Logf("seeded %d providers in %s", n, time.Since(seedStart).Round(time.Second))

	e := startExporter(t, placementClouds(), "placement:\n  interval: 10s\n  timeout: 5m\n  metrics: {usage: false}\n")
	requests := func(m metrics, op string) float64 {
		v, _ := m.value("openstack_capacity_exporter_api_requests_total", labels("service", "placement", "operation", op, "status_code", "200"))
		return v
	}
	// The first poll outlasts the 10 s interval, so the next starts right
	// after it: time it from start-up to the first complete snapshot.
	firstPoll := e.eventually(5*time.Minute, "first poll", expect("openstack_placement_resource_providers", nil, float64(n)))
	m := mustScrape(t, e)
	subresources := requests(m, "get_inventories") + requests(m, "get_traits") + requests(m, "get_aggregates")
	t.Logf("first poll: done %s after start-up, %d list + %d sub-resource requests", firstPoll.Round(100*time.Millisecond), int(requests(m, "list_resource_providers")), int(subresources))
	if subresources != float64(3*n) {
		t.Errorf("first poll made %v sub-resource requests, want %d", subresources, 3*n)
	}

	// Steady state: count requests between the ends of two polls, scraping
	// right after each poll ends (the next starts 10 s after).
	before := e.waitForPollEnd("placement")
	e.waitForPollEnd("placement")
	after := e.waitForPollEnd("placement")
	polls := 2
	total, totalBefore := totalRequests(after), totalRequests(before)
	steadyDuration, _ := after.value("openstack_capacity_exporter_collector_duration_seconds", labels("collector", "placement"))
	t.Logf("steady state: %v requests over %d polls; last poll %.3f s", total-totalBefore, polls, steadyDuration)
	if total-totalBefore != float64(polls) {
		t.Errorf("steady-state polls made %v requests for %d polls, want one each", total-totalBefore, polls)
	}

	// /metrics as Prometheus fetches it (gzip), against the list itself.
	scrapes := timeN(t, 20, func() {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
	})
	lists := timeN(t, 5, func() {
		req, _ := http.NewRequest(http.MethodGet, placementURL+"/resource_providers", nil)
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("OpenStack-API-Version", "placement 1.39")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
	})
	t.Logf("GET /metrics (gzip): median %s; GET /resource_providers: median %s", scrapes, lists)
	t.Logf("exporter peak RSS: %s", peakRSS(t, e.cmd.Process.Pid))
}

// waitForPollEnd waits for the collector's next successful poll to end and
// returns the scrape taken right after it.
func (e *exporter) waitForPollEnd(collector string) metrics {
	e.t.Helper()
	lastSuccess := func(m metrics) float64 {
		v, _ := m.value("openstack_capacity_exporter_collector_last_success_timestamp_seconds", labels("collector", collector))
		return v
	}
	before := lastSuccess(mustScrape(e.t, e))
	var got metrics
	e.eventually(40*time.Second, collector+" poll to end", func(m metrics) string {
		if lastSuccess(m) == before {
			return "waiting for the next poll to end"
		}
		got = m
		return ""
	})
	return got
}

// totalRequests sums the exporter's requests to OpenStack.
func totalRequests(m metrics) (n float64) {
	for _, metric := range m["openstack_capacity_exporter_api_requests_total"].GetMetric() {
		n += metric.GetCounter().GetValue()
	}
	return n
}

func drain(resp *http.Response) {
	buf := make([]byte, 64<<10)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	resp.Body.Close()
}

// timeN runs f n times and returns the median duration.
func timeN(t *testing.T, n int, f func()) time.Duration {
	t.Helper()
	var d []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		f()
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[n/2].Round(100 * time.Microsecond)
}

func peakRSS(t *testing.T, pid int) string {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// TestManilaScale: 1,000 pools on the real Manila (one host, two back
// ends), two queries. Asserts the request count per poll and reports the
// timings and memory.
func TestManilaScale(t *testing.T) {
	ensureManila(t)
	poolsFile := filepath.Join(envOr("MANILA_STATE_DIR", "/tmp/oce-e2e/manila"), "pools.json")
	original, err := os.ReadFile(poolsFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(poolsFile, original, 0o644)
		run(t, "e2e/manila/ctl.sh", "refresh", "120")
	})
	backends := map[string][]map[string]any{}
	for i := 0; i < 1000; i++ {
		backend := []string{"alpha", "beta"}[i%2]
		backends[backend] = append(backends[backend], map[string]any{
			"pool_name": fmt.Sprintf("p%04d", i), "total_capacity_gb": 1000, "free_capacity_gb": 500 + i%400,
			"allocated_capacity_gb": 100, "reserved_percentage": 5, "reserved_snapshot_percentage": 0, "reserved_share_extend_percentage": 0,
		})
	}
	data, err := json.Marshal(map[string]any{"rig-node1": backends, "rig-node10": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(poolsFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, "e2e/manila/ctl.sh", "refresh", "180")
	t.Logf("rig serves 1,000 pools after %s", time.Since(start).Round(time.Second))

	e := startExporter(t, bothClouds(), `manila:
  interval: 5s
  timeout: 30s
  queries:
    alpha: {backend: alpha}
    node1: {host: rig-node1, exact: true}
`, "--collector.manila", "--no-collector.placement")
	e.eventually(60*time.Second, "1,000 pools", all(
		expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "alpha"), 500),
		expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "beta"), 500),
		expect("openstack_manila_query_pools", labels("query", "alpha"), 500),
		expect("openstack_manila_query_pools", labels("query", "node1"), 1000),
	))
	before := e.waitForPollEnd("manila")
	after := e.waitForPollEnd("manila")
	if n := totalRequests(after) - totalRequests(before); n != 3 {
		t.Errorf("a poll made %v requests, want 3 (pools/detail and one per query)", n)
	}
	pollSeconds, _ := after.value("openstack_capacity_exporter_collector_duration_seconds", labels("collector", "manila"))
	scrape := timeN(t, 20, func() {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		drain(resp)
	})
	t.Logf("1,000 pools: %v requests per poll, poll %.3f s, GET /metrics (gzip) median %s, exporter peak RSS %s",
		totalRequests(after)-totalRequests(before), pollSeconds, scrape, peakRSS(t, e.cmd.Process.Pid))
}
