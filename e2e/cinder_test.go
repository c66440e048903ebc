//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

var cinderURL = envOr("CINDER_ENDPOINT", "http://127.0.0.1:18776")

const cinderProject = "0123456789abcdef0123456789abcdef"

func cinderClouds() string {
	return placementClouds() + fmt.Sprintf("    block_storage_endpoint_override: %s/v3/%s\n", cinderURL, cinderProject)
}

// ensureCinder starts the real Cinder rig (e2e/cinder/start.sh) unless it
// runs, else puts it back as start.sh leaves it (no volumes, the default
// pools), which the expected values assume.
func ensureCinder(t *testing.T) {
	t.Helper()
	if resp, err := http.Get(cinderURL + "/"); err == nil {
		resp.Body.Close()
		run(t, "e2e/cinder/ctl.sh", "reset", "120")
		return
	}
	run(t, "e2e/cinder/start.sh")
}

// cinderAPI is the little of Cinder's API the tests drive: volume types
// and volumes, as the noauth admin of the rig's project.
type cinderAPI struct{ t *testing.T }

func (a cinderAPI) call(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, cinderURL+"/v3/"+cinderProject+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("OpenStack-API-Version", "volume 3.70")
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		a.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// createType makes a volume type with extra specs, deleted at the end (and
// first, if an interrupted run left it).
func (a cinderAPI) createType(name string, specs map[string]string) {
	a.t.Helper()
	var list struct {
		Types []struct{ ID, Name string } `json:"volume_types"`
	}
	a.call("GET", "/types?is_public=None", nil, &list)
	for _, vt := range list.Types {
		if vt.Name == name {
			a.call("DELETE", "/types/"+vt.ID, nil, nil)
		}
	}
	var out struct {
		VolumeType struct {
			ID string `json:"id"`
		} `json:"volume_type"`
	}
	if code := a.call("POST", "/types", map[string]any{"volume_type": map[string]any{"name": name, "extra_specs": specs}}, &out); code != 200 {
		a.t.Fatalf("creating volume type %s: %d", name, code)
	}
	a.t.Cleanup(func() { a.call("DELETE", "/types/"+out.VolumeType.ID, nil, nil) })
}

// createVolume asks for a volume and waits until the scheduler placed it
// (available, on the host it returns) or refused it (error). The volume is
// deleted at the end, either way.
func (a cinderAPI) createVolume(volumeType string, gb int) (status, host string) {
	a.t.Helper()
	var out struct {
		Volume struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Host   string `json:"os-vol-host-attr:host"`
		} `json:"volume"`
	}
	if code := a.call("POST", "/volumes", map[string]any{"volume": map[string]any{"size": gb, "volume_type": volumeType, "name": "e2e-exporter"}}, &out); code != 202 {
		a.t.Fatalf("creating a %d GB %s volume: %d", gb, volumeType, code)
	}
	id := out.Volume.ID
	a.t.Cleanup(func() { a.deleteVolume(id) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		a.call("GET", "/volumes/"+id, nil, &out)
		if s := out.Volume.Status; s != "creating" && s != "" {
			return s, out.Volume.Host
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("volume %s still %q after 60 s", id, out.Volume.Status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (a cinderAPI) deleteVolume(id string) {
	a.call("DELETE", "/volumes/"+id, nil, nil)
	deadline := time.Now().Add(60 * time.Second)
	for a.call("GET", "/volumes/"+id, nil, nil) != http.StatusNotFound && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
	}
}

// TestCinder runs the Cinder collector against the real Cinder rig: every
// pool metric ("infinite", "unknown", "auto", string numbers), exact name
// queries, the pools of each volume type, the virtual free capacity against
// the real scheduler's decisions, and the scheduler stopped and back.
func TestCinder(t *testing.T) {
	ensureCinder(t)
	api := cinderAPI{t}
	// Volume types of this test's own, each reaching one pool:
	// rig-vol1@alpha#a1 (thin, ratio "20.0") and rig-vol10@alpha#a0 (thin,
	// "auto": rig-vol1@alpha#a0 is named a0 too, but not thin).
	api.createType("e2e-thin-a1", map[string]string{"volume_backend_name": "alpha", "pool_name": "a1"})
	api.createType("e2e-auto-a0", map[string]string{"volume_backend_name": "alpha", "pool_name": "a0", "thin_provisioning_support": "<is> True"})
	e := startExporter(t, cinderClouds(), `cinder:
  interval: 2s
  timeout: 8s
  volume_types: all
  queries:
    a1: {name: "rig-vol1@alpha#a1"}
    host_is_no_prefix: {name: rig-vol1}
    vol10_a0: {name: "rig-vol10@alpha#a0"}
`, "--collector.cinder", "--no-collector.placement")

	pool := func(name string) map[string]string { return labels("name", name) }
	// Computed as the exporter and Cinder compute them (float64, not
	// Go's exact constants).
	auto := 1 + 400/float64(251)
	t.Run("pools", func(t *testing.T) {
		e.eventually(60*time.Second, "pools", all(
			expect("openstack_cinder_up", nil, 1),
			expect("openstack_cinder_api_version_info", labels("min_version", "3.0", "max_version", "3.70", "version", "3.70"), 1),
			expect("openstack_cinder_pools", labels("host", "rig-vol1", "backend", "alpha"), 3),
			expect("openstack_cinder_pools", labels("host", "rig-vol1", "backend", "beta"), 3),
			expect("openstack_cinder_pools", labels("host", "rig-vol10", "backend", "alpha"), 1),
			expect("openstack_cinder_pool_info", labels("name", "rig-vol1@alpha#a1", "host", "rig-vol1", "backend", "alpha", "pool", "a1",
				"volume_backend_name", "alpha", "storage_protocol", "iSCSI", "thin_provisioning", "true", "thick_provisioning", "false"), 1),
			expect("openstack_cinder_pool_backend_up", pool("rig-vol1@alpha#a0"), 1),
			expect("openstack_cinder_pool_backend_up", pool("rig-vol1@alpha#a2"), 0),
			absent("openstack_cinder_pool_backend_up", pool("rig-vol1@beta#b1")),
			expect("openstack_cinder_pool_capacity_total_bytes", pool("rig-vol1@alpha#a0"), 1000*gib),
			expect("openstack_cinder_pool_capacity_total_bytes", pool("rig-vol1@alpha#a2"), 50.5*gib),
			expect("openstack_cinder_pool_capacity_total_bytes", pool("rig-vol1@beta#b0"), math.Inf(1)),
			expect("openstack_cinder_pool_capacity_free_bytes", pool("rig-vol1@beta#b0"), math.Inf(1)),
			absent("openstack_cinder_pool_capacity_total_bytes", pool("rig-vol1@beta#b1")),
			absent("openstack_cinder_pool_capacity_free_bytes", pool("rig-vol1@beta#b1")),
			expect("openstack_cinder_pool_capacity_free_bytes", pool("rig-vol1@alpha#a0"), 900*gib),
			expect("openstack_cinder_pool_capacity_provisioned_bytes", pool("rig-vol1@alpha#a1"), 3000*gib),
			expect("openstack_cinder_pool_capacity_allocated_bytes", pool("rig-vol1@alpha#a1"), 0),
			expect("openstack_cinder_pool_reserved_ratio", pool("rig-vol1@alpha#a0"), 0.05),
			expect("openstack_cinder_pool_reserved_ratio", pool("rig-vol10@alpha#a0"), 0.1),
			expect("openstack_cinder_pool_max_over_subscription_ratio", pool("rig-vol1@alpha#a1"), 20),
			expect("openstack_cinder_pool_max_over_subscription_ratio", pool("rig-vol1@alpha#a0"), 1),
			// "auto", resolved as the scheduler logs it: 1 + 400/(500-250+1).
			expect("openstack_cinder_pool_max_over_subscription_ratio", pool("rig-vol10@alpha#a0"), auto),
			expect("openstack_cinder_pool_max_over_subscription_ratio", pool("rig-vol1@beta#b0"), 1),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@alpha#a0"), 850*gib),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@alpha#a1"), 37000*gib),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol10@alpha#a0"), 767.13*gib),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@alpha#a2"), 0),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@beta#b0"), math.Inf(1)),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@beta#b1"), math.Inf(1)),
			expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@beta#b2"), 10*gib),
			expect("openstack_cinder_query_pools", labels("query", "a1"), 1),
			expect("openstack_cinder_query_pools", labels("query", "host_is_no_prefix"), 0),
			expect("openstack_cinder_query_pools", labels("query", "vol10_a0"), 1),
			expect("openstack_cinder_volume_type_pools", labels("volume_type", "gold"), 4),
			expect("openstack_cinder_volume_type_pools", labels("volume_type", "silver"), 3),
			expect("openstack_cinder_volume_type_pools", labels("volume_type", "tiny"), 1),
			expect("openstack_cinder_volume_type_pool_info", labels("volume_type", "tiny", "name", "rig-vol1@beta#b2"), 1),
			expect("openstack_cinder_volume_type_pool_info", labels("volume_type", "e2e-thin-a1", "name", "rig-vol1@alpha#a1"), 1),
			expect("openstack_cinder_volume_type_pool_info", labels("volume_type", "e2e-auto-a0", "name", "rig-vol10@alpha#a0"), 1),
			expect("openstack_cinder_volume_type_pools", labels("volume_type", "e2e-auto-a0"), 1),
			expect("openstack_cinder_inconsistencies_total", labels("reason", "unparsable_value"), 0),
			expect("openstack_capacity_exporter_collector_success", labels("collector", "cinder"), 1),
		))
		m := mustScrape(t, e)
		ts, ok := m.value("openstack_cinder_pool_capabilities_timestamp_seconds", pool("rig-vol1@alpha#a0"))
		if age := float64(time.Now().Unix()) - ts; !ok || age < -5 || age > 60 {
			t.Errorf("capabilities timestamp %v (%v) is %v s old; the rig reports every 2 s", ts, ok, age)
		}
		if n := m.count("openstack_cinder_pool_missing_since_timestamp_seconds"); n != 0 {
			t.Errorf("%d pools missing while all are listed", n)
		}
	})

	// For each type reaching one pool: the largest whole volume the
	// exporter's virtual free capacity allows is placed on that pool, one
	// GB more is refused by the real scheduler (NoValidHost).
	t.Run("virtual free agrees with the scheduler", func(t *testing.T) {
		// The rig runs without quotas (e2e/cinder/start.sh): only the
		// scheduler can refuse.
		m := mustScrape(t, e)
		for _, tc := range []struct{ volumeType, pool string }{
			{"tiny", "rig-vol1@beta#b2"},          // thick: min(free 10, 10 - 0)
			{"e2e-thin-a1", "rig-vol1@alpha#a1"},  // thin: 2000 * 20 - 3000
			{"e2e-auto-a0", "rig-vol10@alpha#a0"}, // auto: (500 - 50) * 2.5936... - 400 = 767.13
		} {
			v, ok := m.value("openstack_cinder_pool_capacity_virtual_free_bytes", pool(tc.pool))
			if !ok {
				t.Fatalf("no virtual free capacity for %s", tc.pool)
			}
			fits := int(math.Floor(v / gib))
			if status, host := api.createVolume(tc.volumeType, fits+1); status != "error" {
				t.Errorf("%s: a %d GB volume (virtual free %.2f GB) was %s on %s, want refused", tc.volumeType, fits+1, v/gib, status, host)
			}
			status, host := api.createVolume(tc.volumeType, fits)
			if status != "available" || host != tc.pool {
				t.Errorf("%s: a %d GB volume (virtual free %.2f GB) was %s on %q, want available on %s", tc.volumeType, fits, v/gib, status, host, tc.pool)
			}
			t.Logf("%s: virtual free %.2f GB; %d GB refused, %d GB placed on %s", tc.pool, v/gib, fits+1, fits, host)
		}
		// After the reports, the thick pool is full, and says so.
		run(t, "e2e/cinder/ctl.sh", "wait-pools", "60")
		e.eventually(30*time.Second, "b2 full", expect("openstack_cinder_pool_capacity_virtual_free_bytes", pool("rig-vol1@beta#b2"), 0))
		if status, host := api.createVolume("tiny", 1); status != "error" {
			t.Errorf("a 1 GB volume on the full b2 was %s on %s", status, host)
		}
	})

	t.Run("volume service stopped", func(t *testing.T) {
		stopped := time.Now()
		t.Cleanup(func() {
			if !strings.Contains(run(t, "e2e/cinder/ctl.sh", "status"), "volume-rig-vol10 running") {
				run(t, "e2e/cinder/ctl.sh", "start-volume", "rig-vol10")
			}
		})
		run(t, "e2e/cinder/ctl.sh", "stop-volume", "rig-vol10")
		took := e.eventually(60*time.Second, "rig-vol10's pool missing", all(
			absent("openstack_cinder_pools", labels("host", "rig-vol10")),
			expect("openstack_cinder_pools", labels("host", "rig-vol1", "backend", "alpha"), 3),
			poolMissingSince("cinder", "rig-vol10@alpha#a0", stopped),
		))
		v, _ := mustScrape(t, e).value("openstack_cinder_pool_missing_since_timestamp_seconds", pool("rig-vol10@alpha#a0"))
		t.Logf("volume service stopped at %s, its pool missing since %.1f s later (service_down_time 10 s), seen after %s",
			stopped.Format(time.RFC3339), v-float64(stopped.UnixNano())/1e9, took.Round(100*time.Millisecond))
		run(t, "e2e/cinder/ctl.sh", "start-volume", "rig-vol10")
		e.eventually(60*time.Second, "rig-vol10 back", all(
			expect("openstack_cinder_pools", labels("host", "rig-vol10", "backend", "alpha"), 1),
			absent("openstack_cinder_pool_missing_since_timestamp_seconds", pool("rig-vol10@alpha#a0")),
		))
	})

	t.Run("scheduler stopped", func(t *testing.T) {
		// Registered first: a failing stop must not leave it stopped.
		t.Cleanup(func() {
			if !strings.Contains(run(t, "e2e/cinder/ctl.sh", "status"), "scheduler running") {
				run(t, "e2e/cinder/ctl.sh", "start-scheduler")
			}
		})
		run(t, "e2e/cinder/ctl.sh", "stop-scheduler")
		e.eventually(30*time.Second, "cinder down", all(
			expect("openstack_cinder_up", nil, 0),
			absent("openstack_cinder_pool_info", nil),
		))
		start := time.Now()
		if code, _, err := e.get("/metrics"); err != nil || code != 200 || time.Since(start) > 2*time.Second {
			t.Errorf("/metrics while Cinder hangs: %d %v in %s", code, err, time.Since(start))
		}
		run(t, "e2e/cinder/ctl.sh", "start-scheduler")
		e.eventually(90*time.Second, "cinder back", expect("openstack_cinder_up", nil, 1))
	})
}
