package openstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
)

func writeClouds(t *testing.T, clouds, secure string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(path, []byte(clouds), 0o600); err != nil {
		t.Fatal(err)
	}
	if secure != "" {
		if err := os.WriteFile(filepath.Join(dir, "secure.yaml"), []byte(secure), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	t.Setenv("OS_REGION_NAME", "")
	t.Setenv("OS_INTERFACE", "")
	return dir
}

// The noauth set-up of the README: a static token, no Keystone.
func TestLoadCloudAdminToken(t *testing.T) {
	writeClouds(t, `
clouds:
  local:
    auth_type: admin_token
    auth: {token: "admin:0123456789abcdef0123456789abcdef"}
    placement_endpoint_override: http://127.0.0.1:18778
    shared_file_system_endpoint_override: http://127.0.0.1:18786/v2/0123456789abcdef0123456789abcdef
`, "")
	cloud, err := LoadCloud("local")
	if err != nil {
		t.Fatal(err)
	}
	if !cloud.Keystoneless() || cloud.StaticToken != "admin:0123456789abcdef0123456789abcdef" {
		t.Errorf("got %+v", cloud)
	}
	if cloud.EndpointOverrides["placement"] != "http://127.0.0.1:18778" ||
		cloud.EndpointOverrides["shared_file_system"] != "http://127.0.0.1:18786/v2/0123456789abcdef0123456789abcdef" {
		t.Errorf("overrides %v", cloud.EndpointOverrides)
	}
	if cloud.TLS.InsecureSkipVerify {
		t.Error("verification must stay on unless asked")
	}
	s := NewSession(cloud, NewAPIMetrics(), Limits{})
	if got := s.ProjectID(); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("project from noauth token = %q", got)
	}
}

// Keystone credentials split between clouds.yaml and secure.yaml, as
// openstackclient reads them, with region and interface honoured.
func TestLoadCloudKeystoneWithSecureYAML(t *testing.T) {
	writeClouds(t, `
clouds:
  prod:
    auth:
      auth_url: https://keystone.example:5000/v3
      username: exporter
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionTwo
    interface: internal
    verify: false
`, `
clouds:
  prod:
    auth:
      password: s3cret
`)
	cloud, err := LoadCloud("prod")
	if err != nil {
		t.Fatal(err)
	}
	if cloud.Keystoneless() || cloud.Keystone.Password != "s3cret" || cloud.Keystone.Username != "exporter" || !cloud.Keystone.AllowReauth {
		t.Errorf("keystone options %+v", cloud.Keystone)
	}
	if cloud.Endpoint.Region != "RegionTwo" || cloud.Endpoint.Availability != gophercloud.AvailabilityInternal {
		t.Errorf("endpoint options %+v", cloud.Endpoint)
	}
	if !cloud.TLS.InsecureSkipVerify {
		t.Error("verify: false must disable verification")
	}
}

func TestLoadCloudApplicationCredential(t *testing.T) {
	writeClouds(t, `
clouds:
  app:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: abc
      application_credential_secret: xyz
`, "")
	cloud, err := LoadCloud("app")
	if err != nil {
		t.Fatal(err)
	}
	if cloud.Keystone.ApplicationCredentialID != "abc" || cloud.Keystone.ApplicationCredentialSecret != "xyz" {
		t.Errorf("got %+v", cloud.Keystone)
	}
}

func TestLoadCloudErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, clouds, cloud, want string }{
		{"unknown cloud", "clouds:\n  a: {auth_type: none, placement_endpoint_override: http://x}\n", "b",
			`cloud "b" not found (clouds here: a); fix --os-cloud or OS_CLOUD`},
		{"admin_token without token", "clouds:\n  a: {auth_type: admin_token, placement_endpoint_override: http://x}\n", "a",
			`cloud "a": auth_type admin_token needs auth.token`},
		{"none without overrides", "clouds:\n  a: {auth_type: none}\n", "a",
			`cloud "a": auth_type none has no catalog, so give the endpoints, e.g. placement_endpoint_override: http://127.0.0.1:8778`},
		{"no auth at all", "clouds:\n  a: {region_name: r}\n", "a",
			`cloud "a": no auth section; give Keystone credentials, or auth_type admin_token or none with <service>_endpoint_override`},
		{"missing auth_url", "clouds:\n  a: {auth: {username: u, password: p}}\n", "a",
			`cloud "a": auth.auth_url is missing`},
		{"cacert missing", "clouds:\n  a: {auth_type: none, placement_endpoint_override: http://x, cacert: /nonexistent/ca.pem}\n", "a",
			`cloud "a": cacert: open /nonexistent/ca.pem: no such file or directory`},
		{"cacert not PEM", "clouds:\n  a: {auth_type: none, placement_endpoint_override: http://x, cacert: " + notPEM + "}\n", "a",
			`cloud "a": cacert ` + notPEM + ` holds no PEM certificate`},
		{"cert without key", "clouds:\n  a: {auth_type: none, placement_endpoint_override: http://x, cert: /x.pem}\n", "a",
			`cloud "a": cert and key must be given together`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(writeClouds(t, tc.clouds, ""), "clouds.yaml")
			_, err := LoadCloud(tc.cloud)
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.TrimPrefix(err.Error(), path+": ")
			if got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestLoadCloudFromEnvironment(t *testing.T) {
	t.Setenv("OS_AUTH_URL", "https://keystone.example:5000/v3")
	t.Setenv("OS_USERNAME", "exporter")
	t.Setenv("OS_PASSWORD", "pw")
	t.Setenv("OS_PROJECT_NAME", "admin")
	t.Setenv("OS_USER_DOMAIN_NAME", "Default")
	t.Setenv("OS_REGION_NAME", "RegionOne")
	t.Setenv("OS_INTERFACE", "admin")
	t.Setenv("OS_INSECURE", "true")
	cloud, err := LoadCloud("")
	if err != nil {
		t.Fatal(err)
	}
	if cloud.Keystone.Username != "exporter" || cloud.Endpoint.Region != "RegionOne" ||
		cloud.Endpoint.Availability != gophercloud.AvailabilityAdmin || !cloud.TLS.InsecureSkipVerify {
		t.Errorf("got %+v %+v", cloud.Keystone, cloud.Endpoint)
	}

	t.Setenv("OS_AUTH_URL", "")
	if _, err := LoadCloud(""); err == nil || !strings.Contains(err.Error(), "give --os-cloud") {
		t.Errorf("got %v", err)
	}
}

// A container can be configured without a clouds.yaml, token-less too.
func TestLoadCloudAdminTokenFromEnvironment(t *testing.T) {
	t.Setenv("OS_AUTH_URL", "")
	t.Setenv("OS_AUTH_TYPE", "admin_token")
	t.Setenv("OS_TOKEN", "admin:p1")
	t.Setenv("OS_PLACEMENT_ENDPOINT_OVERRIDE", "http://127.0.0.1:18778")
	cloud, err := LoadCloud("")
	if err != nil {
		t.Fatal(err)
	}
	if !cloud.Keystoneless() || cloud.StaticToken != "admin:p1" || cloud.EndpointOverrides["placement"] != "http://127.0.0.1:18778" {
		t.Errorf("got %+v", cloud)
	}
	t.Setenv("OS_PLACEMENT_ENDPOINT_OVERRIDE", "")
	if _, err := LoadCloud(""); err == nil || !strings.Contains(err.Error(), "placement_endpoint_override") {
		t.Errorf("got %v", err)
	}
}

// A clouds.yaml or secure.yaml that exists but cannot be read (a Secret
// mounted for another uid) is an error naming it, never "not found", and
// never a reason to use a later location instead.
func TestLoadCloudUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	later := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(later, "openstack"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(later, "openstack", "clouds.yaml"), []byte("clouds:\n  local: {auth_type: none}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", later)
	t.Chdir(dir)
	// A directory stands in for an unreadable file: the tests run as root,
	// whom file modes do not stop.
	if err := os.Mkdir(filepath.Join(dir, "clouds.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", "")
	_, err := LoadCloud("local")
	if err == nil || !strings.Contains(err.Error(), "clouds.yaml") || !strings.Contains(err.Error(), "the file must be readable by it") {
		t.Errorf("unreadable ./clouds.yaml: %v", err)
	}

	if err := os.Remove(filepath.Join(dir, "clouds.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(later, "openstack", "secure.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCloud("local"); err == nil || !strings.Contains(err.Error(), "secure.yaml") {
		t.Errorf("unreadable secure.yaml: %v", err)
	}
}
