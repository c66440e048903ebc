package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// The drift collector sends no request: it compares the latest Nova poll
// with the latest Placement poll (Model) and exports where they disagree,
// the states that make Nova's scheduler see a different cloud from the
// one Nova's API shows. Nova writes Placement's copies itself and swallows
// the failures (an aggregate mirrored to no provider is a warning in
// nova-api's log), so nothing else reports them.
func init() {
	registerCollector("drift", false, newDriftCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Capacity.Interval), Timeout: time.Duration(c.Capacity.Interval)}
	})
}

// The checks, as the check label names them.
const (
	driftAggregateHostNotInPlacement = "aggregate_host_not_in_placement"
	driftAggregateProviderNotInNova  = "aggregate_provider_not_in_nova"
	driftComputeStatusTrait          = "compute_status_disabled_trait"
	driftProviderWithoutHypervisor   = "provider_without_hypervisor"
	driftHypervisorWithoutProvider   = "hypervisor_without_provider"
)

var (
	driftProblemsDesc = newGaugeFamily("openstack_drift_problems",
		"Disagreements between Nova and Placement found by the check (0 when none); absent when the check cannot be judged (see the README). The _info series name each one.", []string{"check"})
	driftAggHostDesc = newGaugeFamily("openstack_drift_aggregate_host_not_in_placement_info",
		"A host of the Nova aggregate whose compute node provider (uuid) is not in the Placement aggregate of the same uuid: a member_of request (an availability zone, an isolated aggregate) misses the host. Fix: nova-manage placement sync_aggregates.",
		[]string{"aggregate_uuid", "host", "uuid"})
	driftAggProviderDesc = newGaugeFamily("openstack_drift_aggregate_provider_not_in_nova_info",
		"A compute node provider (uuid) in the Placement aggregate of a Nova aggregate that does not list its host: a member_of request may land on a host outside the zone or aggregate.",
		[]string{"aggregate_uuid", "host", "uuid"})
	driftTraitDesc = newGaugeFamily("openstack_drift_compute_status_disabled_trait_info",
		"A compute node provider whose COMPUTE_STATUS_DISABLED trait disagrees with its nova-compute service (judged for services that are up): disabled_without_trait lets Placement offer a disabled host, enabled_with_trait hides an enabled one. Nova syncs the trait when nova-compute starts.",
		[]string{"host", "uuid", "problem"})
	driftOrphanProviderDesc = newGaugeFamily("openstack_drift_provider_without_hypervisor_info",
		"A root provider with VCPU, PCPU or MEMORY_MB inventory (a compute node's shape, not a sharing provider) that no Nova hypervisor has as its uuid: usually left behind by a deleted compute service, and its allocations with it (nova-manage placement audit).",
		[]string{"uuid"})
	driftOrphanHypervisorDesc = newGaugeFamily("openstack_drift_hypervisor_without_provider_info",
		"A Nova hypervisor (compute node) whose uuid Placement does not list: its host gets no allocation candidates, so nothing is scheduled on it.",
		[]string{"uuid", "host", "hypervisor_hostname"})
	driftAgeDesc = newGaugeFamily("openstack_drift_data_age_seconds",
		"Age of the poll of the service the checks were made from.", []string{"service"})
)

type driftCollector struct {
	model *Model
	now   func() time.Time
}

func newDriftCollector(deps Deps) (Collector, error) {
	deps.Model.WantPlacement()
	deps.Model.WantNova()
	deps.Model.WantTraits(capacityDisabledTrait, slots.SharingTrait)
	return &driftCollector{model: deps.Model, now: time.Now}, nil
}

// CheckConfig refuses a Placement section that leaves the view empty (at
// start-up and on reload).
func (c *driftCollector) CheckConfig(cfg *Config) error {
	if name := cfg.Placement.missingViewFeed(); name != "" {
		return errorAt("placement.metrics."+name, "the drift collector compares providers' traits, aggregates and inventories with Nova: set placement.metrics.%s: true, or disable --collector.drift", name)
	}
	return nil
}

// driftItem is one disagreement, as the labels of its _info series.
type driftItem []string

type driftFindings map[string][]driftItem // check -> items; a check judged with no finding has an empty, non-nil list

func (c *driftCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	view := c.model.Placement(ctx)
	if view == nil {
		return errors.New("no Placement data yet: the placement collector's first poll has not listed the providers within capacity.interval")
	}
	nova := c.model.Nova(ctx)
	if nova == nil {
		return errors.New("no Nova data yet: the nova collector's first poll has not ended within capacity.interval")
	}
	now := c.now()
	ch <- driftAgeDesc.sample(now.Sub(view.Taken).Seconds(), "placement")
	ch <- driftAgeDesc.sample(now.Sub(nova.Taken).Seconds(), "nova")

	found := findDrift(view, nova)
	checks := []struct {
		name string
		desc *family
	}{
		{driftAggregateHostNotInPlacement, driftAggHostDesc},
		{driftAggregateProviderNotInNova, driftAggProviderDesc},
		{driftComputeStatusTrait, driftTraitDesc},
		{driftProviderWithoutHypervisor, driftOrphanProviderDesc},
		{driftHypervisorWithoutProvider, driftOrphanHypervisorDesc},
	}
	for _, check := range checks { // a family's samples go together
		if items, judged := found[check.name]; judged {
			ch <- driftProblemsDesc.sample(float64(len(items)), check.name)
		}
	}
	for _, check := range checks {
		for _, item := range found[check.name] {
			ch <- check.desc.sample(1, item...)
		}
	}
	return nil
}

// findDrift runs every check that the two views allow. Providers the
// Placement view left out for lack of data (Unread) are judged by no
// check: their traits and aggregates are not known.
func findDrift(view *PlacementView, nova *NovaView) driftFindings {
	providers := make(map[string]*slots.Provider, len(view.Providers))
	for i := range view.Providers {
		providers[view.Providers[i].UUID] = &view.Providers[i]
	}
	unread := make(map[string]bool, len(view.Unread))
	for _, u := range view.Unread {
		unread[u] = true
	}
	hypervisorsOf := map[string][]NovaHypervisor{} // host -> its compute nodes
	hypervisorByUUID := map[string]NovaHypervisor{}
	for _, h := range nova.Hypervisors {
		hypervisorsOf[h.Host] = append(hypervisorsOf[h.Host], h)
		hypervisorByUUID[h.UUID] = h
	}
	services := map[string]NovaService{}
	for _, s := range nova.Services {
		services[s.Host] = s
	}

	// A check that reads a trait is judged only when the cache keeps it.
	kept := func(trait string) bool { return view.Traits == nil || view.Traits(trait) }
	found := driftFindings{
		driftAggregateHostNotInPlacement: {},
		driftAggregateProviderNotInNova:  {},
	}
	if kept(slots.SharingTrait) {
		found[driftProviderWithoutHypervisor] = []driftItem{}
	}
	novaAggregates := map[string]NovaAggregate{}
	for _, a := range nova.Aggregates {
		novaAggregates[a.UUID] = a
		for _, host := range a.Hosts {
			for _, h := range hypervisorsOf[host] {
				if p := providers[h.UUID]; p != nil && !p.Aggregates[a.UUID] {
					found[driftAggregateHostNotInPlacement] = append(found[driftAggregateHostNotInPlacement], driftItem{a.UUID, host, h.UUID})
				}
			}
		}
	}
	for _, p := range view.Providers {
		h, isNode := hypervisorByUUID[p.UUID]
		if isNode {
			for agg := range p.Aggregates {
				if a, mirrored := novaAggregates[agg]; mirrored && !slices.Contains(a.Hosts, h.Host) {
					found[driftAggregateProviderNotInNova] = append(found[driftAggregateProviderNotInNova], driftItem{agg, h.Host, p.UUID})
				}
			}
			continue
		}
		if _, judged := found[driftProviderWithoutHypervisor]; judged && p.RootUUID() == p.UUID && looksLikeComputeNode(&p) {
			found[driftProviderWithoutHypervisor] = append(found[driftProviderWithoutHypervisor], driftItem{p.UUID})
		}
	}

	if kept(capacityDisabledTrait) {
		items := []driftItem{}
		for _, h := range nova.Hypervisors {
			s, ok := services[h.Host]
			p := providers[h.UUID]
			// A compute that is down cannot sync the trait (Nova does it
			// when the service starts), and the scheduler skips it anyway.
			if !ok || p == nil || !s.Up || s.ForcedDown {
				continue
			}
			switch has := p.Traits[capacityDisabledTrait]; {
			case !s.Enabled && !has:
				items = append(items, driftItem{h.Host, h.UUID, "disabled_without_trait"})
			case s.Enabled && has:
				items = append(items, driftItem{h.Host, h.UUID, "enabled_with_trait"})
			}
		}
		found[driftComputeStatusTrait] = items
	}

	// With placement.scope the listing leaves providers out on purpose.
	if !view.Scoped {
		items := []driftItem{}
		for _, h := range nova.Hypervisors {
			if providers[h.UUID] == nil && !unread[h.UUID] {
				items = append(items, driftItem{h.UUID, h.Host, h.Hostname})
			}
		}
		found[driftHypervisorWithoutProvider] = items
	}
	for _, items := range found {
		sort.Slice(items, func(i, j int) bool { return slices.Compare(items[i], items[j]) < 0 })
	}
	return found
}

// looksLikeComputeNode: a root provider that holds what a compute node
// holds and does not share it (shared storage is a root with no
// hypervisor by design). Ironic nodes hold only a custom class and are not
// judged.
func looksLikeComputeNode(p *slots.Provider) bool {
	if p.Traits[slots.SharingTrait] {
		return false
	}
	for _, inv := range p.Inventories {
		switch inv.Class {
		case "VCPU", "PCPU", "MEMORY_MB":
			return true
		}
	}
	return false
}

// errDriftWithoutNova is New's refusal of --collector.drift alone.
var errDriftWithoutNova = fmt.Errorf("the drift collector compares Nova with Placement: enable --collector.nova and --collector.placement too")
