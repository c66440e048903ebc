//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var prometheusBin = envOr("PROMETHEUS_BIN", "/opt/oce-tools/prometheus/prometheus")

// promServer is Debian's Prometheus on loopback, scraping one exporter.
type promServer struct {
	t   *testing.T
	url string
}

// startPrometheus scrapes target every second with the repository's rule
// file, its "for" durations shortened to forDuration so alerts can be seen
// firing within a test.
func startPrometheus(t *testing.T, target, forDuration string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(repoRoot, "alerts", "openstack-capacity.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shortened := regexp.MustCompile(`(?m)^(\s+)for: \S+`).ReplaceAllString(string(rules), "${1}for: "+forDuration)
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(shortened), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: openstack-capacity
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cmd := exec.Command(prometheusBin, "--config.file=prometheus.yml", "--storage.tsdb.path=data",
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Dir = dir
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s (installed by .ci/install-promtool.sh): %v", prometheusBin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	p := &promServer{t: t, url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus not ready:\n%s", logs.String())
	return nil
}

type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
		Alerts     []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	} `json:"data"`
}

func (p *promServer) get(path string, params url.Values) promResult {
	p.t.Helper()
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		p.t.Fatal(err)
	}
	return r
}

func (p *promServer) query(expr string) promResult {
	return p.get("/api/v1/query", url.Values{"query": {expr}})
}

// firing lists the alerts in state firing whose labels include want.
func (p *promServer) firing(name string, want map[string]string) bool {
	for _, a := range p.get("/api/v1/alerts", nil).Data.Alerts {
		if a.Labels["alertname"] != name || a.State != "firing" {
			continue
		}
		match := true
		for k, v := range want {
			match = match && a.Labels[k] == v
		}
		if match {
			return true
		}
	}
	return false
}

func (p *promServer) waitFiring(within time.Duration, name string, want map[string]string) time.Duration {
	p.t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if p.firing(name, want) {
			return time.Since(start)
		}
		time.Sleep(500 * time.Millisecond)
	}
	p.t.Fatalf("alert %s%v did not fire within %s; alerts: %+v", name, want, within, p.get("/api/v1/alerts", nil).Data.Alerts)
	return 0
}

// dashboardQueries returns every target expression of every dashboard with
// the template variables set as an operator would pick them; fileVars
// overrides some per dashboard file (Manila and Cinder hosts differ).
// The dashboards that need the Nova, capacity and drift collectors:
// TestNovaFlavorSlots runs their queries, on the Nova rig.
var novaDashboards = []string{"capacity-planning.json"}

func dashboardQueries(t *testing.T, vars map[string]string, fileVars map[string]map[string]string, only ...string) map[string]string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if err != nil || len(all) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	var files []string
	for _, f := range all {
		if len(only) > 0 && slices.Contains(only, filepath.Base(f)) || len(only) == 0 && !slices.Contains(novaDashboards, filepath.Base(f)) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no dashboards among %v", only)
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	out := map[string]string{}
	var walk func(file string, vars map[string]string, ps []panel)
	walk = func(file string, vars map[string]string, ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					continue
				}
				expr := tg.Expr
				// Longest names first, so $root_provider does not eat $root_provider_uuid.
				names := make([]string, 0, len(vars))
				for k := range vars {
					names = append(names, k)
				}
				sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
				for _, k := range names {
					expr = strings.ReplaceAll(expr, "${"+k+"}", vars[k])
					expr = strings.ReplaceAll(expr, "$"+k, vars[k])
				}
				out[fmt.Sprintf("%s: %q %s", filepath.Base(file), p.Title, tg.RefID)] = expr
			}
			walk(file, vars, p.Panels)
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		merged := map[string]string{}
		for k, v := range vars {
			merged[k] = v
		}
		for k, v := range fileVars[filepath.Base(f)] {
			merged[k] = v
		}
		walk(f, merged, d.Panels)
	}
	return out
}

// TestPrometheus: Debian's Prometheus scrapes the exporter polling the real
// Placement, Manila and Cinder; every dashboard query returns data, and
// alerts fire when the cloud changes.
func TestPrometheus(t *testing.T) {
	freshPlacement(t)
	ensureManila(t)
	ensureCinder(t)
	clouds := bothClouds() + strings.TrimPrefix(cinderClouds(), placementClouds())
	e := startExporter(t, clouds, `placement:
  interval: 1s
  queries:
    gpu_hosts: {required: CUSTOM_GPU}
manila:
  interval: 2s
  timeout: 8s
  queries:
    node10_pools: {host: rig-node10, exact: true}
cinder:
  interval: 2s
  timeout: 8s
  volume_types: all
  queries:
    a1: {name: "rig-vol1@alpha#a1"}
`, "--collector.manila", "--collector.cinder")
	e.eventually(60*time.Second, "the collectors up", all(expect("openstack_placement_up", nil, 1), expect("openstack_manila_up", nil, 1), expect("openstack_cinder_up", nil, 1)))
	prom := startPrometheus(t, strings.TrimPrefix(e.url, "http://"), "3s")

	// Let rate() windows fill: a few scrapes at 1 s.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r := prom.query(`count_over_time(openstack_placement_up[1m]) >= 20`); len(r.Data.Result) > 0 {
			break
		}
		time.Sleep(time.Second)
	}

	t.Run("every dashboard query returns data", func(t *testing.T) {
		queries := dashboardQueries(t, map[string]string{
			"job": "openstack-capacity", "instance": strings.TrimPrefix(e.url, "http://"), "cloud": ".*",
			"collector": "placement", "service": "placement", "resource_class": "VCPU",
			"aggregate": aggA, "root_provider": "cn1", "root_provider_uuid": cn1,
			"host": "rig-node1", "backend": "alpha", "__rate_interval": "1m", "__interval": "1s", "__range": "5m",
		}, map[string]map[string]string{"cinder-pools.json": {"host": "rig-vol1"}})
		// Panels that are empty when nothing is wrong: they show problems.
		emptyWhenHealthy := regexp.MustCompile(`(?i)error|fail|stale|storm|churn|over-?subscri|reload|missing|down`)
		var empty []string
		for name, expr := range queries {
			r := prom.query(expr)
			if r.Status != "success" {
				t.Errorf("%s: %s: %s\n  %s", name, r.ErrorType, r.Error, expr)
				continue
			}
			if len(r.Data.Result) == 0 {
				empty = append(empty, name)
				if !emptyWhenHealthy.MatchString(name) {
					t.Errorf("%s: no data\n  %s", name, expr)
				}
			}
		}
		sort.Strings(empty)
		t.Logf("%d dashboard queries run; empty (problem panels on a healthy cloud): %v", len(queries), empty)
	})

	t.Run("resource class exhausted", func(t *testing.T) {
		// cn1-numa1-gpu0 holds the cloud's only CUSTOM_GPU_A100: capacity
		// (8 - 1) * 1 = 7, 2 used, allocations of 2 or 4; take 4 more: 86%,
		// past the 85% warning threshold.
		placementDo(t, http.MethodPut, "/allocations/30000000-0000-4000-8000-000000000077", map[string]any{
			"allocations":         map[string]any{cn1Gpu0: map[string]any{"resources": map[string]int{"CUSTOM_GPU_A100": 4}}},
			"project_id":          projectID,
			"user_id":             projectID,
			"consumer_generation": nil,
			"consumer_type":       "INSTANCE",
		})
		took := prom.waitFiring(60*time.Second, "OpenStackPlacementResourceClassNearlyExhausted", labels("resource_class", "CUSTOM_GPU_A100", "severity", "warning"))
		t.Logf("fired %s after the allocation", took.Round(100*time.Millisecond))
		// gpu0 is a member of aggregate C itself and belongs to cn1's tree,
		// which is in aggregate A: both aggregates are full for the class.
		for _, agg := range []string{aggA, aggC} {
			prom.waitFiring(30*time.Second, "OpenStackPlacementAggregateResourceClassNearlyExhausted", labels("aggregate_uuid", agg, "resource_class", "CUSTOM_GPU_A100"))
		}
		if prom.firing("OpenStackPlacementAggregateResourceClassNearlyExhausted", labels("aggregate_uuid", aggB)) {
			t.Error("aggregate B holds no CUSTOM_GPU_A100 and is far from full, but its alert fires")
		}
		if prom.firing("OpenStackPlacementResourceClassNearlyExhausted", labels("resource_class", "VCPU")) {
			t.Error("VCPU is far from exhausted but its alert fires")
		}
	})

	t.Run("manila host away", func(t *testing.T) {
		run(t, "e2e/manila/ctl.sh", "stop-share", "rig-node10")
		defer run(t, "e2e/manila/ctl.sh", "start-share", "rig-node10")
		run(t, "e2e/manila/ctl.sh", "refresh")
		took := prom.waitFiring(60*time.Second, "OpenStackManilaQueryEmpty", labels("query", "node10_pools"))
		t.Logf("fired %s after the refresh", took.Round(100*time.Millisecond))
		took = prom.waitFiring(60*time.Second, "OpenStackManilaPoolMissing", labels("name", "rig-node10@alpha#a0", "host", "rig-node10"))
		t.Logf("OpenStackManilaPoolMissing fired %s after the refresh", took.Round(100*time.Millisecond))
		// The dashboard's missing-pools panels show it.
		for name, expr := range dashboardQueries(t, map[string]string{
			"job": "openstack-capacity", "instance": strings.TrimPrefix(e.url, "http://"), "cloud": ".*", "host": ".*", "backend": ".*",
		}, nil) {
			if strings.HasPrefix(name, "manila-pools.json: \"Missing pools\"") {
				if r := prom.query(expr); len(r.Data.Result) != 1 {
					t.Errorf("%s: %d results, want rig-node10@alpha#a0 alone: %s\n  %s", name, len(r.Data.Result), r.Data.Result, expr)
				}
			}
		}
	})

	// The rig's rig-vol1@alpha#a2 reports free 0 and its back end down;
	// the other pools are far from any threshold.
	t.Run("cinder pools", func(t *testing.T) {
		a2 := "rig-vol1@alpha#a2"
		for _, alert := range []struct {
			name   string
			labels map[string]string
		}{
			{"OpenStackCinderPoolBackendDown", labels("name", a2)},
			{"OpenStackCinderPoolNearlyFull", labels("name", a2, "severity", "critical")},
			{"OpenStackCinderPoolVirtualCapacityLow", labels("name", a2, "severity", "critical")},
		} {
			prom.waitFiring(30*time.Second, alert.name, alert.labels)
		}
		for _, name := range []string{"OpenStackCinderPoolNearlyFull", "OpenStackCinderPoolVirtualCapacityLow", "OpenStackCinderPoolOverSubscriptionHeadroomLow", "OpenStackCinderPoolBackendDown"} {
			for _, a := range prom.get("/api/v1/alerts", nil).Data.Alerts {
				if a.Labels["alertname"] == name && a.Labels["name"] != a2 {
					t.Errorf("%s fires for %s, which is far from it", name, a.Labels["name"])
				}
			}
		}

		stopped := time.Now()
		t.Cleanup(func() {
			if !strings.Contains(run(t, "e2e/cinder/ctl.sh", "status"), "volume-rig-vol10 running") {
				run(t, "e2e/cinder/ctl.sh", "start-volume", "rig-vol10")
			}
		})
		run(t, "e2e/cinder/ctl.sh", "stop-volume", "rig-vol10")
		prom.waitFiring(60*time.Second, "OpenStackCinderPoolMissing", labels("name", "rig-vol10@alpha#a0"))
		t.Logf("OpenStackCinderPoolMissing fired %s after the volume service stopped", time.Since(stopped).Round(100*time.Millisecond))
		run(t, "e2e/cinder/ctl.sh", "start-volume", "rig-vol10")
	})

	t.Run("placement down", func(t *testing.T) {
		run(t, "e2e/placement/stop.sh")
		took := prom.waitFiring(60*time.Second, "OpenStackPlacementAPIDown", nil)
		t.Logf("fired %s after Placement stopped", took.Round(100*time.Millisecond))
		if prom.firing("OpenStackManilaAPIDown", nil) {
			t.Error("Manila is up but its alert fires")
		}
	})
}
