package collector

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// A Placement endpoint that redirects the provider list to another host
// must not make that host's answer pass for Placement's: the poll fails
// with up 0, and the other host never sees the request or its token.
func TestPlacementCrossHostRedirectIsDown(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `{"resource_providers": []}`)
	}))
	defer other.Close()
	srv := newFixtureServer(t, placementRoot)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/resource_providers" {
			http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
			return true
		}
		return false
	})
	c := newTestPlacement(t, srv)
	metrics, err := poll(t, c, mustConfig(t, ""))
	if err == nil || !strings.Contains(err.Error(), "refused a redirect") {
		t.Fatalf("poll error %v", err)
	}
	want := "# HELP openstack_placement_up 1 if the last poll of the Placement resource provider list succeeded, 0 if not.\n# TYPE openstack_placement_up gauge\nopenstack_placement_up 0\n"
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

// A provider list larger than the response bound fails the poll with up 0
// and an error that names the flag to raise.
func TestPlacementOversizedListIsDown(t *testing.T) {
	srv := newFixtureServer(t, placementRoot)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/resource_providers" {
			return false
		}
		_, _ = io.WriteString(w, `{"resource_providers": [`)
		entry := `{"uuid": "10000000-0000-4000-8000-000000000001", "name": "cn1", "generation": 1},`
		for i := 0; i < 100_000 && r.Context().Err() == nil; i++ {
			if _, err := io.WriteString(w, entry); err != nil {
				break
			}
		}
		return true
	})
	c, err := newPlacementCollector(Deps{Logger: nopLogger(), Session: openstack.NewSession(&openstack.Cloud{
		AuthType: openstack.AuthTypeAdminToken, StaticToken: "admin:0123456789abcdef0123456789abcdef",
		EndpointOverrides: map[string]string{"placement": srv.URL}, TLS: &tls.Config{},
	}, openstack.NewAPIMetrics(), openstack.Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 64 << 10})})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := poll(t, c, mustConfig(t, ""))
	if err == nil || !strings.Contains(err.Error(), "--"+openstack.MaxResponseSizeFlag) || !strings.Contains(err.Error(), "64KiB") {
		t.Fatalf("poll error %v", err)
	}
	if got := exposition(t, metrics, "openstack_placement_up"); !strings.Contains(got, "openstack_placement_up 0") {
		t.Errorf("got %s", got)
	}
}

// A pool value of a megabyte of text is logged cut short: a log line never
// carries more than a few hundred bytes of what a server chose.
func TestManilaHugeValueIsLoggedCut(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	huge := strings.Repeat("x", 1<<20)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "scheduler-stats/pools/detail") {
			return false
		}
		_, _ = io.WriteString(w, `{"pools": [{"name": "h@b#p1", "host": "h", "backend": "b", "pool": "p1", "capabilities": {"free_capacity_gb": "`+huge+`"}}]}`)
		return true
	})
	var logged strings.Builder
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	c.logger = logfmtTo(&logged)
	if _, err := pollManila(t, c, mustConfig(t, "manila: {}\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "field=free_capacity_gb") {
		t.Fatalf("the value was not logged:\n%.500s", logged.String())
	}
	for _, line := range strings.Split(logged.String(), "\n") {
		if len(line) > 1000 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}
