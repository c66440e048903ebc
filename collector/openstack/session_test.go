package openstack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Describe turns every error body shape the real servers send into the
// server's own reason, without the webob boilerplate.
func TestDescribe(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		status int
		body   []byte
		want   string
	}{
		{400, read("error-resources-zero.json"), "GET http://p/resource_providers: HTTP 400: Requested resource VCPU requires amount >= 1. Got: 0."},
		{406, read("error-microversion-too-high.json"), "GET http://p/resource_providers: HTTP 406: Invalid microversion: Unacceptable version header: 1.40"},
		{401, read("error-no-token.json"), "GET http://p/resource_providers: HTTP 401: This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."},
		{400, []byte(`{"badRequest": {"code": 400, "message": "Share type nope not found."}}`), "GET http://p/resource_providers: HTTP 400: Share type nope not found."},
		{500, []byte(`<html>proxy error</html>`), "GET http://p/resource_providers: HTTP 500: <html>proxy error</html>"},
	} {
		err := gophercloud.ErrUnexpectedResponseCode{Method: "GET", URL: "http://p/resource_providers", Actual: tc.status, Body: tc.body}
		if got := Describe(err); got != tc.want {
			t.Errorf("\n got: %s\nwant: %s", got, tc.want)
		}
		if StatusCode(err) != tc.status {
			t.Errorf("status %d", StatusCode(err))
		}
	}
	if got := Describe(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)); got != "timed out: wrapped: context deadline exceeded" {
		t.Errorf("got %q", got)
	}
}

// A token-less session sends the static token and counts every request
// under its service, operation and status.
func TestSessionAdminTokenAndRequestMetrics(t *testing.T) {
	var gotToken atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken.Store(r.Header.Get("X-Auth-Token"))
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"ok": true}`)
	}))
	defer srv.Close()
	metrics := NewAPIMetrics()
	s := NewSession(&Cloud{AuthType: AuthTypeAdminToken, StaticToken: "admin:p", EndpointOverrides: map[string]string{"placement": srv.URL}, TLS: &tls.Config{}}, metrics, Limits{RequestTimeout: time.Second})
	sc, err := s.ServiceClient(context.Background(), "placement")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]bool
	if err := Get(context.Background(), sc, Operation{"placement", "list_resource_providers"}, sc.ServiceURL("resource_providers"), nil, &out); err != nil || !out["ok"] {
		t.Fatalf("%v %v", err, out)
	}
	if gotToken.Load() != "admin:p" {
		t.Errorf("token sent: %v", gotToken.Load())
	}
	err = Get(context.Background(), sc, Operation{"placement", "get_usages"}, sc.ServiceURL("missing"), nil, &out)
	if StatusCode(err) != 404 {
		t.Errorf("got %v", err)
	}
	if _, err := s.ServiceClient(context.Background(), "shared-file-system"); err == nil ||
		err.Error() != "auth_type admin_token and no endpoint override for shared-file-system: add shared_file_system_endpoint_override to the cloud in clouds.yaml" {
		t.Errorf("got %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP openstack_capacity_exporter_api_requests_total HTTP requests the exporter made to OpenStack APIs, by service, operation and HTTP status code ("error" when no response arrived: timeout, refused connection, TLS failure).
# TYPE openstack_capacity_exporter_api_requests_total counter
openstack_capacity_exporter_api_requests_total{operation="get_usages",service="placement",status_code="404"} 1
openstack_capacity_exporter_api_requests_total{operation="list_resource_providers",service="placement",status_code="200"} 1
`), "openstack_capacity_exporter_api_requests_total")
	if err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(metrics.duration); n != 2 {
		t.Errorf("%d latency series", n)
	}
}

// fakeKeystone issues tokens with a catalog; the Keystone protocol is
// simulated here because the real-server suite runs Placement and Manila
// without Keystone.
func fakeKeystone(t *testing.T, placementURL string, issued *atomic.Int32) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v3/auth/tokens":
			n := issued.Add(1)
			w.Header().Set("X-Subject-Token", fmt.Sprintf("token-%d", n))
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
				"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
				"project":    map[string]any{"id": "proj-1", "name": "admin", "domain": map[string]any{"id": "default"}},
				"catalog": []any{map[string]any{"type": "placement", "name": "placement", "endpoints": []any{
					map[string]any{"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": placementURL},
					map[string]any{"interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": placementURL + "/internal"},
				}}},
			}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// With Keystone, the catalog picks the endpoint for the configured
// interface, and an expired token (401) is renewed without failing the call.
func TestSessionKeystoneCatalogAndReauth(t *testing.T) {
	var tokens atomic.Int32
	var rejectNext atomic.Bool
	var seen atomic.Value
	placement := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path + " " + r.Header.Get("X-Auth-Token"))
		if rejectNext.CompareAndSwap(true, false) {
			http.Error(w, `{"message": "token expired"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer placement.Close()
	keystone := fakeKeystone(t, placement.URL, &tokens)
	cloud := &Cloud{
		Keystone: gophercloud.AuthOptions{IdentityEndpoint: keystone.URL + "/v3", Username: "u", Password: "p", DomainName: "Default",
			Scope: &gophercloud.AuthScope{ProjectName: "admin", DomainName: "Default"}, AllowReauth: true},
		Endpoint:          gophercloud.EndpointOpts{Region: "RegionOne", Availability: gophercloud.AvailabilityInternal},
		EndpointOverrides: map[string]string{},
		TLS:               &tls.Config{},
	}
	s := NewSession(cloud, NewAPIMetrics(), Limits{RequestTimeout: time.Second})
	sc, err := s.ServiceClient(context.Background(), "placement")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Endpoint != placement.URL+"/internal/" {
		t.Errorf("endpoint %s", sc.Endpoint)
	}
	if s.ProjectID() != "proj-1" {
		t.Errorf("project %q", s.ProjectID())
	}
	var out map[string]any
	if err := Get(context.Background(), sc, Operation{"placement", "x"}, sc.ServiceURL("a"), nil, &out); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != "/internal/a token-1" {
		t.Errorf("first request %v", seen.Load())
	}
	rejectNext.Store(true)
	if err := Get(context.Background(), sc, Operation{"placement", "x"}, sc.ServiceURL("b"), nil, &out); err != nil {
		t.Fatalf("expired token not renewed: %v", err)
	}
	if seen.Load() != "/internal/b token-2" || tokens.Load() != 2 {
		t.Errorf("after re-auth: %v, %d tokens", seen.Load(), tokens.Load())
	}
}

// Keystone down at start-up: the error says so, and the next call retries.
func TestSessionKeystoneDownRecovers(t *testing.T) {
	var tokens atomic.Int32
	var down atomic.Bool
	down.Store(true)
	placement := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer placement.Close()
	keystone := fakeKeystone(t, placement.URL, &tokens)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, `{"error": {"message": "Service Unavailable"}}`, http.StatusServiceUnavailable)
			return
		}
		keystone.Config.Handler.ServeHTTP(w, r)
	}))
	defer gate.Close()
	s := NewSession(&Cloud{
		Keystone:          gophercloud.AuthOptions{IdentityEndpoint: gate.URL + "/v3", Username: "u", Password: "p", DomainName: "Default", AllowReauth: true},
		EndpointOverrides: map[string]string{}, TLS: &tls.Config{},
	}, NewAPIMetrics(), Limits{RequestTimeout: time.Second})
	_, err := s.ServiceClient(context.Background(), "placement")
	if err == nil || !strings.HasPrefix(err.Error(), "keystone authentication failed:") || strings.Contains(err.Error(), "p\"") {
		t.Fatalf("got %v", err)
	}
	down.Store(false)
	if _, err := s.ServiceClient(context.Background(), "placement"); err != nil {
		t.Fatalf("no recovery: %v", err)
	}
}

// cacert and insecure from clouds.yaml decide whether a server certificate
// is trusted.
func TestSessionTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer srv.Close()
	dir := t.TempDir()
	ca := dir + "/ca.pem"
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, extra string
		ok          bool
	}{
		{"untrusted", "", false},
		{"cacert", "cacert: " + ca, true},
		{"verify false", "verify: false", true},
		{"insecure", "insecure: true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeClouds(t, "clouds:\n  c:\n    auth_type: none\n    placement_endpoint_override: "+srv.URL+"\n    "+tc.extra+"\n", "")
			cloud, err := LoadCloud("c")
			if err != nil {
				t.Fatal(err)
			}
			s := NewSession(cloud, NewAPIMetrics(), Limits{RequestTimeout: time.Second})
			sc, err := s.ServiceClient(context.Background(), "placement")
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			err = Get(context.Background(), sc, Operation{"placement", "x"}, sc.ServiceURL("x"), nil, &out)
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Errorf("an untrusted certificate was accepted: %v", err)
			}
		})
	}
}
