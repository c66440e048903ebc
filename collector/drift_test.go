package collector

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

var novaRigPlacement = filepath.Join("testdata", "nova", "placement.json")

// rigViews polls the rig's recorded Placement and Nova (one recording, so
// the uuids agree) into one Model, as the exporter does for a cloud, and
// returns their views.
func rigViews(t *testing.T) (*PlacementView, *NovaView) {
	t.Helper()
	return rigViewsWith(t, mustConfig(t, ""))
}

func rigViewsWith(t *testing.T, cfg *Config) (*PlacementView, *NovaView) {
	t.Helper()
	model := NewModel()
	model.novaPolled.Store(true)
	if _, err := newDriftCollector(Deps{Model: model}); err != nil {
		t.Fatal(err)
	}
	placementSrv := newFixtureServer(t, novaRigPlacement)
	placement := newTestPlacement(t, placementSrv)
	placement.model = model
	placement.now = func() time.Time { return time.Unix(1e9, 0) }
	// The recording has each provider's traits, not GET /traits: read them
	// one provider at a time.
	placement.matchingTraits = 100
	if _, err := poll(t, placement, cfg); err != nil {
		t.Fatal(err)
	}
	novaSrv := newFixtureServer(t, novaRig)
	if _, err := pollNova(t, newTestNova(t, novaSrv.URL+"/v2.1", model), cfg); err != nil {
		t.Fatal(err)
	}
	return model.Placement(context.Background()), model.Nova(context.Background())
}

// pollDrift runs the drift collector on these views; with golden set, its
// output must be testdata/<golden>.prom.
func pollDrift(t *testing.T, view *PlacementView, nova *NovaView, golden string) string {
	t.Helper()
	model := NewModel()
	model.novaPolled.Store(true)
	model.publishPlacement(view)
	model.publishNova(nova)
	c := &driftCollector{model: model, now: func() time.Time { return time.Unix(1e9+5, 0) }}
	metrics, err := poll(t, c, mustConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	if golden != "" {
		assertGolden(t, metrics, golden)
	}
	return exposition(t, metrics)
}

// hostUUIDs maps the rig's hosts to their compute node uuids.
func hostUUIDs(nova *NovaView) map[string]string {
	out := map[string]string{}
	for _, h := range nova.Hypervisors {
		out[h.Host] = h.UUID
	}
	return out
}

func providerOf(t *testing.T, view *PlacementView, uuid string) *slots.Provider {
	t.Helper()
	for i := range view.Providers {
		if view.Providers[i].UUID == uuid {
			return &view.Providers[i]
		}
	}
	t.Fatalf("no provider %s", uuid)
	return nil
}

// The rig as recorded agrees with itself: rig-cmp2 is disabled and Nova
// put COMPUTE_STATUS_DISABLED on its provider; rig-cmp3 is forced down;
// both aggregates are mirrored. Every check is judged and finds nothing.
func TestDriftOnTheRig(t *testing.T) {
	view, nova := rigViews(t)
	if len(view.Providers) != 3 || len(view.Unread) != 0 {
		t.Fatalf("Placement view: %d providers, %d unread", len(view.Providers), len(view.Unread))
	}
	if cmp2 := providerOf(t, view, hostUUIDs(nova)["rig-cmp2"]); !cmp2.Traits[capacityDisabledTrait] {
		t.Fatalf("rig-cmp2 (disabled) has no %s in the view: traits %v", capacityDisabledTrait, cmp2.Traits)
	}
	got := pollDrift(t, view, nova, "drift-rig")
	for _, check := range []string{driftAggregateHostNotInPlacement, driftAggregateProviderNotInNova, driftComputeStatusTrait, driftProviderWithoutHypervisor, driftHypervisorWithoutProvider} {
		if want := `openstack_drift_problems{check="` + check + `"} 0`; !strings.Contains(got, want) {
			t.Errorf("want %s in\n%s", want, got)
		}
	}
	if strings.Contains(got, "_info{") {
		t.Errorf("drift found on a consistent rig:\n%s", got)
	}
}

// Each kind of drift, made by changing the rig's views the way the real
// faults change them, is found, and the look-alikes that are not drift
// are not.
func TestDriftFindsEachKind(t *testing.T) {
	view, nova := rigViews(t)
	uuid := hostUUIDs(nova)
	var aggAZ string
	for _, a := range nova.Aggregates {
		if a.Name == "rig-agg-az" {
			aggAZ = a.UUID
		}
	}
	// An aggregate's mirror lost on one host (nova-manage placement
	// sync_aggregates would restore it), and a provider added to it behind
	// Nova's back.
	delete(providerOf(t, view, uuid["rig-cmp1"]).Aggregates, aggAZ)
	providerOf(t, view, uuid["rig-cmp3"]).Aggregates[aggAZ] = true
	// The trait out of step on both up hosts; on the forced-down host it is
	// not judged.
	delete(providerOf(t, view, uuid["rig-cmp2"]).Traits, capacityDisabledTrait)
	providerOf(t, view, uuid["rig-cmp1"]).Traits[capacityDisabledTrait] = true
	providerOf(t, view, uuid["rig-cmp3"]).Traits[capacityDisabledTrait] = true
	// A compute node left behind by a deleted service; a sharing provider
	// and a child with VCPU are not compute nodes.
	vcpu := []slots.Inventory{{Class: "VCPU", Total: 8, AllocationRatio: 1, MaxUnit: 8, MinUnit: 1, StepSize: 1}}
	view.Providers = append(view.Providers,
		slots.Provider{UUID: "aaaaaaaa-0000-4000-8000-000000000001", Inventories: vcpu, Traits: map[string]bool{}, Aggregates: map[string]bool{}},
		slots.Provider{UUID: "aaaaaaaa-0000-4000-8000-000000000002", Inventories: []slots.Inventory{{Class: "DISK_GB", Total: 100, AllocationRatio: 1}}, Traits: map[string]bool{slots.SharingTrait: true}, Aggregates: map[string]bool{}},
		slots.Provider{UUID: "aaaaaaaa-0000-4000-8000-000000000003", Root: uuid["rig-cmp1"], Inventories: vcpu, Traits: map[string]bool{}, Aggregates: map[string]bool{}})
	// A hypervisor Placement does not list, and one it lists but whose
	// data the view lacks.
	nova.Hypervisors = append(nova.Hypervisors,
		NovaHypervisor{UUID: "bbbbbbbb-0000-4000-8000-000000000001", Host: "rig-cmp4", Hostname: "rig-cmp4.example", Type: "fake"},
		NovaHypervisor{UUID: "bbbbbbbb-0000-4000-8000-000000000002", Host: "rig-cmp5", Hostname: "rig-cmp5", Type: "fake"})
	view.Unread = append(view.Unread, "bbbbbbbb-0000-4000-8000-000000000002")

	got := pollDrift(t, view, nova, "drift-each")
	for _, want := range []string{
		`openstack_drift_problems{check="aggregate_host_not_in_placement"} 1`,
		`openstack_drift_aggregate_host_not_in_placement_info{aggregate_uuid="` + aggAZ + `",host="rig-cmp1",uuid="` + uuid["rig-cmp1"] + `"} 1`,
		`openstack_drift_problems{check="aggregate_provider_not_in_nova"} 1`,
		`openstack_drift_aggregate_provider_not_in_nova_info{aggregate_uuid="` + aggAZ + `",host="rig-cmp3",uuid="` + uuid["rig-cmp3"] + `"} 1`,
		`openstack_drift_problems{check="compute_status_disabled_trait"} 2`,
		`openstack_drift_compute_status_disabled_trait_info{host="rig-cmp1",problem="enabled_with_trait",uuid="` + uuid["rig-cmp1"] + `"} 1`,
		`openstack_drift_compute_status_disabled_trait_info{host="rig-cmp2",problem="disabled_without_trait",uuid="` + uuid["rig-cmp2"] + `"} 1`,
		`openstack_drift_problems{check="provider_without_hypervisor"} 1`,
		`openstack_drift_provider_without_hypervisor_info{uuid="aaaaaaaa-0000-4000-8000-000000000001"} 1`,
		`openstack_drift_problems{check="hypervisor_without_provider"} 1`,
		`openstack_drift_hypervisor_without_provider_info{host="rig-cmp4",hypervisor_hostname="rig-cmp4.example",uuid="bbbbbbbb-0000-4000-8000-000000000001"} 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("want %s", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}

	// With placement.scope a hypervisor may be missing from the listing on
	// purpose; without COMPUTE_STATUS_DISABLED or MISC_SHARES_VIA_AGGREGATE
	// in the cache the checks that read them cannot be judged: all go.
	view.Scoped = true
	view.Traits = func(string) bool { return false }
	got = pollDrift(t, view, nova, "")
	for _, gone := range []string{`check="hypervisor_without_provider"`, `check="compute_status_disabled_trait"`, `check="provider_without_hypervisor"`,
		"hypervisor_without_provider_info", "compute_status_disabled_trait_info", "provider_without_hypervisor_info"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s with a scoped listing and the trait not kept:\n%s", gone, got)
		}
	}
}

// The collector refuses to run without its sources, and a Placement
// section that leaves the view empty.
func TestDriftNeedsNovaAndPlacement(t *testing.T) {
	for _, names := range [][]string{{"drift"}, {"drift", "placement"}, {"drift", "nova"}} {
		if _, err := New(names, Deps{Logger: nopLogger()}); err == nil || !strings.Contains(err.Error(), "enable --collector.nova and --collector.placement") {
			t.Errorf("%v: %v", names, err)
		}
	}
	collectors, err := New([]string{"placement", "nova", "drift"}, Deps{Logger: nopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	drift := collectors["drift"].(*driftCollector)
	if err := drift.CheckConfig(mustConfig(t, "placement: {metrics: {aggregates: false}}\n")); err == nil ||
		!strings.HasPrefix(err.Error(), "placement.metrics.aggregates: the drift collector compares") {
		t.Errorf("aggregates off: %v", err)
	}
	if err := drift.CheckConfig(mustConfig(t, "")); err != nil {
		t.Errorf("defaults: %v", err)
	}
	// It has the Placement collector keep the two traits it reads,
	// whatever traits_include says, without exporting them.
	pcfg := drift.model.placementConfig(&mustConfig(t, "placement: {traits_include: ^CUSTOM_}\n").Placement)
	if !pcfg.cachesTrait(capacityDisabledTrait) || !pcfg.cachesTrait(slots.SharingTrait) || pcfg.cachesTrait("HW_CPU_X86_AVX") {
		t.Errorf("kept traits: %v", pcfg.keepTraits)
	}
}

// Before the first polls it says what it waits for.
func TestDriftBeforeData(t *testing.T) {
	model := NewModel()
	model.novaPolled.Store(true)
	c := &driftCollector{model: model, now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := collect(t, ctx, c, mustConfig(t, "")); err == nil || !strings.Contains(err.Error(), "no Placement data yet") {
		t.Errorf("no data: %v", err)
	}
}
