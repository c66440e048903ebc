//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	cn1       = "10000000-0000-4000-8000-000000000001"
	cn1Numa0  = "10000000-0000-4000-8000-000000000002"
	cn1Gpu0   = "10000000-0000-4000-8000-000000000004"
	cn2       = "10000000-0000-4000-8000-000000000005"
	emptyRP   = "10000000-0000-4000-8000-000000000007"
	aggA      = "20000000-0000-4000-8000-000000000001"
	aggB      = "20000000-0000-4000-8000-000000000002"
	aggC      = "20000000-0000-4000-8000-000000000003"
	newGuest  = "30000000-0000-4000-8000-000000000099"
	projectID = "40000000-0000-4000-8000-000000000001"
)

func placementClouds() string {
	return fmt.Sprintf(`clouds:
  local:
    auth_type: admin_token
    auth: {token: %q}
    placement_endpoint_override: %s
`, token, placementURL)
}

// The poll interval and max ages are short so the staleness bounds can be
// observed in seconds; the README states them for the defaults.
const placementE2EConfig = `placement:
  interval: 1s
  timeout: 10s
  usages_max_age: 4s
  aggregates_max_age: 6s
  queries:
    by_name: {name: cn1}
    by_uuid: {uuid: 10000000-0000-4000-8000-000000000005}
    member_a: {member_of: 20000000-0000-4000-8000-000000000001, export_members: true}
    member_a_or_b: {member_of: "in:20000000-0000-4000-8000-000000000001,20000000-0000-4000-8000-000000000002"}
    not_member_a: {member_of: "!20000000-0000-4000-8000-000000000001"}
    not_member_a_or_b: {member_of: "!in:20000000-0000-4000-8000-000000000001,20000000-0000-4000-8000-000000000002"}
    member_a_and_b: {member_of: [20000000-0000-4000-8000-000000000001, 20000000-0000-4000-8000-000000000002]}
    free_4_vcpu_2g: {resources: "VCPU:4,MEMORY_MB:2048"}
    gpu_tree: {in_tree: 10000000-0000-4000-8000-000000000004}
    gold: {required: CUSTOM_GOLD}
    not_gold: {required: "!CUSTOM_GOLD"}
    gold_and_avx2: {required: "CUSTOM_GOLD,HW_CPU_X86_AVX2"}
    gold_or_silver: {required: "in:CUSTOM_GOLD,CUSTOM_SILVER"}
    gold_not_silver: {required: [CUSTOM_GOLD, "!CUSTOM_SILVER"]}
    combined: {member_of: 20000000-0000-4000-8000-000000000001, resources: "VCPU:1", required: HW_CPU_X86_AVX2}
    unknown_class: {resources: "CUSTOM_NOPE:1"}
`

// freshPlacement restarts the real Placement with an empty database and
// seeds the test cloud (e2e/placement/seed/cloud.go).
func freshPlacement(t *testing.T) {
	t.Helper()
	run(t, "e2e/placement/start.sh")
	run(t, seedBin, "-endpoint", placementURL, "cloud")
}

// placementDo sends one request to the real Placement at microversion 1.39
// and fails the test unless it succeeds.
func placementDo(t *testing.T, method, path string, body any) {
	t.Helper()
	if status := placementJSON(t, method, path, body, nil); status >= 300 {
		t.Fatalf("%s %s: %d", method, path, status)
	}
}

func TestPlacement(t *testing.T) {
	freshPlacement(t)
	e := startExporter(t, placementClouds(), placementE2EConfig, "--web.enable-lifecycle") // the reload subtest posts /-/reload

	t.Run("seeded cloud", func(t *testing.T) {
		e.eventually(30*time.Second, "first poll", expect("openstack_placement_up", nil, 1))
		e.eventually(10*time.Second, "seeded cloud", all(
			expect("openstack_placement_resource_providers", nil, 7),
			expect("openstack_placement_resource_provider_trees", nil, 4),
			expect("openstack_placement_resource_provider_tree_size", labels("root_provider_uuid", cn1, "root_provider_name", "cn1"), 4),
			expect("openstack_placement_resource_provider_tree_depth", labels("uuid", cn1Gpu0), 2),
			expect("openstack_placement_resource_provider_tree_depth", labels("uuid", cn1), 0),
			expect("openstack_placement_resource_provider_info", labels("uuid", cn1Gpu0, "parent_provider_uuid", "10000000-0000-4000-8000-000000000003", "root_provider_uuid", cn1), 1),
			expect("openstack_placement_aggregate_resource_providers", labels("aggregate_uuid", aggA), 3),
			// cn1's whole tree (224 + 128 + 496) and cn2 (736); the sharing
			// provider has no VCPU.
			expect("openstack_placement_aggregate_capacity", labels("aggregate_uuid", aggA, "resource_class", "VCPU"), 1584),
			expect("openstack_placement_aggregate_usage", labels("aggregate_uuid", aggA, "resource_class", "VCPU"), 16),
			expect("openstack_placement_resource_provider_aggregate_info", labels("uuid", cn2, "aggregate_uuid", aggB), 1),
			expect("openstack_placement_resource_provider_trait_info", labels("uuid", cn1Gpu0, "trait", "CUSTOM_GPU"), 1),
			absent("openstack_placement_resource_provider_trait_info", labels("trait", "HW_CPU_X86_AVX2")),
			expect("openstack_placement_resource_provider_inventory_allocation_ratio", labels("uuid", cn1, "resource_class", "DISK_GB"), 1.1),
			expect("openstack_placement_resource_provider_capacity", labels("uuid", cn1, "resource_class", "DISK_GB"), 1089),
			expect("openstack_placement_resource_provider_usage", labels("uuid", cn2, "resource_class", "VCPU"), 8),
			expect("openstack_placement_resource_provider_generation", labels("uuid", cn1Numa0), 3),
		))
		// Query counts for every filter form, as the real server evaluates them.
		want := map[string]float64{
			"by_name": 1, "by_uuid": 1, "member_a": 3, "member_a_or_b": 5, "not_member_a": 4, "not_member_a_or_b": 2,
			"member_a_and_b": 1, "free_4_vcpu_2g": 3, "gpu_tree": 4, "gold": 2, "not_gold": 5, "gold_and_avx2": 2,
			"gold_or_silver": 3, "gold_not_silver": 1, "combined": 2,
		}
		var conds []func(metrics) string
		for q, n := range want {
			conds = append(conds, expect("openstack_placement_query_resource_providers", labels("query", q), n),
				expect("openstack_placement_query_success", labels("query", q), 1))
		}
		conds = append(conds, expect("openstack_placement_query_success", labels("query", "unknown_class"), 0),
			expect("openstack_placement_query_resource_provider_info", labels("query", "member_a", "uuid", cn2, "name", "cn2"), 1))
		e.eventually(10*time.Second, "query counts", all(conds...))
		if !strings.Contains(e.log(), "No such resource class CUSTOM_NOPE.") {
			t.Error("the server's reason for rejecting unknown_class is not logged")
		}
	})

	t.Run("allocation raises usage and generation", func(t *testing.T) {
		placementDo(t, http.MethodPut, "/allocations/"+newGuest, map[string]any{
			"allocations":         map[string]any{cn1: map[string]any{"resources": map[string]int{"VCPU": 2}}},
			"project_id":          projectID,
			"user_id":             projectID,
			"consumer_generation": nil,
			"consumer_type":       "INSTANCE",
		})
		took := e.eventually(10*time.Second, "usage after allocate", all(
			expect("openstack_placement_resource_provider_usage", labels("uuid", cn1, "resource_class", "VCPU"), 6),
			expect("openstack_placement_resource_provider_generation", labels("uuid", cn1), 5),
		))
		t.Logf("usage rise visible after %s (poll interval 1s)", took.Round(10*time.Millisecond))
	})

	t.Run("changes", func(t *testing.T) {
		start := time.Now()
		run(t, seedBin, "-endpoint", placementURL, "change")
		e.eventually(10*time.Second, "generation-driven changes", all(
			expect("openstack_placement_resource_provider_generation", labels("uuid", cn1Numa0), 4),
			expect("openstack_placement_resource_provider_inventory_total_units", labels("uuid", cn1Numa0, "resource_class", "VCPU"), 40),
			expect("openstack_placement_resource_provider_trait_info", labels("uuid", cn2, "trait", "CUSTOM_GPU"), 1),
			expect("openstack_placement_resource_providers", nil, 6),
			expect("openstack_placement_resource_provider_trees", nil, 3),
			absent("openstack_placement_resource_provider_info", labels("uuid", emptyRP)),
		))
		// DELETE /allocations leaves the generation alone: the drop shows
		// through the usages_max_age refresh (4s), or sooner when the
		// generation moves for another reason (cn2's trait change here).
		e.eventually(4*time.Second+3*time.Second, "usage drop after DELETE /allocations", expect("openstack_placement_resource_provider_usage", labels("uuid", cn2, "resource_class", "VCPU"), 0))
		// An aggregate write at microversion 1.1 moves no generation: the
		// aggregates_max_age refresh (6s) must pick it up.
		took := e.eventually(6*time.Second+3*time.Second, "aggregate change at 1.1", all(
			expect("openstack_placement_resource_provider_aggregate_info", labels("uuid", cn1, "aggregate_uuid", aggC), 1),
			expect("openstack_placement_aggregate_resource_providers", labels("aggregate_uuid", aggC), 2),
		))
		t.Logf("aggregate change at 1.1 visible %s after the changes, %s after the generation-driven ones (aggregates_max_age 6s)", time.Since(start).Round(10*time.Millisecond), took.Round(10*time.Millisecond))
	})

	t.Run("usage drop bound without generation change", func(t *testing.T) {
		// Free the allocation made above on cn1: no generation moves, so
		// only the age bound can reveal it.
		placementDo(t, http.MethodDelete, "/allocations/"+newGuest, nil)
		took := e.eventually(4*time.Second+3*time.Second, "usage drop after DELETE /allocations", expect("openstack_placement_resource_provider_usage", labels("uuid", cn1, "resource_class", "VCPU"), 4))
		t.Logf("usage drop visible after %s (usages_max_age 4s, interval 1s)", took.Round(10*time.Millisecond))
		if v, _ := mustScrape(t, e).value("openstack_placement_resource_provider_generation", labels("uuid", cn1)); v != 5 {
			t.Errorf("cn1 generation %v: DELETE /allocations must not move it", v)
		}
	})

	t.Run("reload", func(t *testing.T) {
		good, err := os.ReadFile(e.configPath())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.configPath(), []byte("placement:\n  queries:\n    bad: {member_of: not-a-uuid}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, body := e.post("/-/reload")
		if code != http.StatusBadRequest || !strings.Contains(body, `placement.queries.bad.member_of[0]: "not-a-uuid": expected an aggregate uuid`) {
			t.Errorf("bad config: %d %s", code, body)
		}
		e.eventually(5*time.Second, "old config kept", all(
			expect("openstack_capacity_exporter_config_last_reload_successful", nil, 0),
			expect("openstack_placement_query_success", labels("query", "gold"), 1),
		))
		newConfig := strings.Replace(string(good), "  queries:\n", "  queries:\n    gpu_trait: {required: CUSTOM_GPU}\n", 1)
		if err := os.WriteFile(e.configPath(), []byte(newConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		e.eventually(5*time.Second, "new query after SIGHUP", all(
			expect("openstack_capacity_exporter_config_last_reload_successful", nil, 1),
			expect("openstack_placement_query_resource_providers", labels("query", "gpu_trait"), 2),
		))
	})

	t.Run("placement down and back", func(t *testing.T) {
		run(t, "e2e/placement/stop.sh")
		e.eventually(15*time.Second, "up 0 while Placement is down", all(
			expect("openstack_placement_up", nil, 0),
			expect("openstack_capacity_exporter_collector_success", labels("collector", "placement"), 0),
			absent("openstack_placement_resource_provider_info", nil),
		))
		if code, _, err := e.get("/-/healthy"); err != nil || code != http.StatusOK {
			t.Errorf("healthy: %d %v", code, err)
		}
		freshPlacement(t)
		e.eventually(30*time.Second, "recovery", all(
			expect("openstack_placement_up", nil, 1),
			expect("openstack_placement_resource_providers", nil, 7),
			expect("openstack_capacity_exporter_collector_success", labels("collector", "placement"), 1),
		))
	})

	m := mustScrape(t, e)
	if v, ok := m.value("openstack_capacity_exporter_api_requests_total", labels("service", "placement", "operation", "list_resource_providers", "status_code", "200")); !ok || v < 5 {
		t.Errorf("request accounting: %v %v", v, ok)
	}
	if v, ok := m.value("openstack_capacity_exporter_api_requests_total", labels("service", "placement", "operation", "list_resource_providers", "status_code", "error")); !ok || v < 1 {
		t.Errorf("failed requests while Placement was down are not counted: %v %v", v, ok)
	}
}

func mustScrape(t *testing.T, e *exporter) metrics {
	t.Helper()
	m, err := e.scrape()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The exporter's own endpoint honours exporter-toolkit's web config.
func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, placementClouds(), "placement:\n  interval: 1m\n", "--web.config.file", webConfig)
	var code int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, err = e.get("/metrics"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", code)
	}
	e.auth = [2]string{"prometheus", "scrape-secret"}
	if code, _, err = e.get("/metrics"); err != nil || code != http.StatusOK {
		t.Errorf("with credentials: %d %v", code, err)
	}
	if strings.Contains(e.log(), "scrape-secret") {
		t.Error("the password is logged")
	}
}

// The exporter serves TLS from exporter-toolkit's web config.
func TestWebConfigTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, webConfig := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "web.yml")
	for path, data := range map[string][]byte{
		certPath:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPath:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		webConfig: []byte("tls_server_config:\n  cert_file: " + certPath + "\n  key_file: " + keyPath + "\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := startExporter(t, placementClouds(), "placement:\n  interval: 1m\n", "--web.config.file", webConfig)
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	e.url = strings.Replace(e.url, "http://", "https://", 1)
	e.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	var code int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, err = e.get("/-/healthy"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || code != http.StatusOK {
		t.Fatalf("https: %d %v", code, err)
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get(strings.Replace(e.url, "https://", "http://", 1) + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is served although TLS is configured")
		}
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
