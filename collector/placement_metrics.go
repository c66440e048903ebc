package collector

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// The Placement collector's metrics, and how a poll's providers and cached
// sub-resources become them.

var (
	placementUpDesc = prometheus.NewDesc("openstack_placement_up",
		"1 if the last poll of the Placement resource provider list succeeded, 0 if not.", nil, nil)
	placementVersionDesc = prometheus.NewDesc("openstack_placement_api_version_info",
		"Microversion range the Placement API offers, and the microversion the exporter uses.", []string{"min_version", "max_version", "version"}, nil)
	placementProvidersDesc = newGaugeFamily("openstack_placement_resource_providers",
		"Resource providers listed by Placement (within the configured scope).", nil)
	providerInfoDesc = newGaugeFamily("openstack_placement_resource_provider_info",
		"A resource provider and its place in its provider tree (parent empty for a root; both empty below microversion 1.14).",
		[]string{"uuid", "name", "parent_provider_uuid", "root_provider_uuid"})
	providerGenerationDesc = newGaugeFamily("openstack_placement_resource_provider_generation",
		"Generation of the resource provider: Placement increments it on every inventory, trait, allocation and (>= 1.19) aggregate change.",
		[]string{"uuid", "name"})
	providerDepthDesc = newGaugeFamily("openstack_placement_resource_provider_tree_depth",
		"Depth of the provider in its tree: 0 for a root, 1 for its children, and so on.", []string{"uuid", "name"})
	providerTreesDesc = newGaugeFamily("openstack_placement_resource_provider_trees",
		"Provider trees (distinct root providers) among the listed providers.", nil)
	providerTreeSizeDesc = newGaugeFamily("openstack_placement_resource_provider_tree_size",
		"Listed providers in the tree of this root provider, the root included.", []string{"root_provider_uuid", "root_provider_name"})
	providerAggregateDesc = newGaugeFamily("openstack_placement_resource_provider_aggregate_info",
		"The provider is a member of the aggregate.", []string{"uuid", "name", "aggregate_uuid"})
	aggregateProvidersDesc = newGaugeFamily("openstack_placement_aggregate_resource_providers",
		"Listed providers that are members of the aggregate.", []string{"aggregate_uuid"})
	providerTraitDesc = newGaugeFamily("openstack_placement_resource_provider_trait_info",
		"The provider has the trait (only traits matching placement.traits_include are exported).", []string{"uuid", "name", "trait"})
	inventoryLabels    = []string{"uuid", "name", "resource_class"}
	inventoryTotalDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_total_units",
		"Total amount of the resource class in the provider's inventory.", inventoryLabels)
	inventoryReservedDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_reserved",
		"Amount of the resource class reserved for the host and never allocated.", inventoryLabels)
	inventoryRatioDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_allocation_ratio",
		"Overcommit ratio applied to (total - reserved).", inventoryLabels)
	inventoryMinUnitDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_min_unit",
		"Smallest amount a single allocation may take.", inventoryLabels)
	inventoryMaxUnitDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_max_unit",
		"Largest amount a single allocation may take.", inventoryLabels)
	inventoryStepSizeDesc = newGaugeFamily("openstack_placement_resource_provider_inventory_step_size",
		"Allocations must be a multiple of this amount.", inventoryLabels)
	providerCapacityDesc = newGaugeFamily("openstack_placement_resource_provider_capacity",
		"Schedulable capacity of the resource class: (total - reserved) * allocation_ratio.", inventoryLabels)
	providerUsageDesc = newGaugeFamily("openstack_placement_resource_provider_usage",
		"Amount of the resource class allocated to consumers.", inventoryLabels)
	aggregateClassLabels  = []string{"aggregate_uuid", "resource_class"}
	aggregateCapacityDesc = newGaugeFamily("openstack_placement_aggregate_capacity",
		"Capacity of the resource class over the providers in the aggregate: a provider counts when it or the root of its tree is a member (each provider once).", aggregateClassLabels)
	aggregateUsageDesc = newGaugeFamily("openstack_placement_aggregate_usage",
		"Usage of the resource class over the providers in the aggregate, counted as for openstack_placement_aggregate_capacity.", aggregateClassLabels)
	queryProvidersDesc = newGaugeFamily("openstack_placement_query_resource_providers",
		"Providers the configured query matched in its last successful run.", []string{"query"})
	querySuccessDesc = newGaugeFamily("openstack_placement_query_success",
		"1 if the configured query's last run succeeded, 0 if Placement rejected it, it failed, or the server cannot run it.", []string{"query"})
	queryMemberDesc = newGaugeFamily("openstack_placement_query_resource_provider_info",
		"The provider matched the configured query (queries with export_members only).", []string{"query", "uuid", "name"})
	placementPendingDesc = newGaugeFamily("openstack_placement_resource_providers_pending",
		"Listed providers with an enabled sub-resource (inventories, usages, traits, aggregates) not fetched yet: the exporter warming up after a start (its first polls on a large cloud may time out before every provider is read), requests that failed, or a provider that keeps answering 404 (see openstack_placement_inconsistencies_total{reason=\"subresource_not_found\"}).", nil)
	placementInconsistenciesDesc = prometheus.NewDesc("openstack_placement_inconsistencies_total",
		"Placement data the exporter refused or repaired, counted on every poll it is seen: duplicate_uuid (a uuid listed again; the first entry is kept), missing_uuid (a provider without a uuid; skipped), negative_inventory (a provider's inventory with a negative number; its inventory is left out), subresource_not_found (a provider still listed whose sub-resources answered 404 on two polls in a row).",
		[]string{"reason"}, nil)
)

// emitProviders sends the provider families, each family whole before the
// next (see snapshotEncoder).
func (c *placementCollector) emitProviders(pcfg *PlacementConfig, providers []resourceProvider, ch chan<- prometheus.Metric) {
	send := func(f *family, value float64, labels ...string) { ch <- f.sample(value, labels...) }
	// each calls fn for every listed provider and its cache entry (nil when
	// the provider has none yet).
	each := func(fn func(p *resourceProvider, e *providerCache)) {
		for i := range providers {
			fn(&providers[i], c.cache[providers[i].UUID])
		}
	}
	send(placementProvidersDesc, float64(len(providers)))

	hasTree := !c.version.Less(placementTreeFields)
	byUUID := make(map[string]*resourceProvider, len(providers))
	for i := range providers {
		byUUID[providers[i].UUID] = &providers[i]
	}
	pending := 0
	each(func(p *resourceProvider, e *providerCache) {
		if e == nil {
			return
		}
		if c.pending(pcfg, e) {
			pending++
		}
		if pcfg.Metrics.Inventory && e.inventories.refused != "" {
			c.inconsistent.note(c.logger, reasonNegativeInventory, p.UUID,
				"msg", "Placement gave the resource provider a negative inventory; its inventory and capacity are not exported",
				"uuid", p.UUID, "name", p.Name, "generation", e.inventories.generation, "detail", e.inventories.refused)
		}
	})
	send(placementPendingDesc, float64(pending))

	if pcfg.Metrics.ProviderInfo {
		each(func(p *resourceProvider, _ *providerCache) {
			send(providerInfoDesc, 1, p.UUID, p.Name, deref(p.Parent), deref(p.Root))
		})
	}
	if pcfg.Metrics.Generation {
		each(func(p *resourceProvider, _ *providerCache) {
			send(providerGenerationDesc, float64(p.Generation), p.UUID, p.Name)
		})
	}
	if hasTree && pcfg.Metrics.Tree {
		treeSize := map[string]int{}
		each(func(p *resourceProvider, _ *providerCache) {
			if root := deref(p.Root); root != "" {
				treeSize[root]++
				if depth, ok := treeDepth(p, byUUID); ok {
					send(providerDepthDesc, float64(depth), p.UUID, p.Name)
				}
			}
		})
		send(providerTreesDesc, float64(len(treeSize)))
		for root, size := range treeSize {
			rootName := ""
			if r := byUUID[root]; r != nil {
				rootName = r.Name
			}
			send(providerTreeSizeDesc, float64(size), root, rootName)
		}
	}
	if pcfg.Metrics.Aggregates {
		aggregateMembers := map[string]int{}
		each(func(p *resourceProvider, e *providerCache) {
			if e == nil || !e.aggregates.valid {
				return
			}
			for _, agg := range e.aggregates.value {
				aggregateMembers[agg]++
				send(providerAggregateDesc, 1, p.UUID, p.Name, agg)
			}
		})
		for agg, n := range aggregateMembers {
			send(aggregateProvidersDesc, float64(n), agg)
		}
	}
	if pcfg.Metrics.Traits {
		each(func(p *resourceProvider, e *providerCache) {
			if e == nil || !e.traits.valid {
				return
			}
			for _, trait := range e.traits.value {
				if pcfg.TraitsInclude.MatchString(trait) {
					send(providerTraitDesc, 1, p.UUID, p.Name, trait)
				}
			}
		})
	}
	if pcfg.Metrics.Inventory {
		type field struct {
			fam   *family
			value func(inventory) float64
		}
		fields := []field{
			{inventoryTotalDesc, func(inv inventory) float64 { return inv.Total }},
			{inventoryReservedDesc, func(inv inventory) float64 { return inv.Reserved }},
			{inventoryRatioDesc, func(inv inventory) float64 { return inv.AllocationRatio }},
			{providerCapacityDesc, inventory.capacity},
		}
		if pcfg.Metrics.InventoryUnits {
			fields = append(fields,
				field{inventoryMinUnitDesc, func(inv inventory) float64 { return inv.MinUnit }},
				field{inventoryMaxUnitDesc, func(inv inventory) float64 { return inv.MaxUnit }},
				field{inventoryStepSizeDesc, func(inv inventory) float64 { return inv.StepSize }})
		}
		for _, field := range fields {
			each(func(p *resourceProvider, e *providerCache) {
				if e == nil || !e.inventories.valid {
					return
				}
				for _, ci := range e.inventories.value {
					send(field.fam, field.value(ci.inventory), p.UUID, p.Name, ci.class)
				}
			})
		}
	}
	if pcfg.Metrics.Usage {
		each(func(p *resourceProvider, e *providerCache) {
			if e == nil || !e.usages.valid {
				return
			}
			for _, cu := range e.usages.value {
				send(providerUsageDesc, cu.used, p.UUID, p.Name, cu.class)
			}
		})
	}
	if pcfg.Metrics.Aggregates {
		c.emitAggregateTotals(pcfg, providers, ch)
	}
}

// capacity is what Placement lets allocations take of the inventory.
func (inv inventory) capacity() float64 { return (inv.Total - inv.Reserved) * inv.AllocationRatio }

// emitAggregateTotals sums capacity and usage per aggregate and class. Nova
// puts compute nodes (tree roots) in aggregates, so a NUMA or GPU child
// counts for its root's aggregates; a sharing provider counts for its own.
func (c *placementCollector) emitAggregateTotals(pcfg *PlacementConfig, providers []resourceProvider, ch chan<- prometheus.Metric) {
	type key struct{ aggregate, class string }
	capacity, usage := map[key]float64{}, map[key]float64{}
	aggregatesOf := func(uuid string) []string {
		if e := c.cache[uuid]; e != nil && e.aggregates.valid {
			return e.aggregates.value
		}
		return nil
	}
	for _, p := range providers {
		entry := c.cache[p.UUID]
		if entry == nil {
			continue
		}
		members := map[string]bool{}
		for _, agg := range aggregatesOf(p.UUID) {
			members[agg] = true
		}
		if root := deref(p.Root); root != "" && root != p.UUID {
			for _, agg := range aggregatesOf(root) {
				members[agg] = true
			}
		}
		for agg := range members {
			if pcfg.Metrics.Inventory && entry.inventories.valid {
				for _, ci := range entry.inventories.value {
					capacity[key{agg, ci.class}] += ci.capacity()
				}
			}
			if pcfg.Metrics.Usage && entry.usages.valid {
				for _, cu := range entry.usages.value {
					usage[key{agg, cu.class}] += cu.used
				}
			}
		}
	}
	for k, v := range capacity {
		ch <- aggregateCapacityDesc.sample(v, k.aggregate, k.class)
	}
	for k, v := range usage {
		ch <- aggregateUsageDesc.sample(v, k.aggregate, k.class)
	}
}

// treeDepth follows parents within the listed providers. It fails when an
// ancestor is outside the scope, rather than guessing.
func treeDepth(p *resourceProvider, byUUID map[string]*resourceProvider) (int, bool) {
	depth := 0
	for cur := p; cur.Parent != nil && *cur.Parent != ""; depth++ {
		next := byUUID[*cur.Parent]
		if next == nil || depth > len(byUUID) {
			return 0, false
		}
		cur = next
	}
	return depth, true
}

func emitQueries(pcfg *PlacementConfig, results []queryResult, ch chan<- prometheus.Metric) {
	for i, q := range pcfg.Queries {
		ch <- querySuccessDesc.sample(boolToFloat(results[i].ok), q.Name)
	}
	for i, q := range pcfg.Queries {
		if results[i].ok {
			ch <- queryProvidersDesc.sample(float64(len(results[i].members)), q.Name)
		}
	}
	for i, q := range pcfg.Queries {
		if !results[i].ok || !q.ExportMembers {
			continue
		}
		members := append([]resourceProvider(nil), results[i].members...)
		sort.Slice(members, func(i, j int) bool { return members[i].UUID < members[j].UUID })
		for _, m := range members {
			ch <- queryMemberDesc.sample(1, q.Name, m.UUID, m.Name)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
