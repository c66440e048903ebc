package main

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// examples/config.yml passes --config.check, as the README tells an
// operator to run it.
func TestExampleConfigPassesCheck(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--config.file", "../../examples/config.yml", "--config.check"}, &out); code != 0 {
		t.Fatalf("--config.check examples/config.yml: exit %d: %s", code, out.String())
	}
}

// Every entry of examples/clouds.yaml loads as the exporter reads it.
func TestExampleCloudsLoad(t *testing.T) {
	const path = "../../examples/clouds.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Clouds map[string]any `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(doc.Clouds))
	for name := range doc.Clouds {
		names = append(names, name)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "local mycloud mycloud-appcred" {
		t.Errorf("clouds %v; the README names local, mycloud and mycloud-appcred", names)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	t.Setenv("OS_REGION_NAME", "")
	t.Setenv("OS_INTERFACE", "")
	for _, name := range names {
		cloud, err := openstack.LoadCloud(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "local" {
			if !cloud.Keystoneless() || cloud.EndpointOverrides["placement"] == "" || cloud.EndpointOverrides["shared_file_system"] == "" {
				t.Errorf("local: want a Keystone-less cloud with Placement and Manila endpoints, got %+v", cloud)
			}
		} else if cloud.Keystoneless() || cloud.Keystone.IdentityEndpoint == "" {
			t.Errorf("%s: want Keystone auth, got %+v", name, cloud)
		}
	}
}
