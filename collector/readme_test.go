package collector

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// readmeDefaultsMarker introduces the README's fenced block of every
// configuration key with its default.
const readmeDefaultsMarker = "Every key with its default"

// readmeDefaultsBlock returns the first ```yaml block after the marker.
func readmeDefaultsBlock(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), readmeDefaultsMarker)
	if !ok {
		t.Fatalf("README.md: no %q section", readmeDefaultsMarker)
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)\n```").FindStringSubmatch(after)
	if block == nil {
		t.Fatalf("README.md: no ```yaml block after %q", readmeDefaultsMarker)
	}
	return block[1]
}

// The README's defaults block is what the exporter uses without a file: an
// operator who copies it verbatim changes nothing. Examples belong in
// examples/config.yml, not here.
func TestReadmeDefaultsAreTheDefaults(t *testing.T) {
	block := readmeDefaultsBlock(t)
	parsed, err := ParseConfig([]byte(block))
	if err != nil {
		t.Fatalf("README defaults block does not load: %v\n%s", err, block)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(parsed, want) {
		t.Errorf("README defaults block differs from the defaults:\nREADME:   %+v\ndefaults: %+v", *parsed, *want)
	}
}

// Every key the file accepts is in the README's defaults block, so a new
// key cannot go undocumented.
func TestReadmeDefaultsNameEveryKey(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(readmeDefaultsBlock(t)), &root); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			path := joinPath(prefix, n.Content[i].Value)
			documented[path] = true
			walk(path, n.Content[i+1])
		}
	}
	walk("", root.Content[0])

	var missing []string
	var keys func(prefix string, typ reflect.Type)
	keys = func(prefix string, typ reflect.Type) {
		for name, field := range yamlKeys(typ) {
			path := joinPath(prefix, name)
			if !documented[path] {
				missing = append(missing, path)
			}
			// Sub-sections are structs with yaml keys of their own; filters
			// (scope, queries) are pointers or lists, described in their
			// own tables.
			if field.Kind() == reflect.Struct && len(yamlKeys(field)) > 0 {
				keys(path, field)
			}
		}
	}
	keys("", reflect.TypeOf(Config{}))
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README.md's %q block lacks %s: add each with its default value (this test parses that block)", readmeDefaultsMarker, strings.Join(missing, ", "))
	}
}
