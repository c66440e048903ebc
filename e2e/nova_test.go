//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The Nova rig (e2e/nova): Nova 26.2.2 with three fake-driver computes,
// Glance, and its own Placement.
var (
	novaURL          = envOr("NOVA_ENDPOINT", "http://127.0.0.1:18774")
	novaPlacementURL = envOr("NOVA_RIG_PLACEMENT_ENDPOINT", "http://127.0.0.1:18781")
)

func novaClouds() string {
	return fmt.Sprintf(`clouds:
  local:
    auth_type: admin_token
    auth: {token: %q}
    placement_endpoint_override: %s
    compute_endpoint_override: %s/v2.1
`, token, novaPlacementURL, novaURL)
}

// Short intervals, so that a change shows in seconds.
const novaE2EConfig = `placement:
  interval: 2s
  usages_max_age: 2s
  aggregates_max_age: 2s
nova:
  interval: 2s
capacity:
  interval: 2s
  flavors: ^e2e[.]
  cross_check_interval: 2s
`

func novaJSON(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return apiJSON(t, novaURL+"/v2.1", "compute 2.61", method, path, body, out)
}

func novaPlacementJSON(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return apiJSON(t, novaPlacementURL, "placement 1.39", method, path, body, out)
}

// ensureNova starts the Nova rig unless it answers, and removes what an
// earlier run of this test left (servers, its flavors and aggregate, a
// disabled service).
func ensureNova(t *testing.T) {
	t.Helper()
	if resp, err := http.Get(novaURL + "/"); err == nil {
		resp.Body.Close()
	} else {
		run(t, "e2e/nova/start.sh")
	}
	cleanNova(t)
	t.Cleanup(func() { cleanNova(t) })
}

func cleanNova(t *testing.T) {
	t.Helper()
	run(t, "python3", "e2e/nova/rigapi.py", "delete-servers", "--timeout", "180")
	var flavors struct {
		Flavors []struct{ ID, Name string } `json:"flavors"`
	}
	novaJSON(t, "GET", "/flavors?is_public=None", nil, &flavors)
	for _, f := range flavors.Flavors {
		if strings.HasPrefix(f.Name, "e2e.") {
			novaJSON(t, "DELETE", "/flavors/"+f.ID, nil, nil)
		}
	}
	for _, a := range novaAggregates(t) {
		if !strings.HasPrefix(a.Name, "e2e-") {
			continue
		}
		for _, h := range a.Hosts {
			novaJSON(t, "POST", fmt.Sprintf("/os-aggregates/%d/action", a.ID), map[string]any{"remove_host": map[string]string{"host": h}}, nil)
		}
		novaJSON(t, "DELETE", fmt.Sprintf("/os-aggregates/%d", a.ID), nil, nil)
	}
	for _, s := range novaServices(t) {
		if s.Status == "disabled" {
			setService(t, s.ID, "enabled")
		}
		if s.ForcedDown {
			novaJSON(t, "PUT", "/os-services/"+s.ID, map[string]any{"forced_down": false}, nil)
		}
	}
}

type novaAggregate struct {
	ID    int      `json:"id"`
	UUID  string   `json:"uuid"`
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
}

func novaAggregates(t *testing.T) []novaAggregate {
	t.Helper()
	var out struct {
		Aggregates []novaAggregate `json:"aggregates"`
	}
	if status := novaJSON(t, "GET", "/os-aggregates", nil, &out); status != 200 {
		t.Fatalf("GET os-aggregates: %d", status)
	}
	return out.Aggregates
}

type novaService struct {
	ID         string `json:"id"`
	Host       string `json:"host"`
	Status     string `json:"status"`
	State      string `json:"state"`
	ForcedDown bool   `json:"forced_down"`
}

func novaServices(t *testing.T) []novaService {
	t.Helper()
	var out struct {
		Services []novaService `json:"services"`
	}
	if status := novaJSON(t, "GET", "/os-services?binary=nova-compute", nil, &out); status != 200 {
		t.Fatalf("GET os-services: %d", status)
	}
	return out.Services
}

// setService enables or disables a nova-compute service (2.53: by its uuid).
func setService(t *testing.T, id, status string) {
	t.Helper()
	body := map[string]any{"status": status}
	if status == "disabled" {
		body["disabled_reason"] = "e2e"
	}
	if code := novaJSON(t, "PUT", "/os-services/"+id, body, nil); code != 200 {
		t.Fatalf("PUT os-services/%s %s: %d", id, status, code)
	}
}

func createFlavor(t *testing.T, name string, vcpus, ramMB, diskGB int, specs map[string]string) {
	t.Helper()
	var out struct {
		Flavor struct{ ID string } `json:"flavor"`
	}
	if code := novaJSON(t, "POST", "/flavors", map[string]any{"flavor": map[string]any{"name": name, "vcpus": vcpus, "ram": ramMB, "disk": diskGB}}, &out); code != 200 {
		t.Fatalf("POST flavors %s: %d", name, code)
	}
	if len(specs) > 0 {
		if code := novaJSON(t, "POST", "/flavors/"+out.Flavor.ID+"/os-extra_specs", map[string]any{"extra_specs": specs}, nil); code != 200 {
			t.Fatalf("extra specs of %s: %d", name, code)
		}
	}
}

// bootResult is what rigapi.py boot prints.
type bootResult struct {
	Active, Error, Building int
	Faults                  map[string]int
	Hosts                   map[string]int
	Seconds                 float64
}

// boot asks nova-api for count servers of the flavor in one request (all
// or nothing: if the scheduler cannot place all of them, none is placed).
func boot(t *testing.T, flavor, az string, count int) bootResult {
	t.Helper()
	args := []string{"e2e/nova/rigapi.py", "boot", flavor, "--count", fmt.Sprint(count), "--timeout", "240"}
	if az != "" {
		args = append(args, "--az", az)
	}
	out := run(t, "python3", args...)
	var r bootResult
	start := strings.Index(out, "{")
	if start < 0 {
		t.Fatalf("boot %s: no summary in\n%s", flavor, out)
	}
	if err := json.Unmarshal([]byte(out[start:]), &r); err != nil {
		t.Fatalf("boot %s: %v\n%s", flavor, err, out)
	}
	if r.Building > 0 {
		t.Fatalf("boot %s x%d: %d still building after 240 s: %+v", flavor, count, r.Building, r)
	}
	return r
}

// settled scrapes until the capacity counts were made from Placement and
// Nova polls that both began after since, and returns that scrape.
func settled(t *testing.T, e *exporter, since time.Time) metrics {
	t.Helper()
	var last metrics
	e.eventually(60*time.Second, "counts from polls after "+since.Format(time.RFC3339Nano), func(m metrics) string {
		counted, ok := m.value("openstack_capacity_exporter_collector_last_success_timestamp_seconds", labels("collector", "capacity"))
		if !ok {
			return "no successful count yet"
		}
		for _, age := range []string{"openstack_capacity_placement_data_age_seconds", "openstack_capacity_nova_data_age_seconds"} {
			a, ok := m.value(age, nil)
			if !ok {
				return age + " absent"
			}
			// The poll's view is stamped when the poll ends; a poll that
			// ended a second after since began before it, so leave a poll's
			// length (2 s here) of margin.
			if taken := counted - a; taken < float64(since.UnixMilli())/1e3+2 {
				return fmt.Sprintf("%s: data from %.1f s before the change", age, float64(since.UnixMilli())/1e3-taken)
			}
		}
		last = m
		return ""
	})
	return last
}

func slotValue(t *testing.T, m metrics, name string, lbls map[string]string) int {
	t.Helper()
	v, ok := m.value(name, lbls)
	if !ok {
		t.Fatalf("%s%v absent", name, lbls)
	}
	return int(v)
}

// TestNovaFlavorSlots is the proof issue 9 asks for: for four kinds of
// flavor, the exporter's count of free slots, read before the boots,
// equals the number of servers the real Nova then boots before it answers
// NoValidHost; disabling a compute service takes its slots away; and an
// aggregate mirror broken behind Nova's back shows as drift.
func TestNovaFlavorSlots(t *testing.T) {
	ensureNova(t)
	services := map[string]novaService{}
	for _, s := range novaServices(t) {
		services[s.Host] = s
	}
	for _, h := range []string{"rig-cmp1", "rig-cmp2", "rig-cmp3"} {
		if s, ok := services[h]; !ok || s.State != "up" {
			t.Fatalf("nova-compute on %s: %+v", h, s)
		}
	}
	// The flavors: plain; a required trait (rig-cmp2 and rig-cmp3 have
	// CUSTOM_X); a resources: override to PCPU (only rig-cmp3 has PCPU);
	// and plain again, asked for in a zone of two of the three hosts.
	createFlavor(t, "e2e.plain", 4, 16384, 100, nil)
	createFlavor(t, "e2e.trait", 2, 16384, 50, map[string]string{"trait:CUSTOM_X": "required"})
	createFlavor(t, "e2e.pcpu", 2, 4096, 20, map[string]string{"resources:VCPU": "0", "resources:PCPU": "2"})
	var agg struct {
		Aggregate novaAggregate `json:"aggregate"`
	}
	if code := novaJSON(t, "POST", "/os-aggregates", map[string]any{"aggregate": map[string]string{"name": "e2e-az", "availability_zone": "e2e-az1"}}, &agg); code != 200 {
		t.Fatalf("POST os-aggregates: %d", code)
	}
	for _, h := range []string{"rig-cmp1", "rig-cmp2"} {
		if code := novaJSON(t, "POST", fmt.Sprintf("/os-aggregates/%d/action", agg.Aggregate.ID), map[string]any{"add_host": map[string]string{"host": h}}, nil); code != 200 {
			t.Fatalf("add_host %s: %d", h, code)
		}
	}
	changed := time.Now()

	e := startExporter(t, novaClouds(), novaE2EConfig, "--collector.nova", "--collector.capacity", "--collector.drift")
	// The project's rules, their "for" cut to 5 s.
	prom := startPrometheus(t, strings.TrimPrefix(e.url, "http://"), "5s")
	m := settled(t, e, changed)
	agreeWithPlacement(t, e, changed, 1)
	for _, check := range []string{"aggregate_host_not_in_placement", "aggregate_provider_not_in_nova", "compute_status_disabled_trait", "provider_without_hypervisor", "hypervisor_without_provider"} {
		if v, ok := m.value("openstack_drift_problems", labels("check", check)); !ok || v != 0 {
			t.Errorf("drift %s on the fresh rig: %v %v", check, v, ok)
		}
	}

	for _, c := range []struct{ flavor, az string }{
		{"e2e.plain", ""},
		{"e2e.trait", ""},
		{"e2e.pcpu", ""},
		{"e2e.plain", "e2e-az1"},
	} {
		t.Run(strings.TrimPrefix(c.flavor, "e2e.")+"/"+c.az, func(t *testing.T) {
			m := settled(t, e, changed)
			name, lbls := "openstack_capacity_flavor_free_slots", labels("flavor", c.flavor)
			if c.az != "" {
				name, lbls = "openstack_capacity_availability_zone_flavor_free_slots", labels("availability_zone", c.az, "flavor", c.flavor)
			}
			want := slotValue(t, m, name, lbls)
			if want < 1 || want > 40 {
				t.Fatalf("%s%v = %d: the rig's hosts should fit 1 to 40", name, lbls, want)
			}
			r := boot(t, c.flavor, c.az, want)
			if r.Active != want {
				t.Errorf("the exporter counted %d free slots; Nova booted %d of %d at once (%+v)", want, r.Active, want, r)
			}
			more := boot(t, c.flavor, c.az, 1)
			if more.Active != 0 || !strings.Contains(fmt.Sprint(more.Faults), "No valid host") {
				t.Errorf("after %d servers Nova still placed one more: %+v", want, more)
			}
			t.Logf("%s %s: %d free slots counted, %d booted (%v) in %.1f s, then NoValidHost", c.flavor, c.az, want, r.Active, r.Hosts, r.Seconds)
			full := time.Now()
			m = settled(t, e, full)
			if got := slotValue(t, m, name, lbls); got != 0 {
				t.Errorf("after the boots %s%v = %d, want 0", name, lbls, got)
			}
			if c.az == "" {
				// Placement itself has no candidate left either.
				agreeWithPlacement(t, e, full, 0, c.flavor)
			} else {
				prom.waitFiring(60*time.Second, "OpenStackCapacityFlavorNoFreeSlots", labels("availability_zone", c.az, "flavor", c.flavor))
			}
			run(t, "python3", "e2e/nova/rigapi.py", "delete-servers", "--timeout", "180")
			changed = time.Now()
		})
	}

	t.Run("disabled service", func(t *testing.T) {
		before := settled(t, e, changed)
		cmp2 := services["rig-cmp2"]
		setService(t, cmp2.ID, "disabled")
		changed = time.Now()
		after := settled(t, e, changed)
		for _, f := range []string{"e2e.plain", "e2e.trait"} {
			b, a := slotValue(t, before, "openstack_capacity_flavor_free_slots", labels("flavor", f)), slotValue(t, after, "openstack_capacity_flavor_free_slots", labels("flavor", f))
			if a >= b {
				t.Errorf("%s: %d free slots with rig-cmp2 disabled, %d before", f, a, b)
			}
		}
		// Booting confirms the lower count for the plain flavor.
		want := slotValue(t, after, "openstack_capacity_flavor_free_slots", labels("flavor", "e2e.plain"))
		if r := boot(t, "e2e.plain", "", want+1); r.Active != 0 {
			t.Errorf("with rig-cmp2 disabled Nova placed %d > %d counted", r.Active, want)
		}
		if r := boot(t, "e2e.plain", "", want); r.Active != want {
			t.Errorf("with rig-cmp2 disabled Nova placed %d of the %d counted: %+v", r.Active, want, r)
		}
		run(t, "python3", "e2e/nova/rigapi.py", "delete-servers", "--timeout", "180")
		setService(t, cmp2.ID, "enabled")
		changed = time.Now()
		if v, _ := settled(t, e, changed).value("openstack_drift_problems", labels("check", "compute_status_disabled_trait")); v != 0 {
			t.Errorf("the disabled trait out of step after a disable and enable: %v", v)
		}
	})

	// The host-loss headroom, proven by losing the host: four servers
	// forced onto rig-cmp2 make it e2e-az1's worst loss (rig-cmp1's free
	// slots less rig-cmp2's four, against rig-cmp2's free slots less
	// nothing); its compute is then stopped and forced down, its servers
	// evacuated, and the zone must then take exactly the headroom the
	// exporter gave before the loss.
	t.Run("host loss", func(t *testing.T) {
		if r := boot(t, "e2e.plain", "e2e-az1:rig-cmp2", 4); r.Active != 4 || r.Hosts["rig-cmp2"] != 4 {
			t.Fatalf("4 servers forced onto rig-cmp2: %+v", r)
		}
		changed = time.Now()
		m := settled(t, e, changed)
		zone := labels("availability_zone", "e2e-az1", "flavor", "e2e.plain")
		headroom := slotValue(t, m, "openstack_capacity_availability_zone_flavor_host_loss_headroom_slots", zone)
		free := slotValue(t, m, "openstack_capacity_availability_zone_flavor_free_slots", zone)
		if headroom < 0 || headroom >= free {
			t.Fatalf("headroom %d with %d free: the rig should have room for rig-cmp2's servers", headroom, free)
		}
		cmp2 := services["rig-cmp2"]
		run(t, "e2e/nova/ctl.sh", "stop-compute", "rig-cmp2")
		t.Cleanup(func() {
			// Nova refuses to lift forced_down until the restarted compute
			// has cleaned up after the evacuation (its migrations "done").
			run(t, "e2e/nova/ctl.sh", "start-compute", "rig-cmp2")
			deadline := time.Now().Add(120 * time.Second)
			for novaJSON(t, "PUT", "/os-services/"+cmp2.ID, map[string]any{"forced_down": false}, nil) != 200 {
				if time.Now().After(deadline) {
					t.Fatalf("rig-cmp2 still forced down 120 s after its restart")
				}
				time.Sleep(2 * time.Second)
			}
			run(t, "e2e/nova/ctl.sh", "wait-up", "rig-cmp2", "60")
			run(t, "python3", "e2e/nova/rigapi.py", "delete-servers", "--timeout", "180")
		})
		if code := novaJSON(t, "PUT", "/os-services/"+cmp2.ID, map[string]any{"forced_down": true}, nil); code != 200 {
			t.Fatalf("force down rig-cmp2: %d", code)
		}
		evacuateHost(t, "rig-cmp2")
		r := boot(t, "e2e.plain", "e2e-az1", headroom+1)
		if r.Active != 0 {
			t.Errorf("after losing rig-cmp2 the zone took %d > the headroom %d", r.Active, headroom)
		}
		if headroom > 0 {
			if r := boot(t, "e2e.plain", "e2e-az1", headroom); r.Active != headroom {
				t.Errorf("after losing rig-cmp2 the zone took %d of the headroom %d: %+v", r.Active, headroom, r)
			}
		}
		t.Logf("e2e-az1 headroom for e2e.plain %d (free %d); after rig-cmp2's loss and evacuation the zone took exactly %d", headroom, free, headroom)
	})

	t.Run("aggregate mirror broken", func(t *testing.T) {
		uuid := hypervisorUUID(t, "rig-cmp1")
		var aggs struct {
			Aggregates                 []string `json:"aggregates"`
			ResourceProviderGeneration int      `json:"resource_provider_generation"`
		}
		novaPlacementJSON(t, "GET", "/resource_providers/"+uuid+"/aggregates", nil, &aggs)
		kept := []string{}
		for _, a := range aggs.Aggregates {
			if a != agg.Aggregate.UUID {
				kept = append(kept, a)
			}
		}
		if len(kept) == len(aggs.Aggregates) {
			t.Fatalf("rig-cmp1's provider is not in the Placement aggregate %s: %v", agg.Aggregate.UUID, aggs.Aggregates)
		}
		if code := novaPlacementJSON(t, "PUT", "/resource_providers/"+uuid+"/aggregates",
			map[string]any{"aggregates": kept, "resource_provider_generation": aggs.ResourceProviderGeneration}, nil); code != 200 {
			t.Fatalf("PUT aggregates: %d", code)
		}
		e.eventually(60*time.Second, "the broken mirror as drift", all(
			expect("openstack_drift_problems", labels("check", "aggregate_host_not_in_placement"), 1),
			expect("openstack_drift_aggregate_host_not_in_placement_info", labels("aggregate_uuid", agg.Aggregate.UUID, "host", "rig-cmp1", "uuid", uuid), 1)))
		prom.waitFiring(60*time.Second, "OpenStackNovaPlacementDrift", labels("check", "aggregate_host_not_in_placement"))
		// Every query of the capacity-planning dashboard, now that there is
		// drift to show, returns data but the panels of problems this rig
		// does not have.
		queries := dashboardQueries(t, map[string]string{
			"job": "openstack-capacity", "instance": strings.TrimPrefix(e.url, "http://"), "cloud": ".*",
			"availability_zone": ".*", "flavor": ".*", "trend_window": "1d",
			"__rate_interval": "1m", "__interval": "2s", "__range": "5m",
		}, nil, novaDashboards...)
		healthy := regexp.MustCompile(`Compute node drift|Flavors not counted`)
		var empty []string
		for name, expr := range queries {
			r := prom.query(expr)
			if r.Status != "success" {
				t.Errorf("%s: %s: %s\n  %s", name, r.ErrorType, r.Error, expr)
			} else if len(r.Data.Result) == 0 {
				empty = append(empty, name)
				if !healthy.MatchString(name) {
					t.Errorf("%s: no data\n  %s", name, expr)
				}
			}
		}
		t.Logf("%d capacity-planning queries run; empty: %v", len(queries), empty)
		// The zone's count loses rig-cmp1 too, as Nova's member_of does.
		m := settled(t, e, time.Now())
		want := slotValue(t, m, "openstack_capacity_availability_zone_flavor_free_slots", labels("availability_zone", "e2e-az1", "flavor", "e2e.plain"))
		if r := boot(t, "e2e.plain", "e2e-az1", want+1); r.Active != 0 {
			t.Errorf("with the mirror broken Nova placed %d > %d counted in e2e-az1", r.Active, want)
		}
		if r := boot(t, "e2e.plain", "e2e-az1", want); r.Active != want || r.Hosts["rig-cmp1"] != 0 {
			t.Errorf("with the mirror broken Nova placed %d of the %d counted in e2e-az1: %+v", r.Active, want, r)
		}
		run(t, "python3", "e2e/nova/rigapi.py", "delete-servers", "--timeout", "180")
		// Nova's own repair puts it back, and the drift goes.
		run(t, "e2e/nova/ctl.sh", "manage", "placement", "sync_aggregates")
		e.eventually(60*time.Second, "drift gone after sync_aggregates", all(
			expect("openstack_drift_problems", labels("check", "aggregate_host_not_in_placement"), 0),
			absent("openstack_drift_aggregate_host_not_in_placement_info", labels("host", "rig-cmp1"))))
	})
}

// agreeWithPlacement waits for a cross-check made after since and wants
// Placement to agree with the count for every flavor (or those given),
// with candidates (1) or none (0).
func agreeWithPlacement(t *testing.T, e *exporter, since time.Time, candidates float64, flavors ...string) {
	t.Helper()
	if len(flavors) == 0 {
		flavors = []string{"e2e.plain", "e2e.trait", "e2e.pcpu"}
	}
	e.eventually(60*time.Second, "a cross-check with Placement after "+since.Format(time.RFC3339Nano), func(m metrics) string {
		counted, ok := m.value("openstack_capacity_exporter_collector_last_success_timestamp_seconds", labels("collector", "capacity"))
		age, ok2 := m.value("openstack_capacity_cross_check_age_seconds", nil)
		placementAge, ok3 := m.value("openstack_capacity_placement_data_age_seconds", nil)
		if !ok || !ok2 || !ok3 {
			return "no cross-check yet"
		}
		if counted-age < float64(since.UnixMilli())/1e3 || counted-placementAge < float64(since.UnixMilli())/1e3+2 {
			return "cross-check or its Placement poll older than the change"
		}
		for _, f := range flavors {
			if msg := expect("openstack_capacity_flavor_placement_candidates", labels("flavor", f), candidates)(m); msg != "" {
				return msg
			}
			if msg := expect("openstack_capacity_flavor_placement_disagrees", labels("flavor", f), 0)(m); msg != "" {
				return msg
			}
		}
		return ""
	})
}

// evacuateHost rebuilds every server of a down host elsewhere (2.61:
// the scheduler picks the host) and waits until each is ACTIVE on another
// host.
func evacuateHost(t *testing.T, host string) {
	t.Helper()
	type server struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Host   string `json:"OS-EXT-SRV-ATTR:host"`
	}
	var list struct {
		Servers []server `json:"servers"`
	}
	novaJSON(t, "GET", "/servers/detail?all_tenants=1&host="+host, nil, &list)
	if len(list.Servers) == 0 {
		t.Fatalf("no server on %s", host)
	}
	for _, srv := range list.Servers {
		if code := novaJSON(t, "POST", "/servers/"+srv.ID+"/action", map[string]any{"evacuate": map[string]any{}}, nil); code != 200 {
			t.Fatalf("evacuate %s: %d", srv.ID, code)
		}
	}
	deadline := time.Now().Add(180 * time.Second)
	for _, srv := range list.Servers {
		for {
			var got struct {
				Server server `json:"server"`
			}
			novaJSON(t, "GET", "/servers/"+srv.ID, nil, &got)
			if got.Server.Status == "ACTIVE" && got.Server.Host != host {
				break
			}
			if got.Server.Status == "ERROR" || time.Now().After(deadline) {
				t.Fatalf("evacuating %s from %s: %+v", srv.ID, host, got.Server)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

func hypervisorUUID(t *testing.T, host string) string {
	t.Helper()
	var out struct {
		Hypervisors []struct {
			ID      string `json:"id"`
			Service struct {
				Host string `json:"host"`
			} `json:"service"`
		} `json:"hypervisors"`
	}
	apiJSON(t, novaURL+"/v2.1", "compute 2.53", "GET", "/os-hypervisors/detail", nil, &out)
	for _, h := range out.Hypervisors {
		if h.Service.Host == host {
			return h.ID
		}
	}
	t.Fatalf("no hypervisor on %s", host)
	return ""
}
