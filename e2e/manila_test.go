//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"net/http"
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
