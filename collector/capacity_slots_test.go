package collector

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const capacityShapes = `capacity:
  virtual_flavors:
    small: {resources: {VCPU: 2, MEMORY_MB: 2048}}
    gpu:
      resources: {VCPU: 4, MEMORY_MB: 8192, CUSTOM_GPU_A100: 2}
      required: [CUSTOM_GPU]
    gold_not_silver:
      resources: {VCPU: 1, DISK_GB: 100}
      required: [CUSTOM_GOLD]
      forbidden: [CUSTOM_SILVER]
    in_b_or_c:
      resources: {VCPU: 1}
      member_of: [["20000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000003"]]
    disk_only: {resources: {DISK_GB: 10}}
`

// The recorded cloud counted, with no request beyond the Placement poll's
// own. Worked out by hand from cloud-1.39.json:
//   - small on cn1: VCPU or memory must come from the root (Nova skips a
//     host whose candidate leaves its compute node out), and the root has
//     110 two-VCPU and 45 2-GiB slots: 155, although its NUMA children
//     alone would take 202; cn2 takes 135 (memory); 290 in all.
//   - gpu: the A100s have min_unit 2, step_size 2 (amount 2: (7 - 2) / 2
//     = 2 free of 3); cn1-numa0's VCPU max_unit 2 keeps it out of 4-VCPU
//     requests; the root supplies VCPU or memory.
//   - gold_not_silver: cn2 has CUSTOM_SILVER, so only cn1: int(990 * 1.1)
//     = 1089 - 20 used = 1069 GB, 10 slots of 100.
//   - in_b_or_c: cn1's root is in A only, so only its providers in B or C
//     could supply, and then not the root: 0; cn2 (in B): 736 - 8 = 728.
//   - disk_only: shared-storage (MISC_SHARES_VIA_AGGREGATE) is no host;
//     cn1 106, cn2 210 (max_unit 500 allows 10).
func TestCapacityOnTheRecordedCloud(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	cfg := mustConfig(t, capacityShapes)
	model := NewModel()
	placement := newTestPlacement(t, srv)
	placement.model = model
	capacity := &capacityCollector{model: model, now: func() time.Time { return time.Unix(1e9, 0) }}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := collect(t, ctx, capacity, cfg); err == nil || !strings.Contains(err.Error(), "no Placement data yet") {
		t.Fatalf("before any Placement poll: %v", err)
	}
	if _, err := poll(t, placement, cfg); err != nil {
		t.Fatal(err)
	}
	srv.requests() // counts from here on
	model.placement.view.Load().Taken = time.Unix(1e9-7, 0)
	metrics, err := poll(t, capacity, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := total(srv.requests()); n != 0 {
		t.Errorf("counting sent %d requests", n)
	}
	assertGolden(t, metrics, "capacity-cloud")
}

func TestCapacityNeedsPlacement(t *testing.T) {
	if _, err := New([]string{"capacity"}, Deps{Logger: nopLogger()}); err == nil || !strings.Contains(err.Error(), "enable --collector.placement too") {
		t.Errorf("capacity alone: %v", err)
	}
}

func TestCapacityConfigErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"capacity:\n  virtual_flavors:\n    x: {}\n", "capacity.virtual_flavors.x.resources: give the amount of each resource class"},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {vcpu: 1}}\n", `capacity.virtual_flavors.x.resources: line 3: "vcpu" is not a resource class`},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 2.5}}\n", "capacity.virtual_flavors.x.resources.VCPU: line 3: 2.5 is not a whole number of at least 1"},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 0}}\n", "capacity.virtual_flavors.x.resources.VCPU: line 3: 0 is not a whole number"},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}, required: [avx]}\n", `capacity.virtual_flavors.x.required: "avx" is not a trait name`},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}, required: [T], forbidden: [T]}\n", "capacity.virtual_flavors.x: T is both required and forbidden"},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}, member_of: [[]]}\n", "capacity.virtual_flavors.x.member_of[0]: is empty"},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}, member_of: [agg-a]}\n", `capacity.virtual_flavors.x.member_of[0]: "agg-a" is not an aggregate uuid`},
		{"capacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}, ram: 5}\n", `capacity.virtual_flavors.x: line 3: unknown key "ram"`},
		{"placement: {metrics: {usage: false}}\ncapacity:\n  virtual_flavors:\n    x: {resources: {VCPU: 1}}\n", "capacity.virtual_flavors: counting slots needs placement.metrics.usage: true"},
		{"capacity: {interval: 0s}\n", "capacity.interval: must be positive"},
	} {
		_, err := ParseConfig([]byte(c.text))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	cfg := mustConfig(t, capacityShapes)
	if got := strings.Join(cfg.Placement.keepTraits, ","); got != "COMPUTE_STATUS_DISABLED,CUSTOM_GOLD,CUSTOM_GPU,CUSTOM_SILVER,MISC_SHARES_VIA_AGGREGATE" {
		t.Errorf("traits kept for the shapes: %s", got)
	}
}

// The cross-check asks Placement once per flavor per interval, as Nova
// would (root_required, limit 1), and says where Placement's answer and
// the count disagree. Here Placement answers from a stand-in that offers a
// candidate for every shape asking for DISK_GB only (disk_only has free
// slots: agree; gold_not_silver has some too but gets none: disagree).
func TestCapacityCrossCheck(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	var asked []string
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/allocation_candidates" {
			return false
		}
		asked = append(asked, r.Header.Get("OpenStack-API-Version")+" "+r.URL.RawQuery)
		body := `{"allocation_requests": [], "provider_summaries": {}}`
		if r.URL.Query().Get("resources") == "DISK_GB:10" {
			body = `{"allocation_requests": [{"allocations": {}}], "provider_summaries": {}}`
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
		return true
	})
	cfg := mustConfig(t, capacityShapes+"  cross_check_interval: 1h\n")
	model := NewModel()
	model.WantPlacement()
	placement := newTestPlacement(t, srv)
	placement.model = model
	now := time.Unix(1e9, 0)
	capacity := &capacityCollector{model: model, session: placement.session, now: func() time.Time { return now }}
	if _, err := poll(t, placement, cfg); err != nil {
		t.Fatal(err)
	}
	metrics, err := poll(t, capacity, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := exposition(t, metrics, "openstack_capacity_flavor_placement_candidates", "openstack_capacity_flavor_placement_disagrees", "openstack_capacity_cross_check_age_seconds")
	for _, want := range []string{
		`openstack_capacity_flavor_placement_candidates{flavor="disk_only"} 1`,
		`openstack_capacity_flavor_placement_disagrees{flavor="disk_only"} 0`,
		`openstack_capacity_flavor_placement_candidates{flavor="gold_not_silver"} 0`,
		`openstack_capacity_flavor_placement_disagrees{flavor="gold_not_silver"} 1`,
		`openstack_capacity_cross_check_age_seconds 0`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("want %s in\n%s", want, got)
		}
	}
	if len(asked) != 5 || !strings.Contains(strings.Join(asked, "\n"), "placement 1.36 limit=1&member_of=in%3A20000000-0000-4000-8000-000000000002%2C20000000-0000-4000-8000-000000000003&resources=VCPU%3A1&root_required=%21COMPUTE_STATUS_DISABLED") {
		t.Errorf("requests:\n%s", strings.Join(asked, "\n"))
	}
	// Within the interval the last outcome is served again, unasked.
	now = now.Add(30 * time.Minute)
	metrics, err = poll(t, capacity, cfg)
	if err != nil || len(asked) != 5 || !strings.Contains(exposition(t, metrics, "openstack_capacity_cross_check_age_seconds"), "openstack_capacity_cross_check_age_seconds 1800\n") {
		t.Errorf("within the interval: %v, %d requests", err, len(asked))
	}
	// A failing Placement fails the cross-check, not the counts.
	now = now.Add(time.Hour)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/allocation_candidates" {
			return false
		}
		http.Error(w, `{"errors": [{"status": 503, "title": "Service Unavailable", "detail": "down"}]}`, http.StatusServiceUnavailable)
		return true
	})
	metrics, err = poll(t, capacity, cfg)
	if err == nil || !strings.Contains(err.Error(), "cross-check of") {
		t.Errorf("failing cross-check: %v", err)
	}
	if !strings.Contains(exposition(t, metrics, "openstack_capacity_flavor_free_slots"), `openstack_capacity_flavor_free_slots{flavor="small"} 290`) {
		t.Errorf("the counts went with the cross-check")
	}
}
