package main

import (
	"fmt"
	"sort"
	"strings"
)

func providerUUID(n int) string  { return fmt.Sprintf("10000000-0000-4000-8000-%012d", n) }
func aggregateUUID(n int) string { return fmt.Sprintf("20000000-0000-4000-8000-%012d", n) }
func consumerUUID(n int) string  { return fmt.Sprintf("30000000-0000-4000-8000-%012d", n) }
func identityUUID(n int) string  { return fmt.Sprintf("40000000-0000-4000-8000-%012d", n) }

var (
	aggA = aggregateUUID(1)
	aggB = aggregateUUID(2)
	aggC = aggregateUUID(3)

	projectOne = identityUUID(1)
	projectTwo = identityUUID(2)
	userOne    = identityUUID(11)
	userTwo    = identityUUID(12)
)

// inventory is one resource class's inventory record. Zero min/max/step are
// left out of the request so that the server's defaults (1, 2147483647, 1)
// also show up in the fixtures.
type inventory struct {
	Total           int     `json:"total"`
	Reserved        int     `json:"reserved"`
	MinUnit         int     `json:"min_unit,omitempty"`
	MaxUnit         int     `json:"max_unit,omitempty"`
	StepSize        int     `json:"step_size,omitempty"`
	AllocationRatio float64 `json:"allocation_ratio"`
}

type provider struct {
	uuid        string
	name        string
	parent      string
	aggregates  []string
	traits      []string
	inventories map[string]inventory
}

var (
	cn1          = providerUUID(1)
	cn1Numa0     = providerUUID(2)
	cn1Numa1     = providerUUID(3)
	cn1Numa1Gpu0 = providerUUID(4)
	cn2          = providerUUID(5)
	sharedDisk   = providerUUID(6)
	emptyRP      = providerUUID(7)
)

// cloud is created in this order, parents before children; the list order
// of GET /resource_providers follows it.
var cloud = []provider{
	{
		uuid: cn1, name: "cn1",
		aggregates: []string{aggA},
		traits:     []string{"CUSTOM_GOLD", "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"},
		inventories: map[string]inventory{
			"VCPU":      {Total: 16, Reserved: 2, MaxUnit: 16, AllocationRatio: 16.0},
			"MEMORY_MB": {Total: 65536, Reserved: 512, MaxUnit: 65536, AllocationRatio: 1.5},
			"DISK_GB":   {Total: 1000, Reserved: 10, MaxUnit: 1000, AllocationRatio: 1.1},
		},
	},
	{
		uuid: cn1Numa0, name: "cn1-numa0", parent: cn1,
		traits: []string{"HW_CPU_X86_AVX2"},
		inventories: map[string]inventory{
			// max_unit 2 keeps this child out of resources=VCPU:4 although
			// it has plenty of free VCPU.
			"VCPU":      {Total: 32, Reserved: 0, MaxUnit: 2, AllocationRatio: 4.0},
			"MEMORY_MB": {Total: 131072, Reserved: 1024, MaxUnit: 131072, AllocationRatio: 1.0},
		},
	},
	{
		uuid: cn1Numa1, name: "cn1-numa1", parent: cn1,
		aggregates: []string{aggB},
		traits:     []string{"HW_CPU_X86_AVX2"},
		inventories: map[string]inventory{
			"VCPU":      {Total: 32, Reserved: 1, MaxUnit: 32, AllocationRatio: 16.0},
			"MEMORY_MB": {Total: 131072, Reserved: 0, MaxUnit: 131072, AllocationRatio: 1.5},
		},
	},
	{
		uuid: cn1Numa1Gpu0, name: "cn1-numa1-gpu0", parent: cn1Numa1,
		aggregates: []string{aggC},
		traits:     []string{"CUSTOM_GPU"},
		inventories: map[string]inventory{
			"CUSTOM_GPU_A100": {Total: 8, Reserved: 1, MinUnit: 2, MaxUnit: 4, StepSize: 2, AllocationRatio: 1.0},
		},
	},
	{
		uuid: cn2, name: "cn2",
		aggregates: []string{aggA, aggB},
		traits:     []string{"CUSTOM_GOLD", "CUSTOM_SILVER", "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH"},
		inventories: map[string]inventory{
			"VCPU":      {Total: 48, Reserved: 2, MaxUnit: 48, AllocationRatio: 16.0},
			"MEMORY_MB": {Total: 196608, Reserved: 512, MaxUnit: 196608, AllocationRatio: 1.5},
			"DISK_GB":   {Total: 2000, Reserved: 0, MaxUnit: 500, AllocationRatio: 1.1},
		},
	},
	{
		uuid: sharedDisk, name: "shared-storage",
		aggregates: []string{aggA},
		traits:     []string{"MISC_SHARES_VIA_AGGREGATE", "CUSTOM_SILVER", "STORAGE_DISK_SSD"},
		inventories: map[string]inventory{
			"DISK_GB": {Total: 10240, Reserved: 100, AllocationRatio: 1.1},
		},
	},
	{
		uuid: emptyRP, name: "empty-rp",
		aggregates: []string{aggB, aggC},
	},
}

var customTraits = []string{"CUSTOM_GOLD", "CUSTOM_SILVER", "CUSTOM_GPU"}

const customResourceClass = "CUSTOM_GPU_A100"

type allocation struct {
	consumer, project, user string
	resources               map[string]map[string]int // provider -> class -> amount
}

var allocations = []allocation{
	{
		consumer: consumerUUID(1), project: projectOne, user: userOne,
		resources: map[string]map[string]int{
			cn1:          {"VCPU": 4, "MEMORY_MB": 4096, "DISK_GB": 20},
			cn1Numa1Gpu0: {"CUSTOM_GPU_A100": 2},
		},
	},
	{
		consumer: consumerUUID(2), project: projectTwo, user: userTwo,
		resources: map[string]map[string]int{
			cn2: {"VCPU": 8, "MEMORY_MB": 16384, "DISK_GB": 100},
		},
	},
	{
		consumer: consumerUUID(3), project: projectOne, user: userTwo,
		resources: map[string]map[string]int{
			cn1Numa0:   {"VCPU": 2, "MEMORY_MB": 2048},
			cn1Numa1:   {"VCPU": 2, "MEMORY_MB": 2048},
			sharedDisk: {"DISK_GB": 50},
		},
	},
}

// seedCloud creates the test cloud through the REST API at 1.39. It refuses
// a server that already has providers so that generations come out the same
// on every run.
func seedCloud(c *client) error {
	existing, _, err := c.generations()
	if err != nil {
		return err
	}
	if len(existing) != 0 {
		return fmt.Errorf("the server already has %d providers; start a fresh one with start.sh", len(existing))
	}
	for _, t := range customTraits {
		if _, err := c.expect(request{method: "PUT", path: "/traits/" + t, version: "1.39"}, 201); err != nil {
			return err
		}
	}
	if _, err := c.expect(request{method: "PUT", path: "/resource_classes/" + customResourceClass, version: "1.39"}, 201); err != nil {
		return err
	}
	for _, p := range cloud {
		body := map[string]any{"uuid": p.uuid, "name": p.name}
		if p.parent != "" {
			body["parent_provider_uuid"] = p.parent
		}
		if _, err := c.expect(request{method: "POST", path: "/resource_providers", version: "1.39", body: body}, 200); err != nil {
			return err
		}
	}
	for _, p := range cloud {
		if err := putInventories(c, p.uuid, p.inventories); err != nil {
			return err
		}
		if err := putTraits(c, p.uuid, p.traits); err != nil {
			return err
		}
		if err := putAggregates(c, p.uuid, p.aggregates); err != nil {
			return err
		}
	}
	for _, a := range allocations {
		allocs := map[string]any{}
		for rp, res := range a.resources {
			allocs[rp] = map[string]any{"resources": res}
		}
		body := map[string]any{
			"allocations":         allocs,
			"project_id":          a.project,
			"user_id":             a.user,
			"consumer_generation": nil,
			"consumer_type":       "INSTANCE",
		}
		if _, err := c.expect(request{method: "PUT", path: "/allocations/" + a.consumer, version: "1.39", body: body}, 204); err != nil {
			return err
		}
	}
	return nil
}

func putInventories(c *client, uuid string, inv map[string]inventory) error {
	if len(inv) == 0 {
		return nil
	}
	return putSubresource(c, uuid, "inventories", inv)
}

func putTraits(c *client, uuid string, traits []string) error {
	if len(traits) == 0 {
		return nil
	}
	return putSubresource(c, uuid, "traits", traits)
}

func putAggregates(c *client, uuid string, aggs []string) error {
	if len(aggs) == 0 {
		return nil
	}
	return putSubresource(c, uuid, "aggregates", aggs)
}

// putSubresource replaces one of a provider's sub-resources at 1.39, where
// the body carries the provider's current generation under the same key as
// the sub-resource's name.
func putSubresource(c *client, uuid, sub string, value any) error {
	gen, err := c.generation(uuid)
	if err != nil {
		return err
	}
	body := map[string]any{sub: value, "resource_provider_generation": gen}
	_, err = c.expect(request{method: "PUT", path: "/resource_providers/" + uuid + "/" + sub, version: "1.39", body: body}, 200)
	return err
}

// change is one of the writes that turn the seeded cloud into the "after"
// cloud, with what it is expected to do to generations.
type change struct {
	what string
	do   func(c *client) error
}

var changes = []change{
	{
		what: "DELETE /allocations/" + consumerUUID(2) + " (the only consumer on cn2): cn2's usage drops to 0, its generation stays",
		do: func(c *client) error {
			_, err := c.expect(request{method: "DELETE", path: "/allocations/" + consumerUUID(2), version: "1.39"}, 204)
			return err
		},
	},
	{
		what: "PUT /resource_providers/" + cn1Numa0 + "/inventories at 1.39: cn1-numa0 VCPU total 32->40, max_unit 2->4, reserved 0->1 (MEMORY_MB unchanged): generation +1",
		do: func(c *client) error {
			return putInventories(c, cn1Numa0, map[string]inventory{
				"VCPU":      {Total: 40, Reserved: 1, MaxUnit: 4, AllocationRatio: 4.0},
				"MEMORY_MB": {Total: 131072, Reserved: 1024, MaxUnit: 131072, AllocationRatio: 1.0},
			})
		},
	},
	{
		what: "PUT /resource_providers/" + cn2 + "/traits at 1.39: cn2 gains CUSTOM_GPU: generation +1",
		do: func(c *client) error {
			return putTraits(c, cn2, []string{"CUSTOM_GOLD", "CUSTOM_SILVER", "HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH", "CUSTOM_GPU"})
		},
	},
	{
		what: "DELETE /resource_providers/" + emptyRP + " (empty-rp): gone from the list; its sub-resources answer 404",
		do: func(c *client) error {
			_, err := c.expect(request{method: "DELETE", path: "/resource_providers/" + emptyRP, version: "1.39"}, 204)
			return err
		},
	},
	{
		what: "PUT /resource_providers/" + cn1 + "/aggregates at 1.1 with [A, C]: cn1's membership changes from [A] to [A, C] but its generation stays (writes below 1.19 never bump it)",
		do: func(c *client) error {
			_, err := c.expect(request{method: "PUT", path: "/resource_providers/" + cn1 + "/aggregates", version: "1.1", body: []string{aggA, aggC}}, 200)
			return err
		},
	},
}

// applyChanges makes the writes in changes and returns notes that list them
// with every provider's generation before and after.
func applyChanges(c *client) (string, error) {
	before, order, err := c.generations()
	if err != nil {
		return "", err
	}
	var notes strings.Builder
	notes.WriteString("Changes applied to the seeded cloud, in order:\n")
	for i, ch := range changes {
		if err := ch.do(c); err != nil {
			return "", err
		}
		fmt.Fprintf(&notes, "%d. %s\n", i+1, ch.what)
	}
	after, _, err := c.generations()
	if err != nil {
		return "", err
	}
	notes.WriteString("Provider generations before -> after:\n")
	for _, uuid := range order {
		b := before[uuid]
		if a, ok := after[uuid]; ok {
			fmt.Fprintf(&notes, "- %s %s: %d -> %d\n", b.name, uuid, b.generation, a.generation)
		} else {
			fmt.Fprintf(&notes, "- %s %s: %d -> deleted\n", b.name, uuid, b.generation)
		}
	}
	return notes.String(), nil
}

// describeCloud writes the seeded cloud as cassette notes.
func describeCloud() string {
	name := map[string]string{aggA: "A", aggB: "B", aggC: "C"}
	for _, p := range cloud {
		name[p.uuid] = p.name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Seeded by e2e/placement/seed (cloud) on a fresh server. Aggregates: A=%s B=%s C=%s. Custom traits %s, custom resource class %s.\nProviders (creation order = list order):\n",
		aggA, aggB, aggC, strings.Join(customTraits, ", "), customResourceClass)
	for _, p := range cloud {
		parent := "root"
		if p.parent != "" {
			parent = "parent " + name[p.parent]
		}
		aggs := make([]string, len(p.aggregates))
		for i, a := range p.aggregates {
			aggs[i] = name[a]
		}
		classes := make([]string, 0, len(p.inventories))
		for rc := range p.inventories {
			classes = append(classes, rc)
		}
		sort.Strings(classes)
		invs := make([]string, len(classes))
		for i, rc := range classes {
			inv := p.inventories[rc]
			invs[i] = fmt.Sprintf("%s total=%d reserved=%d ratio=%g", rc, inv.Total, inv.Reserved, inv.AllocationRatio)
		}
		fmt.Fprintf(&b, "- %s %s (%s) aggregates=[%s] traits=[%s] inventory=[%s]\n",
			p.name, p.uuid, parent, strings.Join(aggs, ","), strings.Join(p.traits, ","), strings.Join(invs, "; "))
	}
	b.WriteString("Allocations (consumer_type INSTANCE):\n")
	for _, a := range allocations {
		rps := make([]string, 0, len(a.resources))
		for rp := range a.resources {
			rps = append(rps, rp)
		}
		sort.Strings(rps)
		parts := make([]string, len(rps))
		for i, rp := range rps {
			parts[i] = fmt.Sprintf("%s %v", name[rp], a.resources[rp])
		}
		fmt.Fprintf(&b, "- consumer %s project %s user %s: %s\n", a.consumer, a.project, a.user, strings.Join(parts, "; "))
	}
	return b.String()
}
