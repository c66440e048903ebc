package collector

import (
	"context"
	"errors"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
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
	capacityAZLabels   = []string{"availability_zone", "flavor"}
	capacityAZFreeDesc = newGaugeFamily("openstack_capacity_availability_zone_flavor_free_slots",
		"Instances of the flavor that fit now in the availability zone, asked for as Nova asks for a zone: the hosts of its nova-compute services that are up and enabled, with member_of the zone's aggregates.", capacityAZLabels)
	capacityAZTotalDesc = newGaugeFamily("openstack_capacity_availability_zone_flavor_total_slots",
		"Instances of the flavor that would fit in the availability zone with nothing allocated (same hosts).", capacityAZLabels)
	capacityHeadroomDesc = newGaugeFamily("openstack_capacity_flavor_host_loss_headroom_slots",
		"Instances of the flavor that still fit if the one host whose loss hurts most fails and its instances are rebuilt elsewhere: the other hosts' free slots less the host's used resources in instances of the flavor (the class it uses most of, rounded up). Negative: the cloud cannot absorb that loss.", capacityFlavorLabels)
	capacityAZHeadroomDesc = newGaugeFamily("openstack_capacity_availability_zone_flavor_host_loss_headroom_slots",
		"As openstack_capacity_flavor_host_loss_headroom_slots, within the availability zone: its instances must be rebuilt in the same zone. Negative: the zone cannot absorb the loss of its worst host.", capacityAZLabels)
	capacityUnsupportedDesc = newGaugeFamily("openstack_capacity_flavor_unsupported_info",
		"A Nova flavor capacity.flavors picks but the exporter does not count, and why (see the README).", []string{"flavor", "reason"})
	capacityNovaAgeDesc = prometheus.NewDesc("openstack_capacity_nova_data_age_seconds",
		"Age of the Nova poll the counts were made from (services, zones, flavors).", nil, nil)
	capacityPlacementAgeDesc = prometheus.NewDesc("openstack_capacity_placement_data_age_seconds",
		"Age of the Placement poll the counts were made from.", nil, nil)
	capacityPendingDesc = prometheus.NewDesc("openstack_capacity_resource_providers_left_out",
		"Listed resource providers left out of the counts for lack of data (a cold start still reading them, or failed reads): the counts are low by what they hold.", nil, nil)
)

type capacityCollector struct {
	model   *Model
	session *openstack.Session // for the cross-check only
	now     func() time.Time
	// checked is the last cross-check (nil before one); only Update,
	// which the poller never runs twice at once, touches it.
	checked *crossCheck
}

func newCapacityCollector(deps Deps) (Collector, error) {
	deps.Model.WantPlacement()
	if deps.Model.NovaPolled() {
		deps.Model.WantNova()
	}
	return &capacityCollector{model: deps.Model, session: deps.Session, now: time.Now}, nil
}

// CheckConfig refuses Nova flavors without the Nova collector (at start-up
// and on reload).
func (c *capacityCollector) CheckConfig(cfg *Config) error {
	if cfg.Capacity.Flavors != nil && !c.model.NovaPolled() {
		return errNovaFlavorsWithoutNova
	}
	return nil
}

var errNovaFlavorsWithoutNova = errors.New("capacity.flavors counts Nova flavors, read by the nova collector: enable --collector.nova too, or remove capacity.flavors")

// countedShape is one flavor counted: one shape, or two when Nova sends a
// fallback query (a host counts for whichever fits more).
type countedShape struct {
	name   string
	shapes []slots.Shape
}

func (c *capacityCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	view := c.model.Placement(ctx) // waits for the first Placement poll, within this count's timeout
	if view == nil {
		return errors.New("no Placement data yet: the placement collector's first poll has not listed the providers within capacity.interval")
	}
	var nova *NovaView
	var novaErr error
	switch {
	case c.model.NovaPolled():
		if nova = c.model.Nova(ctx); nova == nil {
			novaErr = errors.New("no Nova data yet: the nova collector's first poll has not ended within capacity.interval; Nova flavors, zones and service states are left out")
		}
	case cfg.Capacity.Flavors != nil:
		novaErr = errNovaFlavorsWithoutNova
	}
	ch <- prometheus.MustNewConstMetric(capacityPlacementAgeDesc, prometheus.GaugeValue, c.now().Sub(view.Taken).Seconds())
	ch <- prometheus.MustNewConstMetric(capacityPendingDesc, prometheus.GaugeValue, float64(view.Pending))
	if nova != nil {
		ch <- prometheus.MustNewConstMetric(capacityNovaAgeDesc, prometheus.GaugeValue, c.now().Sub(nova.Taken).Seconds())
	}

	shapes, unsupported := flavorsCounted(&cfg.Capacity, view, nova)
	providers := view.Providers
	if nova != nil {
		providers = schedulable(providers, nova)
	}
	counts := make([][]slots.Tree, len(shapes))
	for i, cs := range shapes {
		counts[i] = countShape(providers, cs, nil)
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
		for i, cs := range shapes {
			ch <- fam.desc.sample(float64(fam.of(counts[i])), cs.name)
		}
	}

	byRoot := map[string][]slots.Provider{}
	for _, p := range providers {
		byRoot[p.RootUUID()] = append(byRoot[p.RootUUID()], p)
	}
	usage := newTreeUsage(byRoot)
	for i, cs := range shapes {
		ch <- capacityHeadroomDesc.sample(float64(hostLossHeadroom(counts[i], usage, cs)), cs.name)
	}
	// Per aggregate, each shape as Nova asks for it in an availability zone:
	// with member_of the aggregate, on the trees that touch it.
	members := treeAggregates(providers)
	aggs := make([]string, 0, len(members))
	for agg := range members {
		aggs = append(aggs, agg)
	}
	sort.Strings(aggs)
	scoped := newScopedCounter(byRoot, counts, shapes)
	aggCounts := make([][][]slots.Tree, len(aggs)) // [aggregate][shape]
	for a, agg := range aggs {
		roots := make([]string, 0, len(members[agg]))
		for root := range members[agg] {
			roots = append(roots, root)
		}
		aggCounts[a] = scoped.count(roots, []string{agg})
	}
	emitScoped(ch, capacityAggFreeDesc, capacityAggTotalDesc, aggs, shapes, aggCounts)

	if nova != nil {
		zones, zoneCounts := countZones(nova, scoped)
		emitScoped(ch, capacityAZFreeDesc, capacityAZTotalDesc, zones, shapes, zoneCounts)
		for z, zone := range zones {
			for i, cs := range shapes {
				ch <- capacityAZHeadroomDesc.sample(float64(hostLossHeadroom(zoneCounts[z][i], usage, cs)), zone, cs.name)
			}
		}
	}
	for _, u := range unsupported {
		ch <- capacityUnsupportedDesc.sample(1, u.Name, u.Unsupported)
	}
	checkErr := c.crossCheck(ctx, &cfg.Capacity, view, shapes, ch)
	return errors.Join(novaErr, checkErr)
}

// crossCheck runs the cross-check when due and sends the last outcome for
// the flavors counted now.
func (c *capacityCollector) crossCheck(ctx context.Context, cfg *CapacityConfig, view *PlacementView, shapes []countedShape, ch chan<- prometheus.Metric) error {
	every := time.Duration(cfg.CrossCheckInterval)
	if every <= 0 || c.session == nil {
		c.checked = nil
		return nil
	}
	var err error
	if c.checked == nil || c.now().Sub(c.checked.at) >= every {
		var checked *crossCheck
		if checked, err = c.runCrossCheck(ctx, view, shapes); err == nil {
			c.checked = checked
		}
	}
	if c.checked == nil {
		return err
	}
	ch <- capacityCrossCheckAgeDesc.sample(c.now().Sub(c.checked.at).Seconds())
	for _, fam := range []struct {
		desc *family
		of   map[string]bool
	}{{capacityCandidatesDesc, c.checked.candidates}, {capacityDisagreesDesc, c.checked.disagrees}} {
		for _, cs := range shapes {
			if v, ok := fam.of[cs.name]; ok {
				ch <- fam.desc.sample(float64(boolToInt(v)), cs.name)
			}
		}
	}
	return err
}

// emitScoped sends the free and total families of counts per scope
// (aggregate, zone) and shape.
func emitScoped(ch chan<- prometheus.Metric, free, total *family, scopes []string, shapes []countedShape, counts [][][]slots.Tree) {
	for _, fam := range []struct {
		desc *family
		of   func(t slots.Tree) int64
	}{
		{free, func(t slots.Tree) int64 { return t.Free }},
		{total, func(t slots.Tree) int64 { return t.Total }},
	} {
		for s, scope := range scopes {
			for i, cs := range shapes {
				ch <- fam.desc.sample(float64(sumTrees(counts[s][i], fam.of)), scope, cs.name)
			}
		}
	}
}

// flavorsCounted lists the flavors counted: the virtual ones, then the
// Nova flavors capacity.flavors picks, and those it picks but cannot count.
func flavorsCounted(cfg *CapacityConfig, view *PlacementView, nova *NovaView) (counted []countedShape, unsupported []flavorRequest) {
	virtual := map[string]bool{}
	for _, vf := range cfg.shapes() {
		counted = append(counted, countedShape{vf.Name, []slots.Shape{vf.Shape}})
		virtual[vf.Name] = true
	}
	if nova == nil || cfg.Flavors == nil {
		return counted, nil
	}
	for _, f := range nova.Flavors {
		if !cfg.Flavors.MatchString(f.Name) {
			continue
		}
		req := translateFlavor(f)
		if virtual[f.Name] {
			req.Unsupported = unsupportedNameTaken
		}
		for _, shape := range req.Shapes {
			for _, t := range append(append([]string(nil), shape.Required...), shape.Forbidden...) {
				if req.Unsupported == "" && view.Traits != nil && !view.Traits(t) {
					req.Unsupported = unsupportedTraitNotRead
				}
			}
		}
		if req.Unsupported != "" {
			unsupported = append(unsupported, req)
			continue
		}
		cs := countedShape{name: f.Name}
		for _, shape := range req.Shapes {
			shape.RootForbidden = []string{capacityDisabledTrait}
			cs.shapes = append(cs.shapes, shape)
		}
		counted = append(counted, cs)
	}
	return counted, unsupported
}

// countShape counts a flavor on providers, with member_of the given
// aggregates (any of) when not nil. With a fallback query a tree counts
// for whichever query fits more instances on it.
func countShape(providers []slots.Provider, cs countedShape, memberOf []string) []slots.Tree {
	var best []slots.Tree
	for _, shape := range cs.shapes {
		if memberOf != nil {
			shape.MemberOf = append(append([][]string(nil), shape.MemberOf...), memberOf)
		}
		trees := slots.Count(providers, shape) // in root order, whatever the shape
		if best == nil {
			best = trees
			continue
		}
		for i, t := range trees {
			if t.Free > best[i].Free || (t.Free == best[i].Free && t.Total > best[i].Total) {
				best[i] = t
			}
		}
	}
	return best
}

// schedulable keeps the trees whose root is a compute node whose
// nova-compute service is up, enabled and not forced down: the only hosts
// Nova's scheduler considers (host states exist only for compute nodes
// with a service; ComputeFilter drops the others).
func schedulable(providers []slots.Provider, nova *NovaView) []slots.Provider {
	ok := map[string]bool{}
	for _, s := range nova.Services {
		ok[s.Host] = s.Schedulable()
	}
	roots := map[string]bool{}
	for _, h := range nova.Hypervisors {
		if ok[h.Host] {
			roots[h.UUID] = true
		}
	}
	out := make([]slots.Provider, 0, len(providers))
	for _, p := range providers {
		if roots[p.RootUUID()] {
			out = append(out, p)
		}
	}
	return out
}

// countZones counts each shape per availability zone, as Nova places a
// boot that names the zone: on the hosts whose nova-compute service is in
// it, with member_of every aggregate whose availability_zone is the zone
// (Zed's map_az_to_placement_aggregate); a zone no aggregate names (the
// default "nova") adds no member_of.
func countZones(nova *NovaView, scoped *scopedCounter) ([]string, [][][]slots.Tree) {
	zoneOf := map[string]string{}
	zoneSet := map[string]bool{}
	for _, s := range nova.Services {
		zoneOf[s.Host] = s.Zone
		zoneSet[s.Zone] = true
	}
	zones := make([]string, 0, len(zoneSet))
	for z := range zoneSet {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	counts := make([][][]slots.Tree, len(zones))
	for z, zone := range zones {
		var roots []string
		for _, h := range nova.Hypervisors {
			if zoneOf[h.Host] == zone {
				roots = append(roots, h.UUID)
			}
		}
		var memberOf []string
		for _, a := range nova.Aggregates {
			if a.AvailabilityZone == zone {
				memberOf = append(memberOf, a.UUID)
			}
		}
		counts[z] = scoped.count(roots, memberOf)
	}
	return zones, counts
}

// scopedCounter counts the shapes on a subset of the trees, with member_of
// one of some aggregates, reusing the cloud-wide count of each tree whose
// root is in one of them: Placement lets every provider of such a tree
// pass member_of through its root, so the tree counts as it does with no
// member_of. Only the trees that touch the aggregates through a child are
// counted again. At 10,000 hosts this makes the per-aggregate and per-zone
// counts a lookup instead of a recount per scope.
type scopedCounter struct {
	byRoot map[string][]slots.Provider
	shapes []countedShape
	cloud  [][]slots.Tree             // [shape][tree], in root order
	index  map[string]int             // root -> its position in cloud[i]
	aggsOf map[string]map[string]bool // root -> the aggregates of the root provider
}

func newScopedCounter(byRoot map[string][]slots.Provider, cloud [][]slots.Tree, shapes []countedShape) *scopedCounter {
	sc := &scopedCounter{byRoot: byRoot, shapes: shapes, cloud: cloud, index: map[string]int{}, aggsOf: map[string]map[string]bool{}}
	if len(cloud) > 0 {
		for i, t := range cloud[0] {
			sc.index[t.Root] = i
		}
	}
	for root, tree := range byRoot {
		for i := range tree {
			if tree[i].UUID == root {
				sc.aggsOf[root] = tree[i].Aggregates
			}
		}
	}
	return sc
}

// count returns [shape][tree] for the trees of roots (those with
// providers), with member_of any of memberOf (none when nil).
func (sc *scopedCounter) count(roots []string, memberOf []string) [][]slots.Tree {
	out := make([][]slots.Tree, len(sc.shapes))
	for s := range out {
		out[s] = make([]slots.Tree, 0, len(roots))
	}
	var again []slots.Provider
	for _, root := range roots {
		tree := sc.byRoot[root]
		if len(tree) == 0 {
			continue
		}
		i, counted := sc.index[root]
		if counted && (memberOf == nil || anyIn(sc.aggsOf[root], memberOf)) {
			for s := range sc.shapes {
				out[s] = append(out[s], sc.cloud[s][i])
			}
			continue
		}
		again = append(again, tree...)
	}
	if len(again) > 0 {
		for s, cs := range sc.shapes {
			out[s] = append(out[s], countShape(again, cs, memberOf)...)
		}
	}
	return out
}

func anyIn(set map[string]bool, keys []string) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}

// treeAggregates maps each aggregate to the roots of the trees one of
// whose providers is in it: the trees a member_of that aggregate may use.
func treeAggregates(providers []slots.Provider) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, p := range providers {
		root := p.RootUUID()
		for agg := range p.Aggregates {
			if out[agg] == nil {
				out[agg] = map[string]bool{}
			}
			out[agg][root] = true
		}
	}
	return out
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

// hostLossHeadroom is how many instances of the shape still fit among
// trees once the tree whose loss leaves the least room fails and what it
// holds is rebuilt on the others: for each host, the others' free slots
// less its allocations in instances of the shape (displaced), and the
// smallest of these. It is an estimate: the lost instances are of many
// flavors, here re-expressed as this one by the class they use most of.
// Sharing providers are not hosts and do not fail with one. No host: 0.
func hostLossHeadroom(trees []slots.Tree, usage treeUsage, cs countedShape) int64 {
	var free int64
	hosts := 0
	for _, t := range trees {
		if usage.sharing[t.Root] {
			continue
		}
		free += t.Free
		hosts++
	}
	if hosts == 0 || len(cs.shapes) == 0 {
		return 0
	}
	worst := int64(math.MaxInt64)
	for _, t := range trees {
		if usage.sharing[t.Root] {
			continue
		}
		if h := free - t.Free - usage.displaced(t.Root, cs.shapes[0]); h < worst {
			worst = h
		}
	}
	return worst
}

// treeUsage is what each tree has allocated, per class, summed over its
// providers, and which trees are rooted at a sharing provider.
type treeUsage struct {
	used    map[string]map[string]float64 // root -> class -> used
	sharing map[string]bool
}

func newTreeUsage(byRoot map[string][]slots.Provider) treeUsage {
	u := treeUsage{used: make(map[string]map[string]float64, len(byRoot)), sharing: map[string]bool{}}
	for root, tree := range byRoot {
		used := map[string]float64{}
		for _, p := range tree {
			for _, inv := range p.Inventories {
				used[inv.Class] += inv.Used
			}
			if p.UUID == root && p.Traits[slots.SharingTrait] {
				u.sharing[root] = true
			}
		}
		u.used[root] = used
	}
	return u
}

// displaced is a tree's allocations counted in instances of the shape: for
// each class the shape asks for, the tree's usage over the amount, rounded
// up; the largest of these.
func (u treeUsage) displaced(root string, shape slots.Shape) int64 {
	used := u.used[root]
	var n int64
	for class, amount := range shape.Resources {
		if amount > 0 {
			n = max(n, int64(math.Ceil(used[class]/amount)))
		}
	}
	return n
}
