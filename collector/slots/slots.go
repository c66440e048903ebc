// Package slots counts how many more instances of one shape fit a cloud's
// resource providers, by the rules Placement (8.0.0, Zed) applies to one
// unsuffixed request group and Nova (26, Zed) to its candidates, from data
// the exporter already holds: no request to any API.
//
// For one provider tree (a root and its descendants) and one instance:
//
//   - each resource class of the shape comes whole from one provider of
//     the tree; different classes may come from different providers (VCPU
//     from the root, VGPU from a child);
//   - a provider can supply amount a of class c when a is within its
//     min_unit and max_unit, a multiple of its step_size, and used + a <=
//     int((total - reserved) * allocation_ratio);
//   - no supplying provider has a forbidden trait; the supplying providers
//     together have every required trait (a trait on a root that supplies
//     nothing does not count);
//   - each supplying provider, or the root, is in every member_of list;
//   - the root has none of the root-forbidden traits (Nova's
//     !COMPUTE_STATUS_DISABLED) and supplies at least one class: Nova skips
//     a host whose candidate does not allocate from its compute node.
//
// How many instances fit a tree is then a small packing problem. When every
// choice of providers meets the trait and root rules (the usual case: the
// root supplies a class no child has, and holds the required traits), the
// classes are independent and the count is the minimum over classes of the
// sum over providers of what each takes. Otherwise the classes that more
// than one provider can supply are the choice: with one or two such
// classes the count is exact (a sum, or a maximum flow between the two
// classes' suppliers); with more, instances are placed one at a time on the
// combination that leaves the most room, a lower bound (Tree.LowerBound).
package slots

import (
	"math"
	"sort"
)

// Inventory is one resource class of a provider, as Placement gives it.
type Inventory struct {
	Class           string
	Total           float64
	Reserved        float64
	MinUnit         float64
	MaxUnit         float64
	StepSize        float64
	AllocationRatio float64
	Used            float64
}

// Provider is one resource provider and what it holds.
type Provider struct {
	UUID, Root  string // Root is UUID for a root provider
	Inventories []Inventory
	Traits      map[string]bool
	Aggregates  map[string]bool
}

// Shape is what one instance asks of Placement.
type Shape struct {
	Resources map[string]float64 // class -> amount, each > 0
	Required  []string           // traits the supplying providers must have together
	Forbidden []string           // traits no supplying provider may have
	// RootForbidden are traits the root must not have (Nova's
	// !COMPUTE_STATUS_DISABLED, sent as root_required).
	RootForbidden []string
	// MemberOf: each supplying provider, or the root, must be in at least
	// one aggregate of each list (Placement's repeated member_of=in:…).
	MemberOf [][]string
}

// Tree is how many instances of a shape fit one root provider's tree.
type Tree struct {
	Root string
	// Free is how many more fit now, Total how many would fit on the tree
	// with nothing allocated.
	Free, Total int64
	// Qualifies: the root is a host the shape may use (root-forbidden
	// traits, sharing providers), whatever its room.
	Qualifies bool
	// LowerBound: more than two classes had a choice of supplier and the
	// trait or root rules tied them; the counts are a lower bound.
	LowerBound bool
}

// SharingTrait marks a provider that shares its inventory with the trees
// of its aggregates (shared storage). Such a tree is not a host and is left
// out; its inventory is not offered to the trees it serves either, which
// undercounts shapes that take a class only a sharing provider has.
const SharingTrait = "MISC_SHARES_VIA_AGGREGATE"

// maxCombinations bounds the provider combinations tried per tree; a tree
// with more counts 0 and is marked LowerBound.
const maxCombinations = 4096

// Count evaluates the shape on every tree of providers, in root order.
// Providers whose root is not among them are left out: a tree is counted
// only whole.
func Count(providers []Provider, shape Shape) []Tree {
	byUUID := map[string]*Provider{}
	for i := range providers {
		byUUID[providers[i].UUID] = &providers[i]
	}
	trees := map[string][]*Provider{}
	for i := range providers {
		p := &providers[i]
		root := p.RootUUID()
		if byUUID[root] != nil {
			trees[root] = append(trees[root], p)
		}
	}
	roots := make([]string, 0, len(trees))
	for root := range trees {
		roots = append(roots, root)
	}
	sort.Strings(roots)
	out := make([]Tree, 0, len(roots))
	for _, root := range roots {
		out = append(out, countTree(byUUID[root], trees[root], shape))
	}
	return out
}

// RootUUID is the uuid of the provider's tree: Root, or its own for a root.
func (p *Provider) RootUUID() string {
	if p.Root == "" {
		return p.UUID
	}
	return p.Root
}

// supplier is one provider able to supply one class of the shape.
type supplier struct {
	p   *Provider
	inv Inventory
}

func countTree(root *Provider, members []*Provider, shape Shape) Tree {
	t := Tree{Root: root.UUID}
	if root.Traits[SharingTrait] || hasAny(root, shape.RootForbidden) || len(shape.Resources) == 0 {
		return t
	}
	t.Qualifies = true
	classes := make([]string, 0, len(shape.Resources))
	for class := range shape.Resources {
		classes = append(classes, class)
	}
	sort.Strings(classes)
	rootInAggs := inAll(root, shape.MemberOf)
	eligible := make([][]supplier, len(classes))
	for i, class := range classes {
		for _, p := range members {
			if hasAny(p, shape.Forbidden) || !rootInAggs && !inAll(p, shape.MemberOf) {
				continue
			}
			for _, inv := range p.Inventories {
				if inv.Class == class && takes(inv, shape.Resources[class]) {
					eligible[i] = append(eligible[i], supplier{p, inv})
				}
			}
		}
		if len(eligible[i]) == 0 {
			return t // a class nobody here can supply
		}
	}
	if independent(root, eligible, shape.Required) {
		t.Free, t.Total = math.MaxInt64, math.MaxInt64
		for i, class := range classes {
			var free, total int64
			for _, s := range eligible[i] {
				free += fits(s.inv, shape.Resources[class], s.inv.Used)
				total += fits(s.inv, shape.Resources[class], 0)
			}
			t.Free, t.Total = min(t.Free, free), min(t.Total, total)
		}
		return t
	}
	combos, tried := validCombinations(root, eligible, shape.Required)
	amounts := make([]float64, len(classes))
	for i, class := range classes {
		amounts[i] = shape.Resources[class]
	}
	var exact bool
	t.Free, exact = packed(combos, eligible, amounts, true)
	t.Total, _ = packed(combos, eligible, amounts, false)
	t.LowerBound = !exact || !tried
	return t
}

// independent reports whether every choice of one supplier per class meets
// the trait and root rules: then each class can be counted on its own.
func independent(root *Provider, eligible [][]supplier, required []string) bool {
	onlyRoot := func(ss []supplier) bool {
		for _, s := range ss {
			if s.p != root {
				return false
			}
		}
		return true
	}
	allHave := func(ss []supplier, trait string) bool {
		for _, s := range ss {
			if !s.p.Traits[trait] {
				return false
			}
		}
		return true
	}
	rootAlways := false
	for _, ss := range eligible {
		rootAlways = rootAlways || onlyRoot(ss)
	}
	if !rootAlways {
		return false
	}
	for _, trait := range required {
		covered := false
		for _, ss := range eligible {
			covered = covered || allHave(ss, trait)
		}
		if !covered {
			return false
		}
	}
	return true
}

// validCombinations lists the choices (an index into eligible[i] per class)
// that meet the trait and root rules; false when there are more than
// maxCombinations to try.
func validCombinations(root *Provider, eligible [][]supplier, required []string) ([][]int, bool) {
	n := 1
	for _, ss := range eligible {
		n *= len(ss)
		if n > maxCombinations {
			return nil, false
		}
	}
	var out [][]int
	choice := make([]int, len(eligible))
	for k := 0; k < n; k++ {
		rest := k
		for i, ss := range eligible {
			choice[i] = rest % len(ss)
			rest /= len(ss)
		}
		hasRoot := false
		for i, j := range choice {
			hasRoot = hasRoot || eligible[i][j].p == root
		}
		ok := hasRoot
		for _, trait := range required {
			found := false
			for i, j := range choice {
				found = found || eligible[i][j].p.Traits[trait]
			}
			ok = ok && found
		}
		if ok {
			out = append(out, append([]int(nil), choice...))
		}
	}
	return out, true
}

// packed counts the instances the valid combinations take (from what is
// used now, or from nothing). The classes with one eligible supplier bound
// every combination alike; among the others, one class is a sum over its
// usable suppliers and two are a maximum flow from one class's suppliers to
// the other's through the valid pairs: both exact. With more it places
// instances greedily and reports the count as not exact.
func packed(combos [][]int, eligible [][]supplier, amounts []float64, fromUsed bool) (int64, bool) {
	room := make([][]int64, len(eligible))
	for i, ss := range eligible {
		room[i] = make([]int64, len(ss))
		for j, s := range ss {
			used := 0.0
			if fromUsed {
				used = s.inv.Used
			}
			room[i][j] = fits(s.inv, amounts[i], used)
		}
	}
	if len(combos) == 0 {
		return 0, true
	}
	bound := int64(math.MaxInt64)
	var choice []int // the classes with a choice of supplier
	for i, ss := range eligible {
		if len(ss) == 1 {
			bound = min(bound, room[i][0])
		} else {
			choice = append(choice, i)
		}
	}
	switch len(choice) {
	case 0:
		return bound, true
	case 1:
		usable := map[int]bool{}
		for _, combo := range combos {
			usable[combo[choice[0]]] = true
		}
		var n int64
		for j := range usable {
			n += room[choice[0]][j]
		}
		return min(bound, n), true
	case 2:
		a, b := choice[0], choice[1]
		pairs := map[[2]int]bool{}
		for _, combo := range combos {
			pairs[[2]int{combo[a], combo[b]}] = true
		}
		return min(bound, maxFlow(room[a], room[b], pairs)), true
	}
	var placed int64
	for {
		best, bestLeft := -1, int64(-1)
		for k, combo := range combos {
			left := int64(math.MaxInt64)
			for i, j := range combo {
				left = min(left, room[i][j]-1)
			}
			if left >= 0 && left > bestLeft {
				best, bestLeft = k, left
			}
		}
		if best < 0 {
			return placed, false
		}
		for i, j := range combos[best] {
			room[i][j]--
		}
		placed++
	}
}

// maxFlow is the largest number of pairs (j, l) in pairs that can be used,
// each j at most left[j] times and each l at most right[l] times: a flow
// from a source through the left suppliers and the right suppliers to a
// sink (Edmonds-Karp; a handful of nodes).
func maxFlow(left, right []int64, pairs map[[2]int]bool) int64 {
	n := 2 + len(left) + len(right)
	source, sink := 0, n-1
	capacity := make([][]int64, n)
	for i := range capacity {
		capacity[i] = make([]int64, n)
	}
	for j, c := range left {
		capacity[source][1+j] = c
	}
	for l, c := range right {
		capacity[1+len(left)+l][sink] = c
	}
	for p := range pairs {
		capacity[1+p[0]][1+len(left)+p[1]] = math.MaxInt64 / 4
	}
	var flow int64
	for {
		prev := make([]int, n)
		for i := range prev {
			prev[i] = -1
		}
		prev[source] = source
		queue := []int{source}
		for len(queue) > 0 && prev[sink] < 0 {
			u := queue[0]
			queue = queue[1:]
			for v := 0; v < n; v++ {
				if prev[v] < 0 && capacity[u][v] > 0 {
					prev[v] = u
					queue = append(queue, v)
				}
			}
		}
		if prev[sink] < 0 {
			return flow
		}
		push := int64(math.MaxInt64)
		for v := sink; v != source; v = prev[v] {
			push = min(push, capacity[prev[v]][v])
		}
		for v := sink; v != source; v = prev[v] {
			capacity[prev[v]][v] -= push
			capacity[v][prev[v]] += push
		}
		flow += push
	}
}

// takes reports whether one allocation of amount is allowed at all.
func takes(inv Inventory, amount float64) bool {
	return amount > 0 && amount >= inv.MinUnit && (inv.MaxUnit <= 0 || amount <= inv.MaxUnit) &&
		(inv.StepSize <= 1 || math.Mod(amount, inv.StepSize) == 0)
}

// fits is how many more allocations of amount the inventory takes with
// used already allocated: Placement compares with int((total - reserved) *
// allocation_ratio) (its candidates' re-check; the claim compares with the
// float, which allows the same for whole amounts).
func fits(inv Inventory, amount, used float64) int64 {
	if !takes(inv, amount) {
		return 0
	}
	ratio := inv.AllocationRatio
	if ratio == 0 {
		ratio = 1
	}
	room := math.Trunc((inv.Total-inv.Reserved)*ratio) - used
	if room < amount {
		return 0
	}
	return int64(math.Floor(room / amount))
}

func hasAny(p *Provider, traits []string) bool {
	for _, t := range traits {
		if p.Traits[t] {
			return true
		}
	}
	return false
}

// inAll reports whether p itself is in at least one aggregate of each list.
func inAll(p *Provider, lists [][]string) bool {
	for _, anyOf := range lists {
		found := false
		for _, agg := range anyOf {
			found = found || p.Aggregates[agg]
		}
		if !found {
			return false
		}
	}
	return true
}
