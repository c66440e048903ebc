package collector

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the exporter's configuration file: one section per collector.
// Every section may be left out; its defaults then apply.
type Config struct {
	Placement PlacementConfig `yaml:"placement"`
	Manila    ManilaConfig    `yaml:"manila"`
	Cinder    CinderConfig    `yaml:"cinder"`
	Nova      NovaConfig      `yaml:"nova"`
	Capacity  CapacityConfig  `yaml:"capacity"`
	// Clouds, when given, are the clouds one process polls, each with the
	// sections above as its defaults (see clouds_config.go).
	Clouds Clouds `yaml:"clouds"`
}

// DefaultConfig is the configuration used without --config.file.
func DefaultConfig() *Config {
	cfg, err := ParseConfig(nil)
	if err != nil {
		panic(err) // the defaults themselves are invalid: a programming error
	}
	return cfg
}

// LoadConfig reads and validates the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes strictly (unknown keys are errors) and validates.
func ParseConfig(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return parseTop(nil)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		return parseTop(nil)
	}
	if top := root.Content[0]; !(top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
		return parseTop(top)
	}
	return parseTop(nil)
}

// parseTop decodes the file's top-level mapping (nil: an empty file) over
// the defaults and validates it, the clouds it lists included.
func parseTop(top *yaml.Node) (*Config, error) {
	cfg := &Config{}
	cfg.Placement.setDefaults()
	cfg.Manila.setDefaults()
	cfg.Cinder.setDefaults()
	cfg.Nova.setDefaults()
	cfg.Capacity.setDefaults()
	if top != nil {
		if err := decodeStrict(top, "", cfg); err != nil {
			return nil, err
		}
	}
	if _, err := cfg.validated(); err != nil {
		return nil, err // named once, not once per cloud that inherits it
	}
	if err := cfg.Clouds.parse(top); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (cfg *Config) validated() (*Config, error) {
	if err := cfg.Placement.validate("placement"); err != nil {
		return nil, err
	}
	if err := cfg.Manila.validate("manila"); err != nil {
		return nil, err
	}
	if err := cfg.Cinder.validate("cinder"); err != nil {
		return nil, err
	}
	if err := cfg.Nova.validate("nova"); err != nil {
		return nil, err
	}
	if err := cfg.Capacity.validate("capacity"); err != nil {
		return nil, err
	}
	if err := cfg.Capacity.checkPlacementFeeds(&cfg.Placement); err != nil {
		return nil, err
	}
	cfg.Placement.keepTraits = cfg.Capacity.neededTraits()
	return cfg, nil
}

// decodeStrict decodes node into out (a pointer to a struct) and rejects
// keys the struct does not have, naming the section path and the keys that
// are allowed: a typo must never be silently ignored.
func decodeStrict(node *yaml.Node, path string, out any) error {
	if node.Kind != yaml.MappingNode {
		return errorAt(path, "line %d: expected a mapping of keys to values", node.Line)
	}
	allowed := yamlKeys(reflect.TypeOf(out).Elem())
	for i := 0; i < len(node.Content); i += 2 {
		key := node.Content[i].Value
		if _, ok := allowed[key]; !ok {
			names := make([]string, 0, len(allowed))
			for k := range allowed {
				names = append(names, k)
			}
			sort.Strings(names)
			return errorAt(path, "line %d: unknown key %q; allowed keys: %s", node.Content[i].Line, key, strings.Join(names, ", "))
		}
		if value := node.Content[i+1]; isPlainInteger(allowed[key]) && value.Kind == yaml.ScalarNode && value.Tag != "!!int" && value.Tag != "!!null" {
			// yaml.v3 decodes 2.5 into an int as 2, silently.
			return errorAt(joinPath(path, key), "line %d: %s is not an integer (write a whole number such as 8)", value.Line, value.Value)
		}
	}
	if err := node.Decode(out); err != nil {
		var typeErr *yaml.TypeError
		if errors.As(err, &typeErr) {
			return errorAt(path, "%s", strings.Join(typeErr.Errors, "; "))
		}
		var located *configError
		if errors.As(err, &located) {
			return err // a nested section already named its path
		}
		return errorAt(path, "%s", err)
	}
	return nil
}

// configError is an error that already names where in the file it is.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func errorAt(path string, format string, args ...any) error {
	return &configError{orTop(path) + ": " + fmt.Sprintf(format, args...)}
}

func orTop(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlKeys maps the yaml keys of a struct type to their field types,
// following ",inline".
func yamlKeys(t reflect.Type) map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, typ := range yamlKeys(f.Type) {
				keys[k] = typ
			}
			continue
		}
		if name != "" && name != "-" {
			keys[name] = f.Type
		}
	}
	return keys
}

var yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// isPlainInteger reports an integer field that yaml decodes itself (not a
// Duration, which reads "30s").
func isPlainInteger(t reflect.Type) bool {
	if t == nil || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

var queryNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]*$`)

// eachQuery walks a "queries" mapping of name to filters, in file order,
// checking the names; decode reads one query's body.
func eachQuery(node *yaml.Node, section string, decode func(name, path string, body *yaml.Node) error) error {
	if node.Kind != yaml.MappingNode {
		return errorAt(section, "line %d: expected a mapping of query names to filters", node.Line)
	}
	seen := map[string]bool{}
	for i := 0; i < len(node.Content); i += 2 {
		name, line := node.Content[i].Value, node.Content[i].Line
		if seen[name] {
			return errorAt(section, "line %d: query %q is defined twice", line, name)
		}
		seen[name] = true
		if !queryNamePattern.MatchString(name) {
			return errorAt(section, "line %d: query name %q must start with a letter, digit or _ and contain only letters, digits, _ . : -", line, name)
		}
		if err := decode(name, section+"."+name, node.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// validateSchedule checks a section's interval and timeout.
func validateSchedule(path string, interval, timeout Duration) error {
	if interval < Duration(time.Second) {
		return errorAt(path+".interval", "must be at least 1s (got %s)", time.Duration(interval))
	}
	if timeout <= 0 {
		return errorAt(path+".timeout", "must be positive (got %s); it bounds a whole poll", time.Duration(timeout))
	}
	return nil
}

// readableQuery is a query string for logs: keys sorted, repeated keys in
// order, nothing escaped.
func readableQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, value := range v[k] {
			parts = append(parts, k+"="+value)
		}
	}
	return strings.Join(parts, "&")
}

// Duration is a time.Duration written as "30s", "5m" or "1h" in the file.
type Duration time.Duration

// UnmarshalYAML names the line and the expected form on a bad value.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	parsed, err := time.ParseDuration(node.Value)
	if err != nil || node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 30s, 5m or 1h)", node.Line, node.Value)
	}
	*d = Duration(parsed)
	return nil
}

// StringList accepts one string or a list of strings.
type StringList []string

// UnmarshalYAML accepts a scalar as a one-element list.
func (l *StringList) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		*l = StringList{node.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(node.Content))
		for _, item := range node.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: expected a string", item.Line)
			}
			out = append(out, item.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: expected a string or a list of strings", node.Line)
}

// SafeConfig holds the configuration in force and swaps it on reload.
type SafeConfig struct {
	mu  sync.RWMutex
	cfg *Config
}

// NewSafeConfig starts with cfg in force.
func NewSafeConfig(cfg *Config) *SafeConfig { return &SafeConfig{cfg: cfg} }

// Get returns the configuration in force; callers must not modify it.
func (s *SafeConfig) Get() *Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// Set puts cfg in force.
func (s *SafeConfig) Set(cfg *Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
}

func (d Duration) String() string { return time.Duration(d).String() }
