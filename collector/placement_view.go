package collector

import (
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// publishView gives the Model this poll's picture of the providers, for
// the derived collectors, when one reads it. A provider whose inventories
// or usages are not known yet is left out and counted as pending: a
// partial tree would count as smaller than it is.
func (c *placementCollector) publishView(pcfg *PlacementConfig, providers []resourceProvider) {
	if c.model == nil || !c.model.wantsPlacement() {
		return
	}
	view := &PlacementView{Taken: c.now(), Providers: make([]slots.Provider, 0, len(providers)), Traits: pcfg.cachesTrait, Scoped: pcfg.Scope != nil}
	for _, p := range providers {
		entry := c.cache[p.UUID]
		if entry == nil || !entry.inventories.valid || !entry.usages.valid || !entry.traits.valid || !entry.aggregates.valid {
			view.Pending++
			view.Unread = append(view.Unread, p.UUID)
			continue
		}
		sp := slots.Provider{UUID: p.UUID, Root: p.UUID, Traits: stringSet(entry.traits.value), Aggregates: stringSet(entry.aggregates.value)}
		if p.Root != nil && *p.Root != "" {
			sp.Root = *p.Root
		}
		used := map[string]float64{}
		for _, u := range entry.usages.value {
			used[u.class] = u.used
		}
		for _, inv := range entry.inventories.value {
			sp.Inventories = append(sp.Inventories, slots.Inventory{
				Class: inv.class, Total: inv.Total, Reserved: inv.Reserved, MinUnit: inv.MinUnit, MaxUnit: inv.MaxUnit,
				StepSize: inv.StepSize, AllocationRatio: inv.AllocationRatio, Used: used[inv.class],
			})
		}
		view.Providers = append(view.Providers, sp)
	}
	c.model.publishPlacement(view)
}

func stringSet(ss []string) map[string]bool {
	out := make(map[string]bool, len(ss))
	for _, s := range ss {
		out[s] = true
	}
	return out
}
