package collector

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Clouds is the optional "clouds" section: the clouds.yaml entries one
// process polls, in file order, each with its own credentials, pollers and
// configuration. A cloud's entry may give any section (placement, manila,
// …); a section it gives replaces the top-level one for that cloud, a
// section it leaves out is the top-level one:
//
//	placement: {interval: 2m}
//	clouds:
//	  region-one: {}
//	  region-two:
//	    placement: {interval: 5m, concurrency: 4}
type Clouds struct {
	List []Cloud
	node *yaml.Node // the section as written, parsed once the file's top level is known
}

// Cloud is one cloud of the clouds section.
type Cloud struct {
	Name   string // its entry in clouds.yaml
	Config *Config
}

// UnmarshalYAML keeps the section until parse, which needs the rest of the
// file: a cloud inherits the top-level sections.
func (c *Clouds) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil // "clouds:" alone: none, as without the key
	}
	if node.Kind != yaml.MappingNode {
		return errorAt("clouds", "line %d: expected a mapping of clouds.yaml entry names to their sections (e.g. region-one: {})", node.Line)
	}
	c.node = node
	return nil
}

// Names lists the clouds in file order; none when the file has no clouds
// section (the process then polls the one cloud of --os-cloud).
func (c Clouds) Names() []string {
	names := make([]string, len(c.List))
	for i, cloud := range c.List {
		names[i] = cloud.Name
	}
	return names
}

// parse builds each cloud's configuration from the top-level mapping: the
// top-level sections, with those the cloud gives in their place, decoded
// and validated as a whole file would be, so that every rule and error
// message is the same; an error is prefixed with the cloud's path.
func (c *Clouds) parse(top *yaml.Node) error {
	if c.node == nil {
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i < len(c.node.Content); i += 2 {
		key, body := c.node.Content[i], c.node.Content[i+1]
		name := key.Value
		path := "clouds." + name
		switch {
		case strings.TrimSpace(name) == "":
			return errorAt("clouds", "line %d: a cloud needs the name of its clouds.yaml entry", key.Line)
		case seen[name]:
			return errorAt(path, "line %d: listed twice", key.Line)
		}
		seen[name] = true
		merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		given := map[string]bool{}
		if !(body.Kind == yaml.ScalarNode && body.Tag == "!!null") {
			if body.Kind != yaml.MappingNode {
				return errorAt(path, "line %d: expected a mapping of sections (placement, manila, …), or {} to use the top-level ones", body.Line)
			}
			for j := 0; j < len(body.Content); j += 2 {
				section := body.Content[j].Value
				if section == "clouds" {
					return errorAt(path, "line %d: a cloud cannot list clouds", body.Content[j].Line)
				}
				given[section] = true
				merged.Content = append(merged.Content, body.Content[j], body.Content[j+1])
			}
		}
		for j := 0; top != nil && j < len(top.Content); j += 2 {
			if section := top.Content[j].Value; section != "clouds" && !given[section] {
				merged.Content = append(merged.Content, top.Content[j], top.Content[j+1])
			}
		}
		cfg, err := parseTop(merged)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		c.List = append(c.List, Cloud{Name: name, Config: cfg})
	}
	if len(c.List) == 0 {
		return errorAt("clouds", "line %d: lists no cloud; remove the section to poll the one cloud of --os-cloud", c.node.Line)
	}
	return nil
}
