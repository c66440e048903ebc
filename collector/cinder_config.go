package collector

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// CinderConfig is the "cinder" section of the configuration file.
type CinderConfig struct {
	// Interval between the starts of two polls.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one whole poll. Cinder's API asks the scheduler over
	// RPC and, with the scheduler down, answers only after
	// rpc_response_timeout (60 s), so the default stays below that.
	Timeout Duration `yaml:"timeout"`
	// MaxOverSubscriptionRatio is the scheduler's own
	// max_over_subscription_ratio, which it applies to a pool that reports
	// none: needed to compute those pools' virtual free capacity as the
	// scheduler does. The exporter cannot read Cinder's configuration.
	MaxOverSubscriptionRatio OverSubscriptionRatio `yaml:"max_over_subscription_ratio"`
	// VolumeTypes selects the volume types whose eligible pools are
	// listed: "all" (every type, public and private) or a list of type
	// names or ids. Empty: none (and GET /types is not sent).
	VolumeTypes VolumeTypeSelection `yaml:"volume_types"`
	// Queries are named pool filters whose matches are counted.
	Queries CinderQueries `yaml:"queries"`
	// MissingPoolsRetention is how long a pool that left the list is
	// reported missing; 0 disables it.
	MissingPoolsRetention Duration `yaml:"missing_pools_retention"`
}

// UnmarshalYAML rejects unknown keys in the cinder section.
func (c *CinderConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain CinderConfig
	return decodeStrict(node, "cinder", (*plain)(c))
}

func (c *CinderConfig) setDefaults() {
	c.Interval = Duration(time.Minute)
	c.Timeout = Duration(30 * time.Second)
	c.MaxOverSubscriptionRatio = "20.0" // Cinder's default
	c.MissingPoolsRetention = defaultMissingPoolsRetention
}

func (c *CinderConfig) validate(path string) error {
	if err := validateSchedule(path, c.Interval, c.Timeout); err != nil {
		return err
	}
	if err := validateMissingPoolsRetention(path, c.MissingPoolsRetention, c.Interval); err != nil {
		return err
	}
	for _, q := range c.Queries {
		if q.Filter.VolumeType != "" {
			// Found on the real Cinder 21.3.1 (e2e/cinder/README.md).
			return errorAt(path+".queries."+q.Name+".volume_type", "Cinder's get_pools cannot filter by volume type (its scheduler fails such a request for every type with 400 while any pool reports a numeric free capacity); list the type under %s.volume_types instead, whose pools the exporter matches itself", path)
		}
		if q.Filter.empty() {
			return errorAt(path+".queries."+q.Name, "has no filter; give name")
		}
	}
	return nil
}

// cinderNameFilter is the microversion the name filter needs. Below it
// Cinder drops the filter and silently answers every pool.
var cinderNameFilter = openstack.MustMicroversion("3.28")

// CheckServer reports the filters a server offering up to max cannot run.
func (c *CinderConfig) CheckServer(max openstack.Microversion) error {
	for _, q := range c.Queries {
		if err := q.Filter.checkServer("cinder.queries."+q.Name, max); err != nil {
			return err
		}
	}
	return nil
}

// OverSubscriptionRatio is Cinder's max_over_subscription_ratio as its
// configuration writes it: "auto" or a number.
type OverSubscriptionRatio string

// cinderRatioPattern is the regex of Cinder's own option.
var cinderRatioPattern = regexp.MustCompile(`^(auto|\d*\.\d+|\d+)$`)

// UnmarshalYAML accepts what Cinder's option accepts.
func (r *OverSubscriptionRatio) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode || !cinderRatioPattern.MatchString(node.Value) {
		return fmt.Errorf("line %d: max_over_subscription_ratio %q must be auto or a number such as 20.0, as in cinder.conf", node.Line, node.Value)
	}
	*r = OverSubscriptionRatio(node.Value)
	return nil
}

// VolumeTypeSelection is "all" or a list of volume type names or ids.
type VolumeTypeSelection struct {
	All   bool
	Names []string
}

func (s VolumeTypeSelection) empty() bool { return !s.All && len(s.Names) == 0 }

// UnmarshalYAML reads "all" or a list of names; a single name must be
// written as a list, so that a type called "all" cannot be mistaken.
func (s *VolumeTypeSelection) UnmarshalYAML(node *yaml.Node) error {
	switch {
	case node.Kind == yaml.ScalarNode && node.Value == "all":
		*s = VolumeTypeSelection{All: true}
		return nil
	case node.Kind == yaml.ScalarNode && node.Tag == "!!null":
		*s = VolumeTypeSelection{}
		return nil
	case node.Kind == yaml.SequenceNode:
		seen := map[string]bool{}
		out := VolumeTypeSelection{}
		for _, item := range node.Content {
			if item.Kind != yaml.ScalarNode || item.Value == "" {
				return fmt.Errorf("line %d: expected a volume type name or id", item.Line)
			}
			if seen[item.Value] {
				return fmt.Errorf("line %d: volume type %q is listed twice", item.Line, item.Value)
			}
			seen[item.Value] = true
			out.Names = append(out.Names, item.Value)
		}
		*s = out
		return nil
	}
	return fmt.Errorf("line %d: volume_types must be all or a list of volume type names or ids (write [%s] for one type)", node.Line, node.Value)
}

// CinderFilter is a set of get_pools filters. name matches a pool's full
// name (host@backend#pool) exactly: no regular expression, no prefix.
// VolumeType is read only to reject it with the reason (see validate).
type CinderFilter struct {
	Name       string `yaml:"name"`
	VolumeType string `yaml:"volume_type"`
}

func (f *CinderFilter) empty() bool { return f.Name == "" }

func (f *CinderFilter) checkServer(path string, max openstack.Microversion) error {
	if f.Name != "" && max.Less(cinderNameFilter) {
		return errorAt(path+".name", "needs Cinder microversion %s, the server offers up to %s (below it Cinder silently answers every pool)", cinderNameFilter, max)
	}
	return nil
}

// values encodes the filter as query parameters.
func (f *CinderFilter) values() url.Values {
	v := url.Values{}
	if f.Name != "" {
		v.Set("name", f.Name)
	}
	return v
}

// String shows the filter as the query string Cinder receives.
func (f *CinderFilter) String() string { return readableQuery(f.values()) }

// CinderQuery is a named pool filter whose matching pools are counted.
type CinderQuery struct {
	Name   string
	Filter CinderFilter
}

// CinderQueries keeps the queries in file order.
type CinderQueries []CinderQuery

// UnmarshalYAML reads a mapping of query name to filters; an unknown
// filter is an error (Cinder would answer 400, or below 3.33 silently
// compare it with the pools' capabilities).
func (qs *CinderQueries) UnmarshalYAML(node *yaml.Node) error {
	return eachQuery(node, "cinder.queries", func(name, path string, body *yaml.Node) error {
		var f CinderFilter
		if err := decodeStrict(body, path, &f); err != nil {
			return err
		}
		*qs = append(*qs, CinderQuery{Name: name, Filter: f})
		return nil
	})
}
