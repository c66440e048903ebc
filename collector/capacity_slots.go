package collector

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// The capacity collector sends no request: it counts, on every interval,
// how many more instances of each configured shape fit the providers of the
// latest Placement poll (Model.Placement), by Placement's rules (package
// slots). Cost: zero requests; at 10,000 providers a count is a few
// milliseconds per shape.
func init() {
	registerCollector("capacity", false, newCapacityCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Capacity.Interval), Timeout: time.Duration(c.Capacity.Interval)}
	})
}

var (
	capacityFlavorLabels = []string{"flavor"}
	capacityAggLabels    = []string{"aggregate_uuid", "flavor"}

	capacityFreeDesc = newGaugeFamily("openstack_capacity_flavor_free_slots",
		"Instances of the flavor that fit in the cloud now: summed over provider trees, each counted by Placement's rules (traits, aggregates, capacity, min_unit, max_unit, step_size).", capacityFlavorLabels)
	capacityTotalDesc = newGaugeFamily("openstack_capacity_flavor_total_slots",
		"Instances of the flavor that would fit in the cloud with nothing allocated.", capacityFlavorLabels)
	capacityHostsDesc = newGaugeFamily("openstack_capacity_flavor_hosts",
		"Provider trees (hosts) whose traits and aggregates allow the flavor.", capacityFlavorLabels)
	capacityHostsWithRoomDesc = newGaugeFamily("openstack_capacity_flavor_hosts_with_room",
		"Provider trees (hosts) that can take at least one more instance of the flavor now.", capacityFlavorLabels)
	capacityLowerBoundDesc = newGaugeFamily("openstack_capacity_flavor_hosts_lower_bound",
		"Provider trees whose count is a lower bound: more than two resource classes had a choice of provider and the trait or root rules tied them.", capacityFlavorLabels)
	capacityAggFreeDesc = newGaugeFamily("openstack_capacity_aggregate_flavor_free_slots",
		"Instances of the flavor that fit now when asked for with member_of the Placement aggregate (as Nova asks for an availability zone).", capacityAggLabels)
	capacityAggTotalDesc = newGaugeFamily("openstack_capacity_aggregate_flavor_total_slots",
		"Instances of the flavor that would fit with member_of the Placement aggregate, with nothing allocated.", capacityAggLabels)
	capacityPlacementAgeDesc = prometheus.NewDesc("openstack_capacity_placement_data_age_seconds",
		"Age of the Placement poll the counts were made from.", nil, nil)
	capacityPendingDesc = prometheus.NewDesc("openstack_capacity_resource_providers_left_out",
		"Listed resource providers left out of the counts for lack of data (a cold start still reading them, or failed reads): the counts are low by what they hold.", nil, nil)
)

type capacityCollector struct {
	model *Model
	now   func() time.Time
}

func newCapacityCollector(deps Deps) (Collector, error) {
	deps.Model.WantPlacement()
	return &capacityCollector{model: deps.Model, now: time.Now}, nil
}

func (c *capacityCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	view := c.model.Placement(ctx) // waits for the first Placement poll, within this count's timeout
	if view == nil {
		return errors.New("no Placement data yet: the placement collector's first poll has not listed the providers within capacity.interval")
	}
	ch <- prometheus.MustNewConstMetric(capacityPlacementAgeDesc, prometheus.GaugeValue, c.now().Sub(view.Taken).Seconds())
	ch <- prometheus.MustNewConstMetric(capacityPendingDesc, prometheus.GaugeValue, float64(view.Pending))

	shapes := cfg.Capacity.shapes()
	counts := make([][]slots.Tree, len(shapes))
	for i, vf := range shapes {
		counts[i] = slots.Count(view.Providers, vf.Shape)
	}
	for _, fam := range []struct {
		desc *family
		of   func(trees []slots.Tree) int64
	}{
		{capacityFreeDesc, func(ts []slots.Tree) int64 { return sumTrees(ts, func(t slots.Tree) int64 { return t.Free }) }},
		{capacityTotalDesc, func(ts []slots.Tree) int64 { return sumTrees(ts, func(t slots.Tree) int64 { return t.Total }) }},
		{capacityHostsDesc, func(ts []slots.Tree) int64 {
			return sumTrees(ts, func(t slots.Tree) int64 { return boolToInt(t.Qualifies) })
		}},
		{capacityHostsWithRoomDesc, func(ts []slots.Tree) int64 {
			return sumTrees(ts, func(t slots.Tree) int64 { return boolToInt(t.Free > 0) })
		}},
		{capacityLowerBoundDesc, func(ts []slots.Tree) int64 {
			return sumTrees(ts, func(t slots.Tree) int64 { return boolToInt(t.LowerBound) })
		}},
	} {
		for i, vf := range shapes {
			ch <- fam.desc.sample(float64(fam.of(counts[i])), vf.Name)
		}
	}

	// Per aggregate, each shape as Nova asks for it in an availability zone:
	// with member_of the aggregate, on the trees that touch it.
	members := treeAggregates(view.Providers)
	aggs := make([]string, 0, len(members))
	for agg := range members {
		aggs = append(aggs, agg)
	}
	sort.Strings(aggs)
	byRoot := map[string][]slots.Provider{}
	for _, p := range view.Providers {
		byRoot[rootOf(p)] = append(byRoot[rootOf(p)], p)
	}
	aggCounts := make([][][]slots.Tree, len(aggs)) // [aggregate][shape]
	for a, agg := range aggs {
		var providers []slots.Provider
		for root := range members[agg] {
			providers = append(providers, byRoot[root]...)
		}
		aggCounts[a] = make([][]slots.Tree, len(shapes))
		for i, vf := range shapes {
			shape := vf.Shape
			shape.MemberOf = append(append([][]string(nil), shape.MemberOf...), []string{agg})
			aggCounts[a][i] = slots.Count(providers, shape)
		}
	}
	for _, fam := range []struct {
		desc *family
		of   func(t slots.Tree) int64
	}{
		{capacityAggFreeDesc, func(t slots.Tree) int64 { return t.Free }},
		{capacityAggTotalDesc, func(t slots.Tree) int64 { return t.Total }},
	} {
		for a, agg := range aggs {
			for i, vf := range shapes {
				ch <- fam.desc.sample(float64(sumTrees(aggCounts[a][i], fam.of)), agg, vf.Name)
			}
		}
	}
	return nil
}

// treeAggregates maps each aggregate to the roots of the trees one of
// whose providers is in it: the trees a member_of that aggregate may use.
func treeAggregates(providers []slots.Provider) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range providers {
		root := rootOf(p)
		for agg := range p.Aggregates {
			if out[agg] == nil {
				out[agg] = map[string]bool{}
			}
			out[agg][root] = true
		}
	}
	return out
}

func rootOf(p slots.Provider) string {
	if p.Root == "" {
		return p.UUID
	}
	return p.Root
}

func sumTrees(trees []slots.Tree, f func(slots.Tree) int64) int64 {
	var n int64
	for _, t := range trees {
		n += f(t)
	}
	return n
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
