//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPrometheusSeveralClouds: Debian's Prometheus scrapes one exporter
// polling two clouds, east and west, that are the same real Placement,
// Manila and Cinder. Every provider, aggregate and tree root uuid and every
// pool name is in both: the case where a rule or dashboard query that lost
// the cloud label merges the clouds or fails as many-to-many. Every rule
// evaluates without error and records each cloud apart; every dashboard
// query runs with one cloud picked (and returns that cloud only), with
// both, and with All; the variables list both clouds; alerts fire per
// cloud.
func TestPrometheusSeveralClouds(t *testing.T) {
	freshPlacement(t)
	ensureManila(t)
	ensureCinder(t)
	entry := func(name string) string {
		return fmt.Sprintf(`  %s:
    auth_type: admin_token
    auth: {token: %q}
    placement_endpoint_override: %s
    shared_file_system_endpoint_override: %s/v2/%s
    block_storage_endpoint_override: %s/v3/%s
`, name, token, placementURL, manilaURL, manilaProject, cinderURL, cinderProject)
	}
	e := startExporter(t, "clouds:\n"+entry("east")+entry("west"), `placement:
  interval: 2s
  queries:
    gpu_hosts: {required: CUSTOM_GPU}
manila:
  interval: 3s
  timeout: 8s
  queries:
    node10_pools: {host: rig-node10, exact: true}
cinder:
  interval: 3s
  timeout: 8s
  volume_types: all
  queries:
    a1: {name: "rig-vol1@alpha#a1"}
clouds:
  east: {}
  west: {}
`, "--collector.manila", "--collector.cinder")
	var up []func(metrics) string
	for _, c := range []string{"east", "west"} {
		for _, m := range []string{"openstack_placement_up", "openstack_manila_up", "openstack_cinder_up"} {
			up = append(up, expect(m, labels("cloud", c), 1))
		}
	}
	e.eventually(90*time.Second, "every collector of both clouds up", all(up...))
	prom := startPrometheus(t, strings.TrimPrefix(e.url, "http://"), "3s")

	// Let rate() windows fill, and every rule evaluate over both clouds.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r := prom.query(`count(count_over_time(openstack_placement_up[1m]) >= 20) == 2`); len(r.Data.Result) > 0 {
			break
		}
		time.Sleep(time.Second)
	}

	t.Run("every rule evaluates without error", func(t *testing.T) {
		rules := prom.rules()
		if len(rules) == 0 {
			t.Fatal("Prometheus lists no rules")
		}
		healthy := 0
		for _, r := range rules {
			if r.Health != "ok" {
				t.Errorf("rule %s (group %s): health %q: %s", r.Name, r.Group, r.Health, r.LastError)
				continue
			}
			healthy++
		}
		t.Logf("%d of %d rules healthy", healthy, len(rules))
	})

	t.Run("recording rules keep the clouds apart", func(t *testing.T) {
		// These have samples on the rig; the others may not (no
		// provisioned capacity reported, no thin pool).
		mustHave := map[string]bool{
			"resource_class:openstack_placement_resource_provider_utilization:ratio":                true,
			"uuid:openstack_placement_resource_provider_root:info":                                  true,
			"root_provider_uuid_resource_class:openstack_placement_resource_provider_capacity:sum":  true,
			"aggregate_uuid_resource_class:openstack_placement_resource_provider_utilization:ratio": true,
			"pool:openstack_manila_pool_capacity_used:ratio":                                        true,
			"pool:openstack_cinder_pool_capacity_used:ratio":                                        true,
			"pool:openstack_cinder_pool_capacity_virtual_free:ratio":                                true,
			"resource_class:openstack_placement_resource_provider_capacity:sum":                     true,
			"root_provider_uuid_resource_class:openstack_placement_resource_provider_usage:sum":     true,
			"resource_class:openstack_placement_resource_provider_usage:sum":                        true,
		}
		for _, r := range prom.rules() {
			if r.Type != "recording" || strings.HasPrefix(r.Name, "openstack_capacity:") {
				continue // the thresholds have no cloud: one for every cloud
			}
			east := len(prom.query(fmt.Sprintf(`%s{cloud="east"}`, r.Name)).Data.Result)
			west := len(prom.query(fmt.Sprintf(`%s{cloud="west"}`, r.Name)).Data.Result)
			merged := len(prom.query(fmt.Sprintf(`%s{cloud=""}`, r.Name)).Data.Result)
			if east != west || merged != 0 || mustHave[r.Name] && east == 0 {
				t.Errorf("%s: %d series of east, %d of west, %d without cloud; want as many of each, none without", r.Name, east, west, merged)
				continue
			}
			// The same cloud twice: the same numbers.
			if d := prom.query(fmt.Sprintf(`%s{cloud="east"} != ignoring (cloud) %s{cloud="west"}`, r.Name, r.Name)); d.Status != "success" || len(d.Data.Result) != 0 {
				t.Errorf("%s: east and west differ (%s %s): %s", r.Name, d.ErrorType, d.Error, d.Data.Result)
			}
			t.Logf("%s: %d series per cloud", r.Name, east)
		}
	})

	vars := map[string]string{
		"job": "openstack-capacity", "instance": strings.TrimPrefix(e.url, "http://"),
		"collector": "placement", "service": "placement", "resource_class": "VCPU",
		"aggregate": aggA, "root_provider": "cn1", "root_provider_uuid": cn1,
		"host": "rig-node1", "backend": "alpha", "__rate_interval": "1m", "__interval": "1s", "__range": "5m",
	}
	fileVars := map[string]map[string]string{"cinder-pools.json": {"host": "rig-vol1"}}
	emptyWhenHealthy := regexp.MustCompile(`(?i)error|fail|stale|storm|churn|over-?subscri|reload|missing|down`)
	// How Grafana writes the variable: one value, several as a regex
	// alternation, All as the variable's allValue.
	for _, pick := range []struct{ name, cloud string }{{"east", "east"}, {"east and west", "(east|west)"}, {"All", ".*"}} {
		t.Run("every dashboard query, cloud "+pick.name, func(t *testing.T) {
			vars["cloud"] = pick.cloud
			queries := dashboardQueries(t, vars, fileVars)
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
				for _, raw := range r.Data.Result {
					var s struct {
						Metric map[string]string `json:"metric"`
					}
					_ = json.Unmarshal(raw, &s)
					if c, ok := s.Metric["cloud"]; ok && !regexp.MustCompile("^(?:"+pick.cloud+")$").MatchString(c) {
						t.Errorf("%s: a series of cloud %q, not picked: %v\n  %s", name, c, s.Metric, expr)
					}
					if metric := s.Metric["__name__"]; strings.HasPrefix(metric, "openstack_") && !strings.HasPrefix(metric, "openstack_capacity_exporter_build_info") && !strings.HasPrefix(metric, "openstack_capacity_exporter_config_") && s.Metric["cloud"] == "" {
						t.Errorf("%s: a series of %s without cloud", name, metric)
					}
				}
			}
			sort.Strings(empty)
			t.Logf("%d dashboard queries run; empty (problem panels on a healthy cloud): %v", len(queries), empty)
		})
	}

	t.Run("the variables list both clouds' values", func(t *testing.T) {
		vars["cloud"] = ".*"
		files, _ := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
		for _, f := range files {
			if slices.Contains(novaDashboards, filepath.Base(f)) {
				continue // no Nova here
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Templating struct {
					List []struct {
						Name  string `json:"name"`
						Type  string `json:"type"`
						Query string `json:"query"`
					} `json:"list"`
				} `json:"templating"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, v := range d.Templating.List {
				m := regexp.MustCompile(`^label_values\((.*), *(\w+)\)$`).FindStringSubmatch(v.Query)
				if v.Type != "query" || m == nil {
					continue
				}
				sel := m[1]
				for k, val := range fileVars[filepath.Base(f)] {
					sel = strings.ReplaceAll(sel, "$"+k, val)
				}
				names := make([]string, 0, len(vars))
				for k := range vars {
					names = append(names, k)
				}
				sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
				for _, k := range names {
					sel = strings.ReplaceAll(sel, "$"+k, vars[k])
				}
				// The values Grafana would list, with the clouds they come from.
				by := m[2] + ", cloud"
				if m[2] == "cloud" {
					by = "cloud"
				}
				r := prom.query(fmt.Sprintf("count by (%s) (%s)", by, sel))
				clouds := map[string]bool{}
				for _, raw := range r.Data.Result {
					var s struct {
						Metric map[string]string `json:"metric"`
					}
					_ = json.Unmarshal(raw, &s)
					clouds[s.Metric["cloud"]] = true
				}
				if r.Status != "success" || !clouds["east"] || !clouds["west"] || len(clouds) != 2 {
					t.Errorf("%s: variable %s: values from clouds %v, want east and west (%s %s)\n  %s", filepath.Base(f), v.Name, clouds, r.ErrorType, r.Error, sel)
				}
			}
		}
	})

	// The rig's rig-vol1@alpha#a2 reports free 0 and its back end down: in
	// each cloud, its alerts fire with that cloud's label.
	t.Run("alerts fire per cloud", func(t *testing.T) {
		a2 := "rig-vol1@alpha#a2"
		for _, c := range []string{"east", "west"} {
			prom.waitFiring(30*time.Second, "OpenStackCinderPoolNearlyFull", labels("name", a2, "cloud", c, "severity", "critical"))
			prom.waitFiring(30*time.Second, "OpenStackCinderPoolBackendDown", labels("name", a2, "cloud", c))
		}
		for _, a := range prom.get("/api/v1/alerts", nil).Data.Alerts {
			if strings.HasPrefix(a.Labels["alertname"], "OpenStackCinder") && a.Labels["cloud"] == "" {
				t.Errorf("%s fires without a cloud label: %v", a.Labels["alertname"], a.Labels)
			}
		}
	})
}

type promRule struct {
	Group     string
	Name      string `json:"name"`
	Type      string `json:"type"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// rules lists every rule Prometheus loaded, with its health after its last
// evaluation ("ok", "err" with lastError, "unknown" before the first).
func (p *promServer) rules() []promRule {
	p.t.Helper()
	resp, err := http.Get(p.url + "/api/v1/rules")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Name  string     `json:"name"`
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		p.t.Fatal(err)
	}
	var out []promRule
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			rule.Group = g.Name
			out = append(out, rule)
		}
	}
	return out
}
