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
	placementProvidersDesc = prometheus.NewDesc("openstack_placement_resource_providers",
		"Resource providers listed by Placement (within the configured scope).", nil, nil)
	providerInfoDesc = prometheus.NewDesc("openstack_placement_resource_provider_info",
		"A resource provider and its place in its provider tree (parent empty for a root; both empty below microversion 1.14).",
		[]string{"uuid", "name", "parent_provider_uuid", "root_provider_uuid"}, nil)
	providerGenerationDesc = prometheus.NewDesc("openstack_placement_resource_provider_generation",
		"Generation of the resource provider: Placement increments it on every inventory, trait, allocation and (>= 1.19) aggregate change.",
		[]string{"uuid", "name"}, nil)
	providerDepthDesc = prometheus.NewDesc("openstack_placement_resource_provider_tree_depth",
		"Depth of the provider in its tree: 0 for a root, 1 for its children, and so on.", []string{"uuid", "name"}, nil)
	providerTreesDesc = prometheus.NewDesc("openstack_placement_resource_provider_trees",
		"Provider trees (distinct root providers) among the listed providers.", nil, nil)
	providerTreeSizeDesc = prometheus.NewDesc("openstack_placement_resource_provider_tree_size",
		"Listed providers in the tree of this root provider, the root included.", []string{"root_provider_uuid", "root_provider_name"}, nil)
	providerAggregateDesc = prometheus.NewDesc("openstack_placement_resource_provider_aggregate_info",
		"The provider is a member of the aggregate.", []string{"uuid", "name", "aggregate_uuid"}, nil)
	aggregateProvidersDesc = prometheus.NewDesc("openstack_placement_aggregate_resource_providers",
		"Listed providers that are members of the aggregate.", []string{"aggregate_uuid"}, nil)
	providerTraitDesc = prometheus.NewDesc("openstack_placement_resource_provider_trait_info",
		"The provider has the trait (only traits matching placement.traits_include are exported).", []string{"uuid", "name", "trait"}, nil)
	inventoryLabels    = []string{"uuid", "name", "resource_class"}
	inventoryTotalDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_total",
		"Total amount of the resource class in the provider's inventory.", inventoryLabels, nil)
	inventoryReservedDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_reserved",
		"Amount of the resource class reserved for the host and never allocated.", inventoryLabels, nil)
	inventoryRatioDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_allocation_ratio",
		"Overcommit ratio applied to (total - reserved).", inventoryLabels, nil)
	inventoryMinUnitDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_min_unit",
		"Smallest amount a single allocation may take.", inventoryLabels, nil)
	inventoryMaxUnitDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_max_unit",
		"Largest amount a single allocation may take.", inventoryLabels, nil)
	inventoryStepSizeDesc = prometheus.NewDesc("openstack_placement_resource_provider_inventory_step_size",
		"Allocations must be a multiple of this amount.", inventoryLabels, nil)
	providerCapacityDesc = prometheus.NewDesc("openstack_placement_resource_provider_capacity",
		"Schedulable capacity of the resource class: (total - reserved) * allocation_ratio.", inventoryLabels, nil)
	providerUsageDesc = prometheus.NewDesc("openstack_placement_resource_provider_usage",
		"Amount of the resource class allocated to consumers.", inventoryLabels, nil)
	aggregateClassLabels  = []string{"aggregate_uuid", "resource_class"}
	aggregateCapacityDesc = prometheus.NewDesc("openstack_placement_aggregate_capacity",
		"Capacity of the resource class over the providers in the aggregate: a provider counts when it or the root of its tree is a member (each provider once).", aggregateClassLabels, nil)
	aggregateUsageDesc = prometheus.NewDesc("openstack_placement_aggregate_usage",
		"Usage of the resource class over the providers in the aggregate, counted as for openstack_placement_aggregate_capacity.", aggregateClassLabels, nil)
	queryProvidersDesc = prometheus.NewDesc("openstack_placement_query_resource_providers",
		"Providers the configured query matched in its last successful run.", []string{"query"}, nil)
	querySuccessDesc = prometheus.NewDesc("openstack_placement_query_success",
		"1 if the configured query's last run succeeded, 0 if Placement rejected it, it failed, or the server cannot run it.", []string{"query"}, nil)
	queryMemberDesc = prometheus.NewDesc("openstack_placement_query_resource_provider_info",
		"The provider matched the configured query (queries with export_members only).", []string{"query", "uuid", "name"}, nil)
	placementPendingDesc = prometheus.NewDesc("openstack_placement_resource_providers_pending",
		"Listed providers with an enabled sub-resource (inventories, usages, traits, aggregates) not fetched yet: the exporter warming up after a start (its first polls on a large cloud may time out before every provider is read), requests that failed, or a provider that keeps answering 404 (see openstack_placement_inconsistencies_total{reason=\"subresource_not_found\"}).", nil, nil)
	placementInconsistenciesDesc = prometheus.NewDesc("openstack_placement_inconsistencies_total",
		"Placement data the exporter refused or repaired, counted on every poll it is seen: duplicate_uuid (a uuid listed again; the first entry is kept), missing_uuid (a provider without a uuid; skipped), negative_inventory (a provider's inventory with a negative number; its inventory is left out), subresource_not_found (a provider still listed whose sub-resources answered 404 on two polls in a row).",
		[]string{"reason"}, nil)
)

func (c *placementCollector) emitProviders(pcfg *PlacementConfig, providers []resourceProvider, ch chan<- prometheus.Metric) {
	gauge := func(desc *prometheus.Desc, value float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, labels...)
	}
	gauge(placementProvidersDesc, float64(len(providers)))

	hasTree := !c.version.Less(placementTreeFields)
	byUUID := make(map[string]*resourceProvider, len(providers))
	for i := range providers {
		byUUID[providers[i].UUID] = &providers[i]
	}
	treeSize := map[string]int{}
	aggregateMembers := map[string]int{}
	pending := 0
	for i := range providers {
		p := &providers[i]
		parent, root := deref(p.Parent), deref(p.Root)
		if pcfg.Metrics.ProviderInfo {
			gauge(providerInfoDesc, 1, p.UUID, p.Name, parent, root)
		}
		if pcfg.Metrics.Generation {
			gauge(providerGenerationDesc, float64(p.Generation), p.UUID, p.Name)
		}
		if hasTree && root != "" {
			treeSize[root]++
			if depth, ok := treeDepth(p, byUUID); ok && pcfg.Metrics.Tree {
				gauge(providerDepthDesc, float64(depth), p.UUID, p.Name)
			}
		}
		entry := c.cache[p.UUID]
		if entry == nil {
			continue
		}
		if c.pending(pcfg, entry) {
			pending++
		}
		if pcfg.Metrics.Inventory && entry.inventories.refused != "" {
			c.inconsistent.note(c.logger, reasonNegativeInventory, p.UUID,
				"msg", "Placement gave the resource provider a negative inventory; its inventory and capacity are not exported",
				"uuid", p.UUID, "name", p.Name, "generation", entry.inventories.generation, "detail", entry.inventories.refused)
		}
		if pcfg.Metrics.Aggregates && entry.aggregates.valid {
			for _, agg := range entry.aggregates.value {
				aggregateMembers[agg]++
				gauge(providerAggregateDesc, 1, p.UUID, p.Name, agg)
			}
		}
		if pcfg.Metrics.Traits && entry.traits.valid {
			for _, trait := range entry.traits.value {
				if pcfg.TraitsInclude.MatchString(trait) {
					gauge(providerTraitDesc, 1, p.UUID, p.Name, trait)
				}
			}
		}
		if pcfg.Metrics.Inventory && entry.inventories.valid {
			for class, inv := range entry.inventories.value {
				gauge(inventoryTotalDesc, inv.Total, p.UUID, p.Name, class)
				gauge(inventoryReservedDesc, inv.Reserved, p.UUID, p.Name, class)
				gauge(inventoryRatioDesc, inv.AllocationRatio, p.UUID, p.Name, class)
				gauge(inventoryMinUnitDesc, inv.MinUnit, p.UUID, p.Name, class)
				gauge(inventoryMaxUnitDesc, inv.MaxUnit, p.UUID, p.Name, class)
				gauge(inventoryStepSizeDesc, inv.StepSize, p.UUID, p.Name, class)
				gauge(providerCapacityDesc, (inv.Total-inv.Reserved)*inv.AllocationRatio, p.UUID, p.Name, class)
			}
		}
		if pcfg.Metrics.Usage && entry.usages.valid {
			for class, used := range entry.usages.value {
				gauge(providerUsageDesc, used, p.UUID, p.Name, class)
			}
		}
	}
	gauge(placementPendingDesc, float64(pending))
	if hasTree && pcfg.Metrics.Tree {
		gauge(providerTreesDesc, float64(len(treeSize)))
		for root, size := range treeSize {
			rootName := ""
			if r := byUUID[root]; r != nil {
				rootName = r.Name
			}
			gauge(providerTreeSizeDesc, float64(size), root, rootName)
		}
	}
	if pcfg.Metrics.Aggregates {
		for agg, n := range aggregateMembers {
			gauge(aggregateProvidersDesc, float64(n), agg)
		}
		c.emitAggregateTotals(pcfg, providers, ch)
	}
}

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
				for class, inv := range entry.inventories.value {
					capacity[key{agg, class}] += (inv.Total - inv.Reserved) * inv.AllocationRatio
				}
			}
			if pcfg.Metrics.Usage && entry.usages.valid {
				for class, used := range entry.usages.value {
					usage[key{agg, class}] += used
				}
			}
		}
	}
	for k, v := range capacity {
		ch <- prometheus.MustNewConstMetric(aggregateCapacityDesc, prometheus.GaugeValue, v, k.aggregate, k.class)
	}
	for k, v := range usage {
		ch <- prometheus.MustNewConstMetric(aggregateUsageDesc, prometheus.GaugeValue, v, k.aggregate, k.class)
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
		r := results[i]
		ch <- prometheus.MustNewConstMetric(querySuccessDesc, prometheus.GaugeValue, boolToFloat(r.ok), q.Name)
		if !r.ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(queryProvidersDesc, prometheus.GaugeValue, float64(len(r.members)), q.Name)
		if q.ExportMembers {
			members := append([]resourceProvider(nil), r.members...)
			sort.Slice(members, func(i, j int) bool { return members[i].UUID < members[j].UUID })
			for _, m := range members {
				ch <- prometheus.MustNewConstMetric(queryMemberDesc, prometheus.GaugeValue, 1, q.Name, m.UUID, m.Name)
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
