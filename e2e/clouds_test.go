//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestSeveralClouds polls two clouds from one process: "east", the real
// Placement and Manila, and "west", whose Placement endpoint refuses
// connections and which has no Manila. Each is polled on its own: west
// being down changes nothing of east. /metrics is one valid exposition
// with a cloud label on every sample; /probe?cloud=NAME is one cloud.
func TestSeveralClouds(t *testing.T) {
	freshPlacement(t)
	ensureManila(t)
	clouds := fmt.Sprintf(`clouds:
  east:
    auth_type: admin_token
    auth: {token: %q}
    placement_endpoint_override: %s
    shared_file_system_endpoint_override: %s/v2/%s
  west:
    auth_type: admin_token
    auth: {token: %q}
    placement_endpoint_override: http://127.0.0.1:%s/
`, token, placementURL, manilaURL, manilaProject, token, strings.Split(freePort(t), ":")[1])
	e := startExporter(t, clouds, `placement:
  interval: 2s
  timeout: 5s
manila:
  interval: 2s
  timeout: 8s
clouds:
  east:
    placement:
      interval: 2s
      queries:
        gold: {required: CUSTOM_GOLD}
  west: {}
`, "--collector.manila")

	east, west := labels("cloud", "east"), labels("cloud", "west")
	took := e.eventually(60*time.Second, "both clouds polled", all(
		expect("openstack_placement_up", east, 1),
		expect("openstack_placement_resource_providers", east, 7),
		expect("openstack_placement_query_resource_providers", labels("cloud", "east", "query", "gold"), 2),
		expect("openstack_manila_up", east, 1),
		expect("openstack_manila_pools", labels("cloud", "east", "host", "rig-node1", "backend", "alpha"), 3),
		expect("openstack_placement_up", west, 0),
		expect("openstack_capacity_exporter_collector_success", labels("cloud", "west", "collector", "placement"), 0),
		expect("openstack_capacity_exporter_collector_success", labels("cloud", "east", "collector", "placement"), 1),
		absent("openstack_placement_resource_providers", west),
		absent("openstack_placement_query_resource_providers", labels("cloud", "west", "query", "gold")),
	))
	t.Logf("both clouds polled %s after start-up", took.Round(time.Millisecond))

	m, err := e.scrape()
	if err != nil {
		t.Fatal(err)
	}
	for name, mf := range m {
		if !strings.HasPrefix(name, "openstack_placement_") && !strings.HasPrefix(name, "openstack_manila_") {
			continue
		}
		for _, metric := range mf.GetMetric() {
			has := false
			for _, l := range metric.GetLabel() {
				has = has || l.GetName() == "cloud" && (l.GetValue() == "east" || l.GetValue() == "west")
			}
			if !has {
				t.Errorf("%s: a sample without the cloud label: %v", name, metric.GetLabel())
			}
		}
	}
	if got, _ := m.value("openstack_capacity_exporter_collector_success", labels("cloud", "west", "collector", "manila")); got != 0 {
		t.Errorf("west has no Manila endpoint, yet its manila collector succeeds")
	}

	code, body, err := e.get("/probe?cloud=east")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/probe?cloud=east: %d %v", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	probe, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/probe?cloud=east is no valid exposition: %v", err)
	}
	if got := metrics(probe).count("openstack_placement_resource_provider_info"); got != 7 {
		t.Errorf("/probe?cloud=east: %d provider_info series, want 7", got)
	}
	if strings.Contains(body, `cloud="west"`) {
		t.Error("/probe?cloud=east serves west's samples")
	}
	code, body, _ = e.get("/probe?cloud=north")
	if code != http.StatusBadRequest || !strings.Contains(body, "one of: east, west") {
		t.Errorf("/probe?cloud=north: %d %q", code, body)
	}
	if !strings.Contains(e.log(), `cloud=west`) {
		t.Errorf("west's failures are not logged with its name:\n%s", e.log())
	}
}
