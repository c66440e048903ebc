package collector

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// CapacityConfig is the "capacity" section: the instance shapes whose free
// slots the capacity collector counts from the Placement collector's data.
type CapacityConfig struct {
	// Interval between two counts; each reads the latest Placement poll.
	Interval Duration `yaml:"interval"`
	// VirtualFlavors are shapes defined here by resources and traits (for
	// shapes that are not Nova flavors, or without the Nova collector).
	VirtualFlavors VirtualFlavors `yaml:"virtual_flavors"`
	// Flavors picks the Nova flavors counted, by name (RE2, unanchored);
	// nil counts none. Needs the Nova collector.
	Flavors *Regexp `yaml:"flavors"`
	// CrossCheckInterval is how often each counted flavor is also asked of
	// Placement (GET /allocation_candidates, limit 1); 0 never.
	CrossCheckInterval Duration `yaml:"cross_check_interval"`
}

// VirtualFlavors maps a name to its shape, in name order.
type VirtualFlavors []VirtualFlavor

// VirtualFlavor is one shape of the capacity section.
type VirtualFlavor struct {
	Name  string
	Shape slots.Shape
}

// capacityDisabledTrait is what Nova (Zed's compute_status_filter, always
// on) forbids in every boot request: the trait the compute service puts on
// its provider while the service is disabled.
const capacityDisabledTrait = "COMPUTE_STATUS_DISABLED"

func (c *CapacityConfig) setDefaults() {
	c.Interval = Duration(30 * time.Second)
}

// UnmarshalYAML rejects unknown keys in the capacity section.
func (c *CapacityConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain CapacityConfig
	return decodeStrict(node, "capacity", (*plain)(c))
}

// virtualFlavorBody is a virtual flavor as written.
type virtualFlavorBody struct {
	Resources yaml.Node    `yaml:"resources"`
	Required  StringList   `yaml:"required"`
	Forbidden StringList   `yaml:"forbidden"`
	MemberOf  []StringList `yaml:"member_of"`
}

// UnmarshalYAML reads a mapping of name to shape.
func (vs *VirtualFlavors) UnmarshalYAML(node *yaml.Node) error {
	return eachQuery(node, "capacity.virtual_flavors", func(name, path string, node *yaml.Node) error {
		var body virtualFlavorBody
		if err := decodeStrict(node, path, &body); err != nil {
			return err
		}
		shape, err := body.shape(path)
		if err != nil {
			return err
		}
		*vs = append(*vs, VirtualFlavor{Name: name, Shape: shape})
		return nil
	})
}

func (b *virtualFlavorBody) shape(path string) (slots.Shape, error) {
	shape := slots.Shape{Resources: map[string]float64{}}
	r := &b.Resources
	if r.Kind != yaml.MappingNode || len(r.Content) == 0 {
		return shape, errorAt(path+".resources", "give the amount of each resource class one instance takes, e.g. {VCPU: 4, MEMORY_MB: 8192, DISK_GB: 40}")
	}
	for i := 0; i < len(r.Content); i += 2 {
		class, value := r.Content[i].Value, r.Content[i+1]
		if !resourceClassPattern.MatchString(class) {
			return shape, errorAt(path+".resources", "line %d: %q is not a resource class (upper case, digits and _, like VCPU or CUSTOM_GPU)", r.Content[i].Line, class)
		}
		if _, dup := shape.Resources[class]; dup {
			return shape, errorAt(path+".resources", "line %d: %s given twice", r.Content[i].Line, class)
		}
		n, err := strconv.ParseInt(value.Value, 10, 64)
		if value.Kind != yaml.ScalarNode || value.Tag != "!!int" || err != nil || n < 1 {
			return shape, errorAt(path+".resources."+class, "line %d: %s is not a whole number of at least 1", value.Line, value.Value)
		}
		shape.Resources[class] = float64(n)
	}
	for key, traits := range map[string]StringList{"required": b.Required, "forbidden": b.Forbidden} {
		for _, t := range traits {
			if !traitPattern.MatchString(t) {
				return shape, errorAt(path+"."+key, "%q is not a trait name (upper case, digits and _, like HW_CPU_X86_AVX2)", t)
			}
		}
	}
	shape.Required = append(shape.Required, b.Required...)
	shape.Forbidden = append(shape.Forbidden, b.Forbidden...)
	for _, t := range shape.Required {
		for _, f := range shape.Forbidden {
			if t == f {
				return shape, errorAt(path, "%s is both required and forbidden: no provider can qualify", t)
			}
		}
	}
	for i, anyOf := range b.MemberOf {
		if len(anyOf) == 0 {
			return shape, errorAt(fmt.Sprintf("%s.member_of[%d]", path, i), "is empty; give one aggregate uuid, or a list of them (any of)")
		}
		for _, agg := range anyOf {
			if !uuidPattern.MatchString(agg) {
				return shape, errorAt(fmt.Sprintf("%s.member_of[%d]", path, i), "%q is not an aggregate uuid", agg)
			}
		}
		shape.MemberOf = append(shape.MemberOf, append([]string(nil), anyOf...))
	}
	return shape, nil
}

func (c *CapacityConfig) validate(path string) error {
	if c.Interval <= 0 {
		return errorAt(path+".interval", "must be positive, e.g. 30s")
	}
	if c.CrossCheckInterval < 0 {
		return errorAt(path+".cross_check_interval", "must be 0s (off) or positive, e.g. 1h")
	}
	if c.Flavors != nil && c.Flavors.String() == "" {
		return errorAt(path+".flavors", `an empty expression matches every flavor; write ".*" if that is meant, or leave the key out for none`)
	}
	return nil
}

// counts reports whether any shape is counted at all.
func (c *CapacityConfig) counts() bool { return len(c.VirtualFlavors) > 0 || c.Flavors != nil }

// shapes lists every shape counted, with Nova's forbidden trait added.
func (c *CapacityConfig) shapes() []VirtualFlavor {
	out := make([]VirtualFlavor, len(c.VirtualFlavors))
	for i, vf := range c.VirtualFlavors {
		shape := vf.Shape
		shape.RootForbidden = []string{capacityDisabledTrait}
		out[i] = VirtualFlavor{vf.Name, shape}
	}
	return out
}

// neededTraits are the traits the Placement cache must keep for the shapes.
func (c *CapacityConfig) neededTraits() []string {
	if !c.counts() {
		return nil
	}
	set := map[string]bool{capacityDisabledTrait: true, slots.SharingTrait: true}
	for _, vf := range c.VirtualFlavors {
		for _, t := range vf.Shape.Required {
			set[t] = true
		}
		for _, t := range vf.Shape.Forbidden {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// checkPlacementFeeds refuses shapes the Placement section cannot feed:
// free slots need inventories, usages and traits (COMPUTE_STATUS_DISABLED
// at least); aggregates are needed for member_of.
func (c *CapacityConfig) checkPlacementFeeds(p *PlacementConfig) error {
	if !c.counts() {
		return nil
	}
	key := "capacity.virtual_flavors"
	if len(c.VirtualFlavors) == 0 {
		key = "capacity.flavors"
	}
	if name := p.missingViewFeed(); name != "" {
		return errorAt(key, "counting slots needs placement.metrics.%s: true (the Placement collector reads the data only then)", name)
	}
	return nil
}

// missingViewFeed names the first of the families PlacementView is built
// from that placement.metrics switches off ("" when all are on): a
// provider is in the view only when its inventories, usages, traits and
// aggregates are all known.
func (p *PlacementConfig) missingViewFeed() string {
	m := p.Metrics
	for _, f := range []struct {
		name string
		on   bool
	}{{"inventory", m.Inventory}, {"usage", m.Usage}, {"traits", m.Traits}, {"aggregates", m.Aggregates}} {
		if !f.on {
			return f.name
		}
	}
	return ""
}
