package openstack

import (
	"context"
	"testing"
)

func TestSplitEndpoint(t *testing.T) {
	for _, tc := range []struct{ endpoint, version, project, root, base string }{
		{"http://127.0.0.1:18776/v3/p1", "v3", "token", "http://127.0.0.1:18776/", "http://127.0.0.1:18776/v3/p1/"},
		{"http://127.0.0.1:18776/v3/p1/", "v3", "token", "http://127.0.0.1:18776/", "http://127.0.0.1:18776/v3/p1/"},
		{"http://127.0.0.1:18776", "v3", "token", "http://127.0.0.1:18776/", "http://127.0.0.1:18776/v3/token/"},
		{"http://127.0.0.1:18776/v3", "v3", "", "http://127.0.0.1:18776/", "http://127.0.0.1:18776/v3/"},
		{"https://cloud.example/volume/v3/p1", "v3", "", "https://cloud.example/volume/", "https://cloud.example/volume/v3/p1/"},
		{"http://127.0.0.1:18786/v2/p1", "v2", "", "http://127.0.0.1:18786/", "http://127.0.0.1:18786/v2/p1/"},
	} {
		root, base, err := SplitEndpoint(tc.endpoint, tc.version, tc.project)
		if err != nil || root != tc.root || base != tc.base {
			t.Errorf("%s: %q %q %v, want %q %q", tc.endpoint, root, base, err, tc.root, tc.base)
		}
	}
	if _, _, err := SplitEndpoint("http://[::1", "v3", ""); err == nil {
		t.Error("a malformed URL must fail")
	}
}

// Cinder's endpoint override is spelled as openstacksdk spells it,
// block_storage_endpoint_override (OS_BLOCK_STORAGE_ENDPOINT_OVERRIDE), and
// reaches the session under the catalog type block-storage.
func TestBlockStorageEndpointOverride(t *testing.T) {
	writeClouds(t, `
clouds:
  local:
    auth_type: admin_token
    auth: {token: "admin:0123456789abcdef0123456789abcdef"}
    block_storage_endpoint_override: http://127.0.0.1:18776/v3/0123456789abcdef0123456789abcdef
`, "")
	cloud, err := LoadCloud("local")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewSession(cloud, NewAPIMetrics(), Limits{}).ServiceClient(context.Background(), "block-storage", "volumev3")
	if err != nil || sc.Endpoint != "http://127.0.0.1:18776/v3/0123456789abcdef0123456789abcdef/" {
		t.Errorf("%v %v", sc, err)
	}

	t.Setenv("OS_AUTH_URL", "")
	t.Setenv("OS_AUTH_TYPE", "admin_token")
	t.Setenv("OS_TOKEN", "admin:p1")
	t.Setenv("OS_BLOCK_STORAGE_ENDPOINT_OVERRIDE", "http://127.0.0.1:18776")
	cloud, err = LoadCloud("")
	if err != nil || cloud.EndpointOverrides["block_storage"] != "http://127.0.0.1:18776" {
		t.Errorf("%+v %v", cloud, err)
	}
}
