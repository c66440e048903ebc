package collector

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// min_unit, max_unit and step_size are off by default (three series per
// provider and class that nothing of the project reads) and come back with
// metrics.inventory_units.
func TestPlacementInventoryUnits(t *testing.T) {
	units := []string{"openstack_placement_resource_provider_inventory_min_unit",
		"openstack_placement_resource_provider_inventory_max_unit",
		"openstack_placement_resource_provider_inventory_step_size"}
	srv := newFixtureServer(t, placementRoot, placementCloud)
	metrics, err := poll(t, newTestPlacement(t, srv), mustConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(replay(metrics), units...); n != 0 {
		t.Errorf("%d unit series by default", n)
	}

	srv = newFixtureServer(t, placementRoot, placementCloud)
	metrics, err = poll(t, newTestPlacement(t, srv), mustConfig(t, "placement:\n  metrics: {inventory_units: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_placement_resource_provider_inventory_max_unit Largest amount a single allocation may take.
# TYPE openstack_placement_resource_provider_inventory_max_unit gauge
openstack_placement_resource_provider_inventory_max_unit{name="cn1-numa1-gpu0",resource_class="CUSTOM_GPU_A100",uuid="10000000-0000-4000-8000-000000000004"} 4
# HELP openstack_placement_resource_provider_inventory_min_unit Smallest amount a single allocation may take.
# TYPE openstack_placement_resource_provider_inventory_min_unit gauge
openstack_placement_resource_provider_inventory_min_unit{name="cn1-numa1-gpu0",resource_class="CUSTOM_GPU_A100",uuid="10000000-0000-4000-8000-000000000004"} 2
# HELP openstack_placement_resource_provider_inventory_step_size Allocations must be a multiple of this amount.
# TYPE openstack_placement_resource_provider_inventory_step_size gauge
openstack_placement_resource_provider_inventory_step_size{name="cn1-numa1-gpu0",resource_class="CUSTOM_GPU_A100",uuid="10000000-0000-4000-8000-000000000004"} 2
`
	var gpu replay
	for _, m := range metrics {
		if s, ok := m.(*sample); ok && len(s.labelValues) > 0 && s.labelValues[0] == "10000000-0000-4000-8000-000000000004" {
			gpu = append(gpu, m)
		}
	}
	if err := testutil.CollectAndCompare(gpu, strings.NewReader(want), units...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(replay(metrics), units...); n != 3*12 {
		t.Errorf("%d unit series, want 3 for each of the 12 inventories", n)
	}
}

// A poll cut short by its timeout (a cold start on a large cloud) has run
// its queries first: they are a handful of requests, and would otherwise be
// reported failed until the cache is warm.
func TestPlacementQueriesRunFirst(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Count(r.URL.Path, "/") > 2 { // a provider's sub-resource
			time.Sleep(300 * time.Millisecond)
		}
		return false
	})
	cfg := mustConfig(t, "placement:\n  concurrency: 1\n  timeout: 1s\n  queries:\n    gold: {required: CUSTOM_GOLD}\n")
	metrics, err := pollWithTimeout(t, newTestPlacement(t, srv), cfg)
	if err == nil {
		t.Fatal("the poll was not cut short; the test needs a slower server")
	}
	want := `
# HELP openstack_placement_query_success 1 if the configured query's last run succeeded, 0 if Placement rejected it, it failed, or the server cannot run it.
# TYPE openstack_placement_query_success gauge
openstack_placement_query_success{query="gold"} 1
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_placement_query_success"); err != nil {
		t.Error(err)
	}
}

// Once a poll's timeout has passed, nothing more is sent (each request
// would fail at once and count as an error of a normal warm-up); what was
// not read is read next poll, with nothing lost on the way.
func TestPlacementTimedOutPollSendsNoMore(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	var slow atomic.Bool
	slow.Store(true)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if slow.Load() && strings.Count(r.URL.Path, "/") > 2 {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	})
	c := newTestPlacement(t, srv)
	cfg := mustConfig(t, "placement:\n  concurrency: 1\n  timeout: 1s\n")
	_, err := pollWithTimeout(t, c, cfg)
	if err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("poll error %v", err)
	}
	if n := countMatching(srv.requests(), "/resource_providers/"); n > 5 {
		t.Errorf("%d sub-resource requests in a 1 s poll at 300 ms each", n)
	}
	slow.Store(false)
	metrics, err := pollWithTimeout(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := poll(t, newTestPlacement(t, srv), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{"openstack_placement_resource_provider_trait_info", "openstack_placement_resource_provider_capacity",
		"openstack_placement_resource_provider_usage", "openstack_placement_resource_provider_aggregate_info"} {
		if got, want := exposition(t, metrics, family), exposition(t, fresh, family); got != want || want == "" {
			t.Errorf("%s after the timed-out poll:\n%s\nwant:\n%s", family, got, want)
		}
	}
}
