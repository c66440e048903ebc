package collector

import (
	"errors"
	"net/url"
	"regexp/syntax"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// ManilaConfig is the "manila" section of the configuration file.
type ManilaConfig struct {
	// Interval between the starts of two polls.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one whole poll. Manila with its scheduler down holds a
	// pools request for rpc_response_timeout (60 s) before answering 500, so
	// the default stays below that.
	Timeout Duration `yaml:"timeout"`
	// Detail reads /scheduler-stats/pools/detail (capacities); without it
	// only the pool list and counts are exported.
	Detail bool `yaml:"detail"`
	// Scope limits the pools the exporter lists and describes.
	Scope *ManilaFilter `yaml:"scope"`
	// Queries are named pool filters whose matches are counted.
	Queries ManilaQueries `yaml:"queries"`
	// MissingPoolsRetention is how long a pool the list no longer shows is
	// reported missing after it was last listed; 0 disables.
	MissingPoolsRetention Duration `yaml:"missing_pools_retention"`
}

// UnmarshalYAML rejects unknown keys in the manila section.
func (c *ManilaConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain ManilaConfig
	return decodeStrict(node, "manila", (*plain)(c))
}

func (c *ManilaConfig) setDefaults() {
	c.Interval = Duration(time.Minute)
	c.Timeout = Duration(30 * time.Second)
	c.Detail = true
	c.MissingPoolsRetention = defaultMissingPoolsRetention
}

func (c *ManilaConfig) validate(path string) error {
	if err := validateSchedule(path, c.Interval, c.Timeout); err != nil {
		return err
	}
	if err := validateMissingPoolsRetention(path, c.MissingPoolsRetention, c.Interval); err != nil {
		return err
	}
	if c.Scope != nil {
		if err := c.Scope.validate(path + ".scope"); err != nil {
			return err
		}
	}
	for _, q := range c.Queries {
		if q.Filter.empty() {
			return errorAt(path+".queries."+q.Name, "has no filter; give at least one of host, backend, pool, name, share_type")
		}
		if err := q.Filter.validate(path + ".queries." + q.Name); err != nil {
			return err
		}
	}
	return nil
}

// manilaShareTypeFilter is the microversion that knows share_type; below
// it Manila treats the key as unknown and silently answers an empty list.
var manilaShareTypeFilter = openstack.MustMicroversion("2.23")

// CheckServer reports the filters a server offering up to max cannot run.
func (c *ManilaConfig) CheckServer(max openstack.Microversion) error {
	if c.Scope != nil {
		if err := c.Scope.checkServer("manila.scope", max); err != nil {
			return err
		}
	}
	for _, q := range c.Queries {
		if err := q.Filter.checkServer("manila.queries."+q.Name, max); err != nil {
			return err
		}
	}
	return nil
}

// ManilaFilter is a set of scheduler-stats pools query parameters. Manila
// applies host, backend, pool and name as Python regular expressions with
// re.match: anchored at the start only. Exact appends "$" to each of them.
type ManilaFilter struct {
	Host      string `yaml:"host"`
	Backend   string `yaml:"backend"`
	Pool      string `yaml:"pool"`
	Name      string `yaml:"name"`
	ShareType string `yaml:"share_type"`
	Exact     bool   `yaml:"exact"`
}

// UnmarshalYAML rejects unknown filter names: Manila would silently answer
// an empty list for them.
func (f *ManilaFilter) UnmarshalYAML(node *yaml.Node) error {
	type plain ManilaFilter
	return decodeStrict(node, "manila.scope", (*plain)(f))
}

func (f *ManilaFilter) empty() bool {
	return f.Host == "" && f.Backend == "" && f.Pool == "" && f.Name == "" && f.ShareType == ""
}

func (f *ManilaFilter) regexes() [][2]string {
	return [][2]string{{"host", f.Host}, {"backend", f.Backend}, {"pool", f.Pool}, {"name", f.Name}}
}

func (f *ManilaFilter) validate(path string) error {
	for _, kv := range f.regexes() {
		if kv[1] == "" {
			continue
		}
		if err := checkPythonRegex(kv[1]); err != nil {
			return errorAt(path+"."+kv[0], "%q is not a valid regular expression (Manila would answer 500): %v", kv[1], err)
		}
	}
	return nil
}

// checkPythonRegex rejects what Python's re module rejects too. RE2 lacks
// some constructs Python has (look-arounds, back-references, large repeat
// counts), so those are let through for the server to judge.
func checkPythonRegex(expr string) error {
	_, err := syntax.Parse(expr, syntax.Perl)
	var syntaxErr *syntax.Error
	if err == nil || !errors.As(err, &syntaxErr) {
		return nil
	}
	switch syntaxErr.Code {
	case syntax.ErrMissingParen, syntax.ErrUnexpectedParen, syntax.ErrMissingBracket, syntax.ErrMissingRepeatArgument,
		syntax.ErrInvalidRepeatOp, syntax.ErrInvalidCharRange, syntax.ErrTrailingBackslash:
		return errors.New(strings.TrimPrefix(syntaxErr.Code.String(), "error parsing regexp: "))
	}
	return nil
}

func (f *ManilaFilter) checkServer(path string, max openstack.Microversion) error {
	if f.ShareType != "" && max.Less(manilaShareTypeFilter) {
		return errorAt(path+".share_type", "needs Manila microversion %s, the server offers up to %s (below it Manila silently answers an empty list)", manilaShareTypeFilter, max)
	}
	return nil
}

// values encodes the filter as query parameters.
func (f *ManilaFilter) values() url.Values {
	v := url.Values{}
	for _, kv := range f.regexes() {
		if kv[1] == "" {
			continue
		}
		expr := kv[1]
		if f.Exact && !strings.HasSuffix(expr, "$") {
			expr += "$"
		}
		v.Set(kv[0], expr)
	}
	if f.ShareType != "" {
		v.Set("share_type", f.ShareType)
	}
	return v
}

// String shows the filter as the query string Manila receives.
func (f *ManilaFilter) String() string { return readableQuery(f.values()) }

// ManilaQuery is a named pool filter whose matching pools are counted.
type ManilaQuery struct {
	Name   string
	Filter ManilaFilter
}

// ManilaQueries keeps the queries in file order.
type ManilaQueries []ManilaQuery

// UnmarshalYAML reads a mapping of query name to filters.
func (qs *ManilaQueries) UnmarshalYAML(node *yaml.Node) error {
	return eachQuery(node, "manila.queries", func(name, path string, body *yaml.Node) error {
		type plain ManilaFilter
		var f plain
		if err := decodeStrict(body, path, &f); err != nil {
			return err
		}
		*qs = append(*qs, ManilaQuery{Name: name, Filter: ManilaFilter(f)})
		return nil
	})
}
