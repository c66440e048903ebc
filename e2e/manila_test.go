//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const manilaProject = "0123456789abcdef0123456789abcdef"

var manilaURL = envOr("MANILA_ENDPOINT", "http://127.0.0.1:18786")

func bothClouds() string {
	return placementClouds() + fmt.Sprintf("    shared_file_system_endpoint_override: %s/v2/%s\n", manilaURL, manilaProject)
}

const gib = 1 << 30

// ensureManila starts the real Manila (e2e/manila/start.sh) unless it runs.
func ensureManila(t *testing.T) {
	t.Helper()
	if resp, err := http.Get(manilaURL + "/"); err == nil {
		resp.Body.Close()
		return
	}
	run(t, "e2e/manila/start.sh")
}

// TestManila runs both collectors against the real Placement and Manila.
func TestManila(t *testing.T) {
	freshPlacement(t)
	ensureManila(t)
	e := startExporter(t, bothClouds(), `placement:
  interval: 2s
manila:
  interval: 2s
  timeout: 8s
  queries:
    node1_prefix: {host: rig-node1}
    node1_exact: {host: rig-node1, exact: true}
    alpha_type: {share_type: alpha}
    beta_backend: {backend: beta}
    no_such_type: {share_type: nope}
`, "--collector.manila")

	t.Run("pools", func(t *testing.T) {
		e.eventually(60*time.Second, "pools", all(
			expect("openstack_manila_up", nil, 1),
			expect("openstack_placement_up", nil, 1),
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "alpha"), 3),
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "beta"), 2),
			expect("openstack_manila_pools", labels("host", "rig-node10", "backend", "alpha"), 1),
			expect("openstack_manila_pool_capacity_total_bytes", labels("name", "rig-node1@alpha#a0"), 1000*gib),
			expect("openstack_manila_pool_capacity_total_bytes", labels("name", "rig-node10@alpha#a0"), 500*gib),
			expect("openstack_manila_pool_capacity_total_bytes", labels("name", "rig-node1@alpha#a2"), 50.5*gib),
			expect("openstack_manila_pool_capacity_total_bytes", labels("name", "rig-node1@beta#b1"), math.Inf(1)),
			absent("openstack_manila_pool_capacity_free_bytes", labels("name", "rig-node1@beta#b1")),
			absent("openstack_manila_pool_capacity_allocated_bytes", labels("name", "rig-node1@beta#b1")),
			expect("openstack_manila_pool_capacity_provisioned_bytes", labels("name", "rig-node1@alpha#a1"), 3000*gib),
			expect("openstack_manila_pool_max_over_subscription_ratio", labels("name", "rig-node1@alpha#a1"), 20),
			expect("openstack_manila_query_pools", labels("query", "node1_prefix"), 6),
			expect("openstack_manila_query_pools", labels("query", "node1_exact"), 5),
			expect("openstack_manila_query_pools", labels("query", "beta_backend"), 2),
			expect("openstack_manila_query_success", labels("query", "no_such_type"), 0),
		))
		m := mustScrape(t, e)
		if v, ok := m.value("openstack_manila_query_pools", labels("query", "alpha_type")); !ok || v < 1 || v > 4 {
			t.Errorf("share_type alpha matched %v pools (%v), want 1-4 (the alpha pools that satisfy its extra specs)", v, ok)
		}
		ts, ok := m.value("openstack_manila_pool_capabilities_timestamp_seconds", labels("name", "rig-node1@alpha#a0"))
		if age := float64(time.Now().Unix()) - ts; !ok || age < -5 || age > 600 {
			t.Errorf("capabilities timestamp %v (%v) is %v s old", ts, ok, age)
		}
	})

	t.Run("host going away", func(t *testing.T) {
		run(t, "e2e/manila/ctl.sh", "stop-share", "rig-node10")
		defer run(t, "e2e/manila/ctl.sh", "start-share", "rig-node10")
		run(t, "e2e/manila/ctl.sh", "refresh")
		e.eventually(30*time.Second, "rig-node10's pools gone", all(
			absent("openstack_manila_pools", labels("host", "rig-node10")),
			absent("openstack_manila_pool_info", labels("host", "rig-node10")),
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "alpha"), 3),
			expect("openstack_manila_query_pools", labels("query", "node1_prefix"), 5),
		))
	})

	t.Run("scheduler down", func(t *testing.T) {
		run(t, "e2e/manila/ctl.sh", "stop-scheduler")
		defer run(t, "e2e/manila/ctl.sh", "start-scheduler")
		e.eventually(30*time.Second, "manila up 0, placement unaffected", all(
			expect("openstack_manila_up", nil, 0),
			expect("openstack_capacity_exporter_collector_success", labels("collector", "manila"), 0),
			expect("openstack_placement_up", nil, 1),
		))
		// Placement keeps being polled and /metrics answers at once while
		// Manila's requests hang.
		before, _ := mustScrape(t, e).value("openstack_capacity_exporter_collector_last_success_timestamp_seconds", labels("collector", "placement"))
		start := time.Now()
		e.eventually(10*time.Second, "placement polls on", func(m metrics) string {
			if v, _ := m.value("openstack_capacity_exporter_collector_last_success_timestamp_seconds", labels("collector", "placement")); v <= before {
				return "no new placement poll"
			}
			return ""
		})
		for i := 0; i < 5; i++ {
			s := time.Now()
			mustScrape(t, e)
			if d := time.Since(s); d > time.Second {
				t.Errorf("a scrape took %s while Manila hangs", d)
			}
		}
		t.Logf("placement polled on %s after the scheduler stopped", time.Since(start).Round(10*time.Millisecond))
	})

	t.Run("scheduler back", func(t *testing.T) {
		e.eventually(90*time.Second, "manila recovers", expect("openstack_manila_up", nil, 1))
	})
}

// missingSince checks that pool is reported missing since a time between
// after and now (the exporter's clock and this one are the same).
func missingSince(pool string, after time.Time) func(metrics) string {
	return poolMissingSince("manila", pool, after)
}

// poolMissingSince is missingSince for the pools of service (manila,
// cinder).
func poolMissingSince(service, pool string, after time.Time) func(metrics) string {
	return func(m metrics) string {
		before := time.Now()
		v, ok := m.value("openstack_"+service+"_pool_missing_since_timestamp_seconds", labels("name", pool))
		if !ok {
			return pool + " not reported missing"
		}
		if at := time.Unix(0, int64(v*1e9)); at.Before(after.Add(-time.Second)) || at.After(before) {
			return fmt.Sprintf("%s missing since %s, want between %s and %s", pool, at.Format(time.RFC3339Nano), after.Format(time.RFC3339Nano), before.Format(time.RFC3339Nano))
		}
		return ""
	}
}

// TestManilaMissingPools: a pool the driver stops reporting and a share
// service that stops are reported missing, since a time between the change
// and the scheduler's list showing it; back, they are cleared.
func TestManilaMissingPools(t *testing.T) {
	ensureManila(t)
	poolsFile := envOr("MANILA_RIG_POOLS", filepath.Join(envOr("MANILA_STATE_DIR", "/tmp/oce-e2e/manila"), "pools.json"))
	original, err := os.ReadFile(poolsFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(poolsFile, original, 0o644)
		run(t, "e2e/manila/ctl.sh", "refresh", "120")
	})
	e := startExporter(t, bothClouds(), `manila:
  interval: 2s
  timeout: 8s
  missing_pools_retention: 1h
  queries:
    beta: {backend: beta}
`, "--collector.manila", "--no-collector.placement")
	e.eventually(60*time.Second, "every pool listed", all(
		expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "beta"), 2),
		expect("openstack_manila_pools", labels("host", "rig-node10", "backend", "alpha"), 1),
	))
	if n := mustScrape(t, e).count("openstack_manila_pool_missing_since_timestamp_seconds"); n != 0 {
		t.Fatalf("%d pools missing while all are listed", n)
	}

	t.Run("pool dropped by its driver", func(t *testing.T) {
		var pools map[string]map[string][]map[string]any
		if err := json.Unmarshal(original, &pools); err != nil {
			t.Fatal(err)
		}
		if len(pools["rig-node1"]["beta"]) != 2 {
			t.Fatalf("the pools file is not the default one: rig-node1@beta has %v", pools["rig-node1"]["beta"])
		}
		pools["rig-node1"]["beta"] = pools["rig-node1"]["beta"][:1] // b0 stays, b1 goes
		data, err := json.Marshal(pools)
		if err != nil {
			t.Fatal(err)
		}
		removed := time.Now()
		if err := os.WriteFile(poolsFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "e2e/manila/ctl.sh", "refresh")
		listed := time.Now()
		took := e.eventually(30*time.Second, "b1 missing", all(
			absent("openstack_manila_pool_info", labels("name", "rig-node1@beta#b1")),
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "beta"), 1),
			// The query's smaller list is no evidence of anything.
			expect("openstack_manila_query_pools", labels("query", "beta"), 1),
			missingSince("rig-node1@beta#b1", removed),
		))
		m := mustScrape(t, e)
		if n := m.count("openstack_manila_pool_missing_since_timestamp_seconds"); n != 1 {
			t.Errorf("%d pools reported missing, want 1", n)
		}
		v, _ := m.value("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node1@beta#b1"))
		t.Logf("file edited at %s, refresh done %s later, b1 missing since %s (%.1f s after the edit), seen %s after the refresh",
			removed.Format(time.RFC3339), listed.Sub(removed).Round(100*time.Millisecond), time.Unix(int64(v), 0).UTC().Format(time.RFC3339),
			v-float64(removed.UnixNano())/1e9, took.Round(100*time.Millisecond))
		// The series stays put over further polls, and over a reload that
		// keeps the scope (another interval, retention and query).
		e.waitForPollEnd("manila")
		if again, _ := mustScrape(t, e).value("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node1@beta#b1")); again != v {
			t.Errorf("missing since moved from %v to %v", v, again)
		}
		if err := os.WriteFile(e.configPath(), []byte("manila:\n  interval: 3s\n  timeout: 8s\n  missing_pools_retention: 2h\n  queries:\n    alpha: {backend: alpha}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		e.eventually(10*time.Second, "reloaded", all(
			expect("openstack_capacity_exporter_config_last_reload_successful", nil, 1),
			expect("openstack_capacity_exporter_collector_poll_interval_seconds", labels("collector", "manila"), 3),
			expect("openstack_manila_query_success", labels("query", "alpha"), 1),
		))
		e.waitForPollEnd("manila")
		if again, _ := mustScrape(t, e).value("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node1@beta#b1")); again != v {
			t.Errorf("after the reload, missing since %v, want still %v", again, v)
		}

		if err := os.WriteFile(poolsFile, original, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "e2e/manila/ctl.sh", "refresh")
		e.eventually(30*time.Second, "b1 back", all(
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "beta"), 2),
			absent("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node1@beta#b1")),
		))
	})

	t.Run("share service stopped", func(t *testing.T) {
		stopped := time.Now()
		run(t, "e2e/manila/ctl.sh", "stop-share", "rig-node10")
		defer run(t, "e2e/manila/ctl.sh", "start-share", "rig-node10")
		run(t, "e2e/manila/ctl.sh", "refresh")
		took := e.eventually(30*time.Second, "rig-node10's pool missing", all(
			absent("openstack_manila_pools", labels("host", "rig-node10")),
			missingSince("rig-node10@alpha#a0", stopped),
		))
		v, _ := mustScrape(t, e).value("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node10@alpha#a0"))
		t.Logf("share service stopped at %s, its pool missing since %.1f s later (Manila's service_down_time 10 s), seen %s after the refresh",
			stopped.Format(time.RFC3339), v-float64(stopped.UnixNano())/1e9, took.Round(100*time.Millisecond))

		run(t, "e2e/manila/ctl.sh", "start-share", "rig-node10")
		e.eventually(30*time.Second, "rig-node10 back", all(
			expect("openstack_manila_pools", labels("host", "rig-node10", "backend", "alpha"), 1),
			absent("openstack_manila_pool_missing_since_timestamp_seconds", labels("name", "rig-node10@alpha#a0")),
		))
	})
}
