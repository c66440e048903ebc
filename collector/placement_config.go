package collector

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// PlacementConfig is the "placement" section of the configuration file.
type PlacementConfig struct {
	// Interval between the starts of two polls.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one whole poll, queries included.
	Timeout Duration `yaml:"timeout"`
	// Concurrency bounds the sub-resource and query requests in flight.
	Concurrency int `yaml:"concurrency"`
	// UsagesMaxAge bounds how old a provider's usages may get: a generation
	// change refreshes them at once, but DELETE /allocations does not move
	// the generation, so without this a freed amount would never show.
	UsagesMaxAge Duration `yaml:"usages_max_age"`
	// AggregatesMaxAge bounds how old aggregate memberships may get: writes
	// below microversion 1.19 do not move the generation.
	AggregatesMaxAge Duration `yaml:"aggregates_max_age"`
	// TrustAggregateGeneration skips the periodic aggregate refresh; only
	// safe when every writer uses microversion >= 1.19.
	TrustAggregateGeneration bool `yaml:"trust_aggregate_generation"`
	// TraitsInclude selects the traits exported per provider.
	TraitsInclude Regexp `yaml:"traits_include"`
	// Metrics switches per-provider metric families on and off.
	Metrics PlacementFamilies `yaml:"metrics"`
	// Scope limits the providers the exporter lists and describes.
	Scope *PlacementFilter `yaml:"scope"`
	// keepTraits are traits the cache keeps beyond traits_include, for
	// derived collectors (capacity's shapes, COMPUTE_STATUS_DISABLED); they
	// are not exported. Sorted; set by Config.validated.
	keepTraits []string
	// Queries are named provider filters whose matches are counted.
	Queries PlacementQueries `yaml:"queries"`
}

// PlacementFamilies switches the per-provider metric families.
type PlacementFamilies struct {
	ProviderInfo bool `yaml:"provider_info"`
	Generation   bool `yaml:"generation"`
	Tree         bool `yaml:"tree"`
	Aggregates   bool `yaml:"aggregates"`
	Traits       bool `yaml:"traits"`
	Inventory    bool `yaml:"inventory"`
	// InventoryUnits adds min_unit, max_unit and step_size to the inventory
	// families: three series per provider and class that rarely change and
	// no dashboard or alert of the project reads (90,000 series at 10,000
	// three-class providers), so off by default.
	InventoryUnits bool `yaml:"inventory_units"`
	Usage          bool `yaml:"usage"`
}

// cachesTrait reports whether the cache keeps the trait.
func (c *PlacementConfig) cachesTrait(trait string) bool {
	_, kept := slices.BinarySearch(c.keepTraits, trait)
	return kept || c.TraitsInclude.MatchString(trait)
}

// traitsKey names what cachesTrait keeps: cached traits read for another
// key must be read again.
func (c *PlacementConfig) traitsKey() string {
	return c.TraitsInclude.String() + "\x00" + strings.Join(c.keepTraits, ",")
}

// UnmarshalYAML rejects unknown family names.
func (f *PlacementFamilies) UnmarshalYAML(node *yaml.Node) error {
	type plain PlacementFamilies
	return decodeStrict(node, "placement.metrics", (*plain)(f))
}

// UnmarshalYAML rejects unknown keys in the placement section.
func (c *PlacementConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain PlacementConfig
	return decodeStrict(node, "placement", (*plain)(c))
}

func (c *PlacementConfig) setDefaults() {
	c.Interval = Duration(time.Minute)
	c.Timeout = Duration(50 * time.Second)
	c.Concurrency = 8
	c.UsagesMaxAge = Duration(5 * time.Minute)
	c.AggregatesMaxAge = Duration(10 * time.Minute)
	c.TraitsInclude = mustRegexp("^CUSTOM_")
	c.Metrics = PlacementFamilies{ProviderInfo: true, Generation: true, Tree: true, Aggregates: true, Traits: true, Inventory: true, Usage: true}
}

func (c *PlacementConfig) validate(path string) error {
	if err := validateSchedule(path, c.Interval, c.Timeout); err != nil {
		return err
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		return errorAt(path+".concurrency", "must be between 1 and 256 (got %d)", c.Concurrency)
	}
	if c.UsagesMaxAge < 0 || c.AggregatesMaxAge < 0 {
		return errorAt(path, "usages_max_age and aggregates_max_age must not be negative; 0s means refresh on every poll")
	}
	if c.Scope != nil {
		if err := c.Scope.validate(path + ".scope"); err != nil {
			return err
		}
	}
	for _, q := range c.Queries {
		if err := q.validate(path + ".queries." + q.Name); err != nil {
			return err
		}
	}
	return nil
}

// CheckServer reports the filters a server offering up to max cannot run.
// Placement would answer 400, or worse, silently ignore a repeated filter,
// so nothing is sent that the server cannot honour.
func (c *PlacementConfig) CheckServer(max openstack.Microversion) error {
	if c.Scope != nil {
		if err := c.Scope.checkServer("placement.scope", max); err != nil {
			return err
		}
	}
	for _, q := range c.Queries {
		if err := q.checkServer("placement.queries."+q.Name, max); err != nil {
			return err
		}
	}
	return nil
}

// Regexp is a regular expression written as a string in the file.
type Regexp struct{ *regexp.Regexp }

// UnmarshalYAML compiles the expression and names the line on failure.
func (r *Regexp) UnmarshalYAML(node *yaml.Node) error {
	re, err := regexp.Compile(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a valid regular expression: %v", node.Line, node.Value, err)
	}
	r.Regexp = re
	return nil
}

func mustRegexp(s string) Regexp { return Regexp{regexp.MustCompile(s)} }

// PlacementFilter is a set of GET /resource_providers query parameters.
type PlacementFilter struct {
	Name      StringList `yaml:"name"`
	UUID      StringList `yaml:"uuid"`
	MemberOf  StringList `yaml:"member_of"`
	Resources StringList `yaml:"resources"`
	InTree    StringList `yaml:"in_tree"`
	Required  StringList `yaml:"required"`
}

// UnmarshalYAML rejects unknown filter names.
func (f *PlacementFilter) UnmarshalYAML(node *yaml.Node) error {
	type plain PlacementFilter
	return decodeStrict(node, "placement.scope", (*plain)(f))
}

// PlacementQuery is a named filter whose matching providers are counted.
type PlacementQuery struct {
	Name   string
	Filter PlacementFilter
	// ExportMembers also exports which providers matched.
	ExportMembers bool
}

// PlacementQueries keeps the queries in file order.
type PlacementQueries []PlacementQuery

// UnmarshalYAML reads a mapping of query name to filters.
func (qs *PlacementQueries) UnmarshalYAML(node *yaml.Node) error {
	return eachQuery(node, "placement.queries", func(name, path string, node *yaml.Node) error {
		var body struct {
			Name          StringList `yaml:"name"`
			UUID          StringList `yaml:"uuid"`
			MemberOf      StringList `yaml:"member_of"`
			Resources     StringList `yaml:"resources"`
			InTree        StringList `yaml:"in_tree"`
			Required      StringList `yaml:"required"`
			ExportMembers bool       `yaml:"export_members"`
		}
		if err := decodeStrict(node, path, &body); err != nil {
			return err
		}
		filter := PlacementFilter{body.Name, body.UUID, body.MemberOf, body.Resources, body.InTree, body.Required}
		*qs = append(*qs, PlacementQuery{Name: name, Filter: filter, ExportMembers: body.ExportMembers})
		return nil
	})
}

func (q PlacementQuery) validate(path string) error {
	if q.Filter.empty() {
		return errorAt(path, "has no filter; give at least one of name, uuid, member_of, resources, in_tree, required")
	}
	return q.Filter.validate(path)
}

func (q PlacementQuery) checkServer(path string, max openstack.Microversion) error {
	return q.Filter.checkServer(path, max)
}

func (f *PlacementFilter) empty() bool {
	return len(f.Name)+len(f.UUID)+len(f.MemberOf)+len(f.Resources)+len(f.InTree)+len(f.Required) == 0
}

var (
	uuidPattern          = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
	resourceClassPattern = regexp.MustCompile(`^[A-Z0-9_]+$`)
	traitPattern         = regexp.MustCompile(`^[A-Z0-9_]+$`)
)

func (f *PlacementFilter) validate(path string) error {
	for _, single := range []struct {
		key    string
		values StringList
		hint   string
	}{
		{"name", f.Name, "Placement matches one name"},
		{"uuid", f.UUID, "Placement matches one uuid"},
		{"in_tree", f.InTree, "Placement takes one tree"},
		{"resources", f.Resources, "Placement silently keeps only the last one; put every class in one value, e.g. VCPU:4,MEMORY_MB:2048"},
	} {
		if len(single.values) > 1 {
			return errorAt(path+"."+single.key, "given %d times; %s", len(single.values), single.hint)
		}
	}
	if len(f.Name) == 1 && f.Name[0] == "" {
		return errorAt(path+".name", "must not be empty")
	}
	for _, key := range []struct {
		name   string
		values StringList
	}{{"uuid", f.UUID}, {"in_tree", f.InTree}} {
		if len(key.values) == 1 && !uuidPattern.MatchString(key.values[0]) {
			return errorAt(path+"."+key.name, "%q is not a uuid (like 10000000-0000-4000-8000-000000000001)", key.values[0])
		}
	}
	for i, m := range f.MemberOf {
		if err := validateMemberOf(m); err != nil {
			return errorAt(fmt.Sprintf("%s.member_of[%d]", path, i), "%q: %v", m, err)
		}
	}
	if len(f.Resources) == 1 {
		if err := validateResources(f.Resources[0]); err != nil {
			return errorAt(path+".resources", "%q: %v", f.Resources[0], err)
		}
	}
	for i, r := range f.Required {
		if err := validateRequired(r); err != nil {
			return errorAt(fmt.Sprintf("%s.required[%d]", path, i), "%q: %v", r, err)
		}
	}
	return nil
}

func validateMemberOf(value string) error {
	rest := strings.TrimPrefix(value, "!")
	list, isIn := strings.CutPrefix(rest, "in:")
	if !isIn {
		if !uuidPattern.MatchString(rest) {
			return fmt.Errorf("expected an aggregate uuid, in:UUID,UUID, !UUID or !in:UUID,UUID")
		}
		return nil
	}
	for _, item := range strings.Split(list, ",") {
		if strings.HasPrefix(item, "!") {
			return fmt.Errorf("'!' inside in: is not supported by Placement; use !in:A,B to exclude all of them, or a separate member_of entry !B")
		}
		if !uuidPattern.MatchString(item) {
			return fmt.Errorf("%q in the in: list is not an aggregate uuid", item)
		}
	}
	return nil
}

func validateResources(value string) error {
	seen := map[string]bool{}
	for _, item := range strings.Split(value, ",") {
		class, amount, ok := strings.Cut(item, ":")
		if !ok {
			return fmt.Errorf("%q is not CLASS:AMOUNT", item)
		}
		if !resourceClassPattern.MatchString(class) {
			return fmt.Errorf("resource class %q must be upper case letters, digits and _ (e.g. VCPU, CUSTOM_GPU)", class)
		}
		n, err := strconv.ParseInt(amount, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("amount %q of %s must be an integer >= 1", amount, class)
		}
		if seen[class] {
			return fmt.Errorf("resource class %s is given twice", class)
		}
		seen[class] = true
	}
	return nil
}

func validateRequired(value string) error {
	list, anyOf := strings.CutPrefix(value, "in:")
	if strings.HasPrefix(value, "!in:") {
		return fmt.Errorf("!in: is not supported by Placement for traits; list each forbidden trait as !TRAIT")
	}
	for _, item := range strings.Split(list, ",") {
		trait := strings.TrimPrefix(item, "!")
		if anyOf && trait != item {
			return fmt.Errorf("'!' inside in: is not supported by Placement; put forbidden traits in a separate required entry")
		}
		if !traitPattern.MatchString(trait) {
			return fmt.Errorf("trait %q must be upper case letters, digits and _ (e.g. HW_CPU_X86_AVX2, CUSTOM_GOLD)", item)
		}
	}
	return nil
}

// filterNeed is one filter feature and the microversion it needs.
type filterNeed struct {
	what    string
	version openstack.Microversion
}

// needs lists what the filter uses that is newer than 1.0, as observed on
// the real server (see the README's microversion table).
func (f *PlacementFilter) needs() []filterNeed {
	var out []filterNeed
	add := func(cond bool, what, version string) {
		if cond {
			out = append(out, filterNeed{what, openstack.MustMicroversion(version)})
		}
	}
	add(len(f.MemberOf) > 0, "member_of", "1.3")
	add(len(f.MemberOf) > 1, "member_of given more than once", "1.24")
	for _, m := range f.MemberOf {
		add(strings.HasPrefix(m, "!"), "member_of with !", "1.32")
	}
	add(len(f.Resources) > 0, "resources", "1.4")
	add(len(f.InTree) > 0, "in_tree", "1.14")
	add(len(f.Required) > 0, "required", "1.18")
	for _, r := range f.Required {
		add(strings.Contains(r, "!"), "required with !TRAIT", "1.22")
		add(strings.HasPrefix(r, "in:"), "required=in:", "1.39")
	}
	// Below 1.39 the last required silently wins: refuse instead.
	add(len(f.Required) > 1, "required given more than once", "1.39")
	return out
}

func (f *PlacementFilter) checkServer(path string, max openstack.Microversion) error {
	for _, n := range f.needs() {
		if max.Less(n.version) {
			return errorAt(path, "%s needs Placement microversion %s, the server offers up to %s", n.what, n.version, max)
		}
	}
	return nil
}

// values encodes the filter as query parameters, repeated keys in order.
func (f *PlacementFilter) values() url.Values {
	v := url.Values{}
	set := func(key string, list StringList) {
		if len(list) > 0 {
			v[key] = append([]string(nil), list...)
		}
	}
	set("name", f.Name)
	set("uuid", f.UUID)
	set("member_of", f.MemberOf)
	set("resources", f.Resources)
	set("in_tree", f.InTree)
	set("required", f.Required)
	return v
}

// String shows the filter as the query string Placement receives.
func (f *PlacementFilter) String() string { return readableQuery(f.values()) }
