//go:build e2e

package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// placementJSON sends one request to the real Placement at microversion
// 1.39 (see apiJSON).
func placementJSON(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return apiJSON(t, placementURL, "placement 1.39", method, path, body, out)
}

const aggD = "20000000-0000-4000-8000-0000000000dd"

// generation is the provider's generation now.
func generation(t *testing.T, uuid string) int {
	t.Helper()
	var rp struct {
		Generation int `json:"generation"`
	}
	if status := placementJSON(t, "GET", "/resource_providers/"+uuid, nil, &rp); status != 200 {
		t.Fatalf("GET provider %s: %d", uuid, status)
	}
	return rp.Generation
}

// capacityHost creates one root provider (and, with gpus, a child holding
// them) in aggregate D.
func capacityHost(t *testing.T, n int, traits []string, gpus int) {
	t.Helper()
	root := fmt.Sprintf("50000000-0000-4000-8000-%012d", n)
	if traits == nil {
		traits = []string{}
	}
	mustOK := func(status int, what string) {
		t.Helper()
		if status >= 300 {
			t.Fatalf("%s: %d", what, status)
		}
	}
	mustOK(placementJSON(t, "POST", "/resource_providers", map[string]any{"name": fmt.Sprintf("cap-host-%d", n), "uuid": root}, nil), "create host")
	mustOK(placementJSON(t, "PUT", "/resource_providers/"+root+"/inventories", map[string]any{
		"resource_provider_generation": 0,
		"inventories": map[string]any{
			"VCPU":      map[string]any{"total": 8, "allocation_ratio": 2.0, "max_unit": 8},
			"MEMORY_MB": map[string]any{"total": 16384, "reserved": 512, "allocation_ratio": 1.0},
			"DISK_GB":   map[string]any{"total": 100, "allocation_ratio": 1.0},
		},
	}, nil), "host inventory")
	mustOK(placementJSON(t, "PUT", "/resource_providers/"+root+"/traits", map[string]any{"resource_provider_generation": generation(t, root), "traits": traits}, nil), "host traits")
	mustOK(placementJSON(t, "PUT", "/resource_providers/"+root+"/aggregates", map[string]any{"resource_provider_generation": generation(t, root), "aggregates": []string{aggD}}, nil), "host aggregate")
	if gpus == 0 {
		return
	}
	child := fmt.Sprintf("50000000-0000-4000-8001-%012d", n)
	mustOK(placementJSON(t, "POST", "/resource_providers", map[string]any{"name": fmt.Sprintf("cap-host-%d-gpu", n), "uuid": child, "parent_provider_uuid": root}, nil), "create gpu")
	mustOK(placementJSON(t, "PUT", "/resource_providers/"+child+"/inventories", map[string]any{
		"resource_provider_generation": 0,
		"inventories":                  map[string]any{"VGPU": map[string]any{"total": gpus, "max_unit": gpus}},
	}, nil), "gpu inventory")
	mustOK(placementJSON(t, "PUT", "/resource_providers/"+child+"/traits", map[string]any{"resource_provider_generation": generation(t, child), "traits": []string{"CUSTOM_GPU"}}, nil), "gpu traits")
}

// schedule places instances as Nova Zed would until Placement has no room:
// GET /allocation_candidates with the flavor's resources, traits,
// member_of and root_required=!COMPUTE_STATUS_DISABLED, the first candidate
// that allocates from a root provider (Nova skips a host whose candidate
// leaves its compute node out), claimed with PUT /allocations. It returns
// how many it placed.
func schedule(t *testing.T, resources string, required []string) int {
	t.Helper()
	q := url.Values{"resources": {resources}, "member_of": {aggD}, "root_required": {"!COMPUTE_STATUS_DISABLED"}}
	if len(required) > 0 {
		q.Set("required", strings.Join(required, ","))
	}
	placed := 0
	for ; placed < 1000; placed++ {
		var ac struct {
			Requests []struct {
				Allocations map[string]struct {
					Resources map[string]int `json:"resources"`
				} `json:"allocations"`
			} `json:"allocation_requests"`
			Summaries map[string]struct {
				Parent *string `json:"parent_provider_uuid"`
			} `json:"provider_summaries"`
		}
		if status := placementJSON(t, "GET", "/allocation_candidates?"+q.Encode(), nil, &ac); status != 200 {
			t.Fatalf("allocation candidates: %d", status)
		}
		var chosen map[string]any
		for _, req := range ac.Requests {
			for rp := range req.Allocations {
				if s, ok := ac.Summaries[rp]; ok && s.Parent == nil {
					chosen = map[string]any{}
					for rp, a := range req.Allocations {
						chosen[rp] = map[string]any{"resources": a.Resources}
					}
					break
				}
			}
			if chosen != nil {
				break
			}
		}
		if chosen == nil {
			return placed
		}
		consumer := fmt.Sprintf("60000000-0000-4000-8000-%012d", time.Now().UnixNano()%1e12)
		if status := placementJSON(t, "PUT", "/allocations/"+consumer, map[string]any{
			"allocations": chosen, "project_id": projectID, "user_id": projectID, "consumer_generation": nil, "consumer_type": "INSTANCE",
		}, nil); status != 204 {
			t.Fatalf("claiming candidate %d: %d", placed, status)
		}
	}
	t.Fatal("placed 1000 instances: the test cloud is larger than meant")
	return placed
}

// TestCapacitySlots: the capacity collector's free slots, counted from the
// Placement collector's cache with no request of its own, are exactly the
// number of instances the real Placement then lets a Nova-like scheduler
// place, flavor by flavor; and they reach 0 once it has.
func TestCapacitySlots(t *testing.T) {
	freshPlacement(t)
	placementJSON(t, "PUT", "/traits/CUSTOM_FAST", nil, nil)
	capacityHost(t, 1, []string{"CUSTOM_FAST"}, 0)
	capacityHost(t, 2, nil, 0)
	capacityHost(t, 3, []string{"CUSTOM_FAST", "COMPUTE_STATUS_DISABLED"}, 0) // a disabled compute service
	capacityHost(t, 4, nil, 3)
	e := startExporter(t, placementClouds(), `placement:
  interval: 1s
  timeout: 10s
  usages_max_age: 3s
capacity:
  interval: 1s
  virtual_flavors:
    d_fast:
      resources: {VCPU: 3, MEMORY_MB: 1024}
      required: [CUSTOM_FAST]
      member_of: [`+aggD+`]
    d_gpu:
      resources: {VCPU: 1, MEMORY_MB: 2048, VGPU: 1}
      required: [CUSTOM_GPU]
      member_of: [`+aggD+`]
    d_small:
      resources: {VCPU: 2, MEMORY_MB: 2048, DISK_GB: 10}
      member_of: [`+aggD+`]
`, "--collector.capacity")

	// Worked out: VCPU int(8 * 2) = 16, MEMORY_MB 15872, DISK_GB 100 per host.
	// d_fast: host 1 only (host 3 is disabled): min(16/3, 15872/1024) = 5.
	// d_gpu: host 4's child has the GPUs and CUSTOM_GPU: 3.
	// d_small: hosts 1, 2, 4: min(8, 7, 10) = 7 each: 21.
	want := map[string]float64{"d_fast": 5, "d_gpu": 3, "d_small": 21}
	conds := []func(metrics) string{expect("openstack_capacity_resource_providers_left_out", nil, 0)}
	for flavor, n := range want {
		conds = append(conds,
			expect("openstack_capacity_flavor_free_slots", labels("flavor", flavor), n),
			expect("openstack_capacity_aggregate_flavor_free_slots", labels("flavor", flavor, "aggregate_uuid", aggD), n))
	}
	e.eventually(60*time.Second, "counts", all(conds...))

	for _, c := range []struct {
		flavor, resources string
		required          []string
	}{
		{"d_fast", "VCPU:3,MEMORY_MB:1024", []string{"CUSTOM_FAST"}},
		{"d_gpu", "VCPU:1,MEMORY_MB:2048,VGPU:1", []string{"CUSTOM_GPU"}},
	} {
		if placed := schedule(t, c.resources, c.required); float64(placed) != want[c.flavor] {
			t.Errorf("%s: the exporter counted %v free slots, the real Placement took %d", c.flavor, want[c.flavor], placed)
		}
	}
	// d_fast filled host 1 (5 x 3 VCPUs) and d_gpu took host 4's GPUs and 3
	// VCPUs: d_small has host 1 (1 VCPU left: 0), host 2 (7), host 4 (13
	// VCPUs, memory for 15872 - 3 * 2048 = 9728: 4) left.
	e.eventually(30*time.Second, "counts after the allocations", all(
		expect("openstack_capacity_flavor_free_slots", labels("flavor", "d_fast"), 0),
		expect("openstack_capacity_flavor_free_slots", labels("flavor", "d_gpu"), 0),
		expect("openstack_capacity_flavor_free_slots", labels("flavor", "d_small"), 11),
		expect("openstack_capacity_flavor_total_slots", labels("flavor", "d_small"), 21),
	))
	if placed := schedule(t, "VCPU:2,MEMORY_MB:2048,DISK_GB:10", nil); placed != 11 {
		t.Errorf("d_small: the exporter counted 11 free slots, the real Placement took %d", placed)
	}
	e.eventually(30*time.Second, "full", expect("openstack_capacity_flavor_free_slots", labels("flavor", "d_small"), 0))
}
