package slots

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func inv(class string, total, used float64) Inventory {
	return Inventory{Class: class, Total: total, MinUnit: 1, MaxUnit: total, StepSize: 1, AllocationRatio: 1, Used: used}
}

func TestFits(t *testing.T) {
	for _, c := range []struct {
		name   string
		inv    Inventory
		amount float64
		want   int64
	}{
		{"plain", inv("VCPU", 16, 4), 4, 3},
		{"exactly full", inv("VCPU", 16, 16), 1, 0},
		{"over-allocated (ratio lowered after the fact)", inv("VCPU", 16, 20), 1, 0},
		{"reserved and overcommit: (16-2)*1.5 = 21", Inventory{Class: "VCPU", Total: 16, Reserved: 2, MinUnit: 1, MaxUnit: 16, StepSize: 1, AllocationRatio: 1.5}, 4, 5},
		{"float capacity: (10-0)*1.1 is 11.000000000000002", Inventory{Class: "VCPU", Total: 10, MinUnit: 1, MaxUnit: 11, StepSize: 1, AllocationRatio: 1.1}, 11, 1},
		{"above max_unit however much is free", Inventory{Class: "VCPU", Total: 64, MinUnit: 1, MaxUnit: 8, StepSize: 1, AllocationRatio: 1}, 16, 0},
		{"below min_unit", Inventory{Class: "MEMORY_MB", Total: 65536, MinUnit: 1024, MaxUnit: 65536, StepSize: 1, AllocationRatio: 1}, 512, 0},
		{"not a multiple of step_size", Inventory{Class: "DISK_GB", Total: 1000, MinUnit: 1, MaxUnit: 1000, StepSize: 10, AllocationRatio: 1}, 15, 0},
		{"a multiple of step_size", Inventory{Class: "DISK_GB", Total: 1000, MinUnit: 1, MaxUnit: 1000, StepSize: 10, AllocationRatio: 1, Used: 100}, 20, 45},
	} {
		if got := fits(c.inv, c.amount, c.inv.Used); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

const (
	cn1, numa0, numa1, cn2 = "cn1", "cn1-numa0", "cn1-numa1", "cn2"
)

// cn1 holds memory and disk itself and its VCPUs in two NUMA children, each
// with 3 VCPUs free; cn2 is a flat host with 6 free.
func nestedCloud() []Provider {
	return []Provider{
		{UUID: cn1, Root: cn1, Inventories: []Inventory{inv("MEMORY_MB", 65536, 0), inv("DISK_GB", 1000, 0)}},
		{UUID: numa0, Root: cn1, Inventories: []Inventory{inv("VCPU", 8, 5)}},
		{UUID: numa1, Root: cn1, Inventories: []Inventory{inv("VCPU", 8, 5)}},
		{UUID: cn2, Root: cn2, Inventories: []Inventory{inv("VCPU", 8, 2), inv("MEMORY_MB", 65536, 0), inv("DISK_GB", 1000, 0)}},
	}
}

// One class comes whole from one provider: cn1 has 6 VCPUs free, but 3 in
// each NUMA node, so no 4-VCPU instance fits there; different classes may
// come from different providers of the tree (VCPU from a NUMA node, memory
// from the root).
func TestCountNested(t *testing.T) {
	got := Count(nestedCloud(), Shape{Resources: map[string]float64{"VCPU": 4, "MEMORY_MB": 1024}})
	want := []Tree{{Root: cn1, Free: 0, Total: 4, Qualifies: true}, {Root: cn2, Free: 1, Total: 2, Qualifies: true}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("%+v, want %+v", got, want)
	}
	got = Count(nestedCloud(), Shape{Resources: map[string]float64{"VCPU": 1, "MEMORY_MB": 1024}})
	if got[0].Free != 6 || got[0].Total != 16 {
		t.Errorf("1-VCPU instances on cn1: %+v, want 6 free of 16 (3 per NUMA node)", got[0])
	}
}

// A class no provider of the tree has: the tree qualifies but takes none.
func TestCountMissingClass(t *testing.T) {
	got := Count(nestedCloud(), Shape{Resources: map[string]float64{"VCPU": 1, "CUSTOM_GPU": 1}})
	for _, tree := range got {
		if !tree.Qualifies || tree.Free != 0 || tree.Total != 0 {
			t.Errorf("%+v, want 0 of 0", tree)
		}
	}
}

// A provider whose root is not among the providers is left out: a part of a
// tree would count as a smaller tree.
func TestCountLeavesOutPartialTrees(t *testing.T) {
	providers := nestedCloud()[1:] // cn1's children without cn1
	got := Count(providers, Shape{Resources: map[string]float64{"VCPU": 1}})
	if len(got) != 1 || got[0].Root != cn2 {
		t.Errorf("%+v, want cn2 alone", got)
	}
}

func traits(ts ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range ts {
		out[t] = true
	}
	return out
}

// A GPU host: the root has the CPUs, memory and the CUSTOM_FAST trait, two
// NUMA-like children have CPUs too, a child has the GPUs and CUSTOM_GPU.
func gpuHost(disabled bool) []Provider {
	rootTraits := traits("CUSTOM_FAST")
	if disabled {
		rootTraits["COMPUTE_STATUS_DISABLED"] = true
	}
	return []Provider{
		{UUID: "h", Root: "h", Traits: rootTraits, Aggregates: traits("agg-root"),
			Inventories: []Inventory{inv("VCPU", 8, 0), inv("MEMORY_MB", 8192, 0)}},
		{UUID: "h-c0", Root: "h", Traits: traits(), Aggregates: traits("agg-child"), Inventories: []Inventory{inv("VCPU", 8, 0)}},
		{UUID: "h-gpu", Root: "h", Traits: traits("CUSTOM_GPU"), Inventories: []Inventory{inv("CUSTOM_VGPU", 3, 1)}},
	}
}

func TestCountRules(t *testing.T) {
	for _, c := range []struct {
		name        string
		providers   []Provider
		shape       Shape
		free, total int64
		qualifies   bool
	}{
		{"CPUs from the root or the child", gpuHost(false), Shape{Resources: map[string]float64{"VCPU": 2, "MEMORY_MB": 1024}}, 8, 8, true},
		{"disabled host (root-forbidden trait)", gpuHost(true),
			Shape{Resources: map[string]float64{"VCPU": 2}, RootForbidden: []string{"COMPUTE_STATUS_DISABLED"}}, 0, 0, false},
		{"the root must supply a class: VCPU alone may come from the child, but then Nova skips the host", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 8}, Forbidden: []string{"CUSTOM_FAST"}}, 0, 0, true},
		{"a required trait on the supplying GPU child", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 1, "CUSTOM_VGPU": 1}, Required: []string{"CUSTOM_GPU"}}, 2, 3, true},
		{"a required trait on the root, which supplies memory", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 1, "MEMORY_MB": 1024}, Required: []string{"CUSTOM_FAST"}}, 8, 8, true},
		{"a required trait nobody supplying has", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 1}, Required: []string{"CUSTOM_GPU"}}, 0, 0, true},
		{"forbidden on the child: its CPUs are out, the root's remain", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 2, "MEMORY_MB": 1}, Forbidden: []string{"CUSTOM_GPU"}}, 8, 8, true},
		{"member_of met by the root spans the tree", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 4, "MEMORY_MB": 1}, MemberOf: [][]string{{"agg-root"}}}, 4, 4, true},
		{"member_of met by a child only: only it may supply, and the root supplies nothing then", gpuHost(false),
			Shape{Resources: map[string]float64{"VCPU": 4}, MemberOf: [][]string{{"agg-child"}}}, 0, 0, true},
		{"a sharing provider is not a host", []Provider{{UUID: "s", Root: "s", Traits: traits(SharingTrait), Inventories: []Inventory{inv("DISK_GB", 100, 0)}}},
			Shape{Resources: map[string]float64{"DISK_GB": 10}}, 0, 0, false},
	} {
		got := Count(c.providers, c.shape)
		if len(got) != 1 || got[0].Free != c.free || got[0].Total != c.total || got[0].Qualifies != c.qualifies {
			t.Errorf("%s: %+v, want free %d total %d qualifies %v", c.name, got, c.free, c.total, c.qualifies)
		}
	}
}

// Packing, where the choice of providers matters, against an exhaustive
// search on small random trees: with two classes to choose for, the count
// is the maximum.
func TestPackAgainstExhaustiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		providers := []Provider{{UUID: "r", Root: "r", Traits: map[string]bool{}}}
		for i := 0; i < 1+rng.IntN(3); i++ {
			providers = append(providers, Provider{UUID: fmt.Sprintf("c%d", i), Root: "r", Traits: map[string]bool{}})
		}
		classes := []string{"A", "B"}
		for i := range providers {
			if rng.IntN(2) == 0 {
				providers[i].Traits["T"] = true
			}
			for _, class := range classes {
				if rng.IntN(2) == 0 {
					providers[i].Inventories = append(providers[i].Inventories, inv(class, float64(rng.IntN(5)), float64(rng.IntN(2))))
				}
			}
		}
		shape := Shape{Resources: map[string]float64{"A": 1, "B": 1}, Required: []string{"T"}}
		got := Count(providers, shape)[0]
		if want := exhaustive(providers, shape); got.Free != want || got.LowerBound {
			t.Fatalf("case %d: %+v, exhaustive search places %d\n%+v", n, got, want, providers)
		}
	}
}

// exhaustive is the most instances of shape (classes A and B, amount 1)
// the tree takes, trying every order of valid combinations.
func exhaustive(providers []Provider, shape Shape) int64 {
	root := &providers[0]
	var eligible [][]supplier
	for _, class := range []string{"A", "B"} {
		var ss []supplier
		for i := range providers {
			for _, inv := range providers[i].Inventories {
				if inv.Class == class {
					ss = append(ss, supplier{&providers[i], inv})
				}
			}
		}
		if len(ss) == 0 {
			return 0
		}
		eligible = append(eligible, ss)
	}
	combos, _ := validCombinations(root, eligible, shape.Required)
	room := make([][]int64, len(eligible))
	for i, ss := range eligible {
		room[i] = make([]int64, len(ss))
		for j, s := range ss {
			room[i][j] = fits(s.inv, 1, s.inv.Used)
		}
	}
	var best func() int64
	best = func() int64 {
		var most int64
		for _, combo := range combos {
			ok := true
			for i, j := range combo {
				ok = ok && room[i][j] > 0
			}
			if !ok {
				continue
			}
			for i, j := range combo {
				room[i][j]--
			}
			most = max(most, 1+best())
			for i, j := range combo {
				room[i][j]++
			}
		}
		return most
	}
	return best()
}
