package collector

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// NovaConfig is the "nova" section of the configuration file.
type NovaConfig struct {
	// Interval between the starts of two polls.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one whole poll (a handful of requests, pages included).
	Timeout Duration `yaml:"timeout"`
}

// UnmarshalYAML rejects unknown keys in the nova section.
func (c *NovaConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain NovaConfig
	return decodeStrict(node, "nova", (*plain)(c))
}

func (c *NovaConfig) setDefaults() {
	c.Interval = Duration(time.Minute)
	c.Timeout = Duration(30 * time.Second)
}

func (c *NovaConfig) validate(path string) error {
	return validateSchedule(path, c.Interval, c.Timeout)
}
