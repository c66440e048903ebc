//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keystoneTokenLifetime is the [token] expiration the test's Keystone gets
// (e2e/keystone/start.sh, KEYSTONE_TOKEN_EXPIRATION): short, so a token
// expires while one exporter runs.
const keystoneTokenLifetime = 20 * time.Second

const (
	keystoneStateDir    = "/tmp/oce-e2e/keystone"
	placementKSStateDir = "/tmp/oce-e2e/placement-ks"
)

// keystoneRig is what e2e/keystone/start.sh wrote to rig.json.
type keystoneRig struct {
	AuthURL           string `json:"auth_url"`
	AdminPassword     string `json:"admin_password"`
	ExporterUser      string `json:"exporter_user"`
	ExporterUserID    string `json:"exporter_user_id"`
	ExporterPassword  string `json:"exporter_password"`
	ExporterProject   string `json:"exporter_project"`
	AppCredID         string `json:"application_credential_id"`
	AppCredSecret     string `json:"application_credential_secret"`
	PlacementInternal string `json:"placement_internal"`
	PlacementPublic   string `json:"placement_public"`
	TokenExpiration   int    `json:"token_expiration"`
}

// startKeystoneRig starts Keystone and a Placement that checks tokens with
// it (keystonemiddleware), and stops both when the test ends.
func startKeystoneRig(t *testing.T) keystoneRig {
	t.Helper()
	t.Setenv("STATE_DIR", "") // each script's own default
	t.Setenv("KEYSTONE_TOKEN_EXPIRATION", strconv.Itoa(int(keystoneTokenLifetime/time.Second)))
	t.Cleanup(func() {
		for _, script := range []string{"e2e/keystone/stop-placement.sh", "e2e/keystone/stop.sh"} {
			cmd := exec.Command(script)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", script, err, out)
			}
		}
	})
	start := time.Now()
	run(t, "e2e/keystone/start.sh")
	ks := time.Since(start)
	run(t, "e2e/keystone/start-placement.sh")
	t.Logf("keystone started in %s, placement with keystonemiddleware in %s", ks.Round(100*time.Millisecond), (time.Since(start) - ks).Round(100*time.Millisecond))

	data, err := os.ReadFile(keystoneStateDir + "/rig.json")
	if err != nil {
		t.Fatal(err)
	}
	var rig keystoneRig
	if err := json.Unmarshal(data, &rig); err != nil {
		t.Fatal(err)
	}
	return rig
}

// keystoneToken gets a project-scoped token for a Default-domain user.
func keystoneToken(t *testing.T, authURL, user, password, project string) string {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": %q, "domain": {"id": "default"}, "password": %q}}},
		"scope": {"project": {"name": %q, "domain": {"id": "default"}}}}}`, user, password, project)
	resp, err := http.Post(authURL+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("POST /auth/tokens as %s: %d %s", user, resp.StatusCode, b.String())
	}
	return resp.Header.Get("X-Subject-Token")
}

// placementKSLog returns the Keystone Placement's log from byte offset from.
func placementKSLog(t *testing.T, from int) string {
	t.Helper()
	data, err := os.ReadFile(placementKSStateDir + "/uwsgi.log")
	if err != nil {
		t.Fatal(err)
	}
	return string(data[from:])
}

// exporterPaths lists the request paths Placement's request log shows for
// the given user: `[req-… USER_ID PROJECT_ID …] 127.0.0.1 "GET /path"`.
func exporterPaths(log, userID string) []string {
	re := regexp.MustCompile(`req-\S+ ` + regexp.QuoteMeta(userID) + ` .*"GET (\S+)"`)
	var paths []string
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		paths = append(paths, m[1])
	}
	return paths
}

// checkNoSecrets fails the test when a credential or a Keystone token shows
// up in the running exporter's log (debug level) or /metrics.
func checkNoSecrets(t *testing.T, e *exporter, secrets ...string) {
	t.Helper()
	_, body, err := e.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"log": e.log(), "/metrics": body} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a credential appears in the exporter's %s", where)
			}
		}
		// Fernet tokens all start with the version byte and timestamp,
		// base64url: "gAAAAA".
		if strings.Contains(text, "gAAAAA") {
			t.Errorf("a Keystone token appears in the exporter's %s", where)
		}
	}
}

const keystoneE2EConfig = `placement:
  interval: 5s
  timeout: 5s
`

func passwordClouds(rig keystoneRig, region, iface string) string {
	return fmt.Sprintf(`clouds:
  local:
    auth:
      auth_url: %s
      username: %s
      password: %q
      project_name: %s
      user_domain_name: Default
      project_domain_name: Default
    region_name: %s
    interface: %s
`, rig.AuthURL, rig.ExporterUser, rig.ExporterPassword, rig.ExporterProject, region, iface)
}

func appCredClouds(rig keystoneRig) string {
	return fmt.Sprintf(`clouds:
  local:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s
      application_credential_id: %s
      application_credential_secret: %q
    region_name: RegionOne
    interface: internal
`, rig.AuthURL, rig.AppCredID, rig.AppCredSecret)
}

// sumOf adds up the samples of family name whose labels include want.
func sumOf(m metrics, name string, want map[string]string) float64 {
	total := 0.0
	for _, metric := range m[name].GetMetric() {
		match := 0
		for _, l := range metric.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(want) {
			total += metric.GetCounter().GetValue() + metric.GetGauge().GetValue()
		}
	}
	return total
}

func authenticateOK(m metrics) float64 {
	v, _ := m.value("openstack_capacity_exporter_api_requests_total", labels("service", "identity", "operation", "authenticate", "status_code", "201"))
	return v
}

func TestKeystone(t *testing.T) {
	rig := startKeystoneRig(t)
	if rig.TokenExpiration != int(keystoneTokenLifetime/time.Second) {
		t.Fatalf("keystone runs with token expiration %d s, want %s", rig.TokenExpiration, keystoneTokenLifetime)
	}
	// Seed through the public endpoint, so that the internal one (/internal)
	// sees only the exporter's requests.
	admin := keystoneToken(t, rig.AuthURL, "admin", rig.AdminPassword, "admin")
	run(t, seedBin, "-endpoint", rig.PlacementPublic, "-token", admin, "cloud")
	secrets := []string{rig.AdminPassword, rig.ExporterPassword, rig.AppCredSecret}

	// internalOnly checks that every exporter request since logFrom went to
	// the internal endpoint, and that there were some.
	internalOnly := func(t *testing.T, logFrom int) {
		t.Helper()
		paths := exporterPaths(placementKSLog(t, logFrom), rig.ExporterUserID)
		if len(paths) == 0 {
			t.Fatalf("placement logged no request of the exporter's user %s", rig.ExporterUserID)
		}
		for _, p := range paths {
			if !strings.HasPrefix(p, "/internal/") {
				t.Fatalf("exporter request to %s: not the internal endpoint", p)
			}
		}
	}

	t.Run("password auth, internal endpoint", func(t *testing.T) {
		logFrom := len(placementKSLog(t, 0))
		e := startExporter(t, passwordClouds(rig, "RegionOne", "internal"), keystoneE2EConfig)
		took := e.eventually(60*time.Second, "first poll", expect("openstack_placement_up", nil, 1))
		e.eventually(10*time.Second, "seeded cloud", all(
			expect("openstack_placement_resource_providers", nil, 7),
			expect("openstack_placement_resource_provider_trees", nil, 4),
		))
		t.Logf("first poll through keystone done after %s", took.Round(10*time.Millisecond))
		checkNoSecrets(t, e, secrets...)
		e.stop()
		internalOnly(t, logFrom)
	})

	t.Run("application credential", func(t *testing.T) {
		logFrom := len(placementKSLog(t, 0))
		e := startExporter(t, appCredClouds(rig), keystoneE2EConfig)
		e.eventually(60*time.Second, "first poll", expect("openstack_placement_up", nil, 1))
		e.eventually(10*time.Second, "seeded cloud", expect("openstack_placement_resource_providers", nil, 7))
		checkNoSecrets(t, e, secrets...)
		e.stop()
		internalOnly(t, logFrom)
	})

	t.Run("public interface", func(t *testing.T) {
		logFrom := len(placementKSLog(t, 0))
		e := startExporter(t, passwordClouds(rig, "RegionOne", "public"), keystoneE2EConfig)
		e.eventually(60*time.Second, "first poll", expect("openstack_placement_up", nil, 1))
		e.eventually(10*time.Second, "seeded cloud", expect("openstack_placement_resource_providers", nil, 7))
		checkNoSecrets(t, e, secrets...)
		e.stop()
		paths := exporterPaths(placementKSLog(t, logFrom), rig.ExporterUserID)
		if len(paths) == 0 {
			t.Fatal("placement logged no request of the exporter's user")
		}
		for _, p := range paths {
			if strings.HasPrefix(p, "/internal") {
				t.Fatalf("exporter request to %s with interface public", p)
			}
		}
	})

	t.Run("region selects the endpoint", func(t *testing.T) {
		// RegionTwo's internal placement endpoint is .../wrong-region, which
		// Placement answers with 404.
		for _, c := range []struct{ region, logged string }{
			{"RegionTwo", "/wrong-region/"},
			// No placement endpoint in this region: the catalog look-up fails.
			{"RegionNowhere", "no placement endpoint in the catalog"},
		} {
			e := startExporter(t, passwordClouds(rig, c.region, "internal"), keystoneE2EConfig)
			e.eventually(60*time.Second, "failed first poll in "+c.region, func(m metrics) string {
				if msg := expect("openstack_placement_up", nil, 0)(m); msg != "" {
					return msg
				}
				if !strings.Contains(e.log(), c.logged) {
					return fmt.Sprintf("the log does not (yet) say %q", c.logged)
				}
				return ""
			})
			checkNoSecrets(t, e, secrets...)
			e.stop()
		}
	})

	t.Run("re-authentication when the token expires", func(t *testing.T) {
		logFrom := len(placementKSLog(t, 0))
		e := startExporter(t, passwordClouds(rig, "RegionOne", "internal"), keystoneE2EConfig)
		e.eventually(60*time.Second, "first poll", all(
			expect("openstack_placement_up", nil, 1),
			expect("openstack_placement_resource_providers", nil, 7),
		))
		// Watch past two token lifetimes, polling every 5 s: up must never
		// drop, and the exporter must have fetched new tokens.
		watch := 2*keystoneTokenLifetime + 10*time.Second
		start := time.Now()
		scrapes := 0
		for time.Since(start) < watch {
			m, err := e.scrape()
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := m.value("openstack_placement_up", nil); v != 1 {
				t.Fatalf("openstack_placement_up = %v after %s", v, time.Since(start).Round(time.Second))
			}
			if v, _ := m.value("openstack_placement_resource_providers", nil); v != 7 {
				t.Fatalf("openstack_placement_resource_providers = %v after %s", v, time.Since(start).Round(time.Second))
			}
			scrapes++
			time.Sleep(time.Second)
		}
		m, err := e.scrape()
		if err != nil {
			t.Fatal(err)
		}
		auths := authenticateOK(m)
		rejected := sumOf(m, "openstack_capacity_exporter_api_requests_total", labels("service", "placement", "status_code", "401"))
		t.Logf("%d scrapes over %s, all up; %v authentications, %v placement requests rejected with 401 (token lifetime %s, poll interval 5s)",
			scrapes, watch.Round(time.Second), auths, rejected, keystoneTokenLifetime)
		if auths < 2 {
			t.Errorf("api_requests_total{service=identity,operation=authenticate,status_code=201} = %v after %s with %s tokens, want > 1", auths, watch, keystoneTokenLifetime)
		}
		checkNoSecrets(t, e, secrets...)
		e.stop()
		internalOnly(t, logFrom)
	})
}
