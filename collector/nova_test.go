package collector

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The rig's recordings (e2e/nova): rig-cmp1 up and enabled in rig-az1,
// rig-cmp2 disabled ("rig: maintenance") in rig-az1, rig-cmp3 forced down
// in the default zone; two aggregates; five flavors, one private.
var (
	novaRig     = filepath.Join("testdata", "nova", "nova.json")
	novaCmp1Off = filepath.Join("testdata", "nova", "nova-cmp1-down.json")
)

func newTestNova(t testing.TB, endpoint string, model *Model) *novaCollector {
	c, err := newNovaCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"compute": endpoint}, 5*time.Second), Model: model})
	if err != nil {
		t.Fatal(err)
	}
	nc := c.(*novaCollector)
	nc.now = func() time.Time { return time.Unix(1e9, 0) }
	return nc
}

func pollNova(t testing.TB, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Nova.Timeout))
	defer cancel()
	return collect(t, ctx, c, cfg)
}

// Every family from the real Nova's answers, whatever form the endpoint
// takes (the catalog's .../v2.1, an override of the bare server).
func TestNova(t *testing.T) {
	srv := newFixtureServer(t, novaRig)
	for _, endpoint := range []string{srv.URL + "/v2.1", srv.URL, srv.URL + "/v2.1/"} {
		t.Run(strings.TrimPrefix(endpoint, srv.URL), func(t *testing.T) {
			c := newTestNova(t, endpoint, nil)
			metrics, err := pollNova(t, c, mustConfig(t, ""))
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, metrics, "nova-rig")
			problems, err := testutil.CollectAndLint(replay(metrics))
			if err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %+v", err, problems)
			}
		})
	}
}

// Four listings per poll, whatever the number of hosts; discovery once.
func TestNovaRequestsPerPoll(t *testing.T) {
	srv := newFixtureServer(t, novaRig)
	c := newTestNova(t, srv.URL+"/v2.1", nil)
	for i := 0; i < 3; i++ {
		if _, err := pollNova(t, c, mustConfig(t, "")); err != nil {
			t.Fatal(err)
		}
	}
	counts := srv.requests()
	if counts["GET /"] != 1 || countMatching(counts, "GET /v2.1/") != 12 || len(counts) != 5 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
}

// The published view joins what the capacity collector needs: a host's
// zone and state, its compute node's uuid, the flavors' extra specs.
func TestNovaView(t *testing.T) {
	srv := newFixtureServer(t, novaCmp1Off, novaRig)
	model := NewModel()
	model.novaPolled.Store(true)
	model.WantNova()
	c := newTestNova(t, srv.URL+"/v2.1", model)
	if _, err := pollNova(t, c, mustConfig(t, "")); err != nil {
		t.Fatal(err)
	}
	v := model.Nova(context.Background())
	if v == nil || len(v.Services) != 3 || len(v.Hypervisors) != 3 || len(v.Aggregates) != 2 || len(v.Flavors) != 5 {
		t.Fatalf("view: %+v", v)
	}
	var got []string
	for _, s := range v.Services {
		got = append(got, fmt.Sprintf("%s/%s/%v", s.Host, s.Zone, s.Schedulable()))
	}
	sort.Strings(got)
	if want := "rig-cmp1/rig-az1/false rig-cmp2/rig-az1/false rig-cmp3/nova/false"; strings.Join(got, " ") != want {
		t.Errorf("services %s, want %s (rig-cmp1 stopped, rig-cmp2 disabled, rig-cmp3 forced down)", strings.Join(got, " "), want)
	}
	if f := v.Flavors[1]; f.Name != "rig.large" || f.SwapMB != 4096 || f.EphemeralGB != 100 || f.DiskGB != 200 {
		t.Errorf("rig.large: %+v", f)
	}
	if f := v.Flavors[2]; f.Name != "rig.pinned" || f.ExtraSpecs["resources:PCPU"] != "2" || f.SwapMB != 0 {
		t.Errorf("rig.pinned: %+v", f)
	}
}

// servePaged answers the hypervisor listing with the rig's recorded
// limit=2 pages (recorded at 2.53; nothing in them differs at 2.93): the
// first page for the collector's unlimited request, whose next link Nova
// builds with its own host name.
func servePaged(t *testing.T, srv *fixtureServer, mutate func(page int, body string) string) {
	pages := map[string]string{}
	for _, it := range loadCassette(t, novaRig) {
		if it.Path == "/v2.1/os-hypervisors/detail" && strings.Contains(it.Query, "limit=2") {
			pages[it.Query] = it.Body
		}
	}
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v2.1/os-hypervisors/detail" {
			return false
		}
		query := r.URL.RawQuery
		page := 1
		if query == "" {
			query, page = "limit=2", 0
		}
		body, ok := pages[query]
		if !ok {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, mutate(page, body))
		return true
	})
}

func TestNovaPagination(t *testing.T) {
	srv := newFixtureServer(t, novaRig)
	servePaged(t, srv, func(_ int, body string) string { return body })
	model := NewModel()
	model.novaPolled.Store(true)
	model.WantNova()
	c := newTestNova(t, srv.URL+"/v2.1", model)
	if _, err := pollNova(t, c, mustConfig(t, "")); err != nil {
		t.Fatal(err)
	}
	if v := model.Nova(context.Background()); len(v.Hypervisors) != 3 || v.Hypervisors[2].Hostname != "rig-cmp2" {
		t.Errorf("hypervisors over two pages: %+v", v.Hypervisors)
	}
	if counts := srv.requests(); countMatching(counts, "os-hypervisors/detail") != 2 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
}

// A server whose next link points back at a page already read, or has no
// marker, fails the poll instead of looping.
func TestNovaPaginationLoop(t *testing.T) {
	var second string // the recorded second page's query
	for _, it := range loadCassette(t, novaRig) {
		if strings.Contains(it.Query, "marker=") {
			second = it.Query
		}
	}
	for name, mutate := range map[string]func(int, string) string{
		"loop": func(page int, body string) string {
			if page == 1 { // the second page links to itself
				return strings.Replace(body, `]}`, `], "hypervisors_links": [{"rel": "next", "href": "http://nova/v2.1/os-hypervisors/detail?`+second+`"}]}`, 1)
			}
			return body
		},
		"no marker": func(_ int, body string) string {
			return regexp.MustCompile(`&marker=[0-9a-f-]+`).ReplaceAllString(body, "")
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFixtureServer(t, novaRig)
			servePaged(t, srv, mutate)
			c := newTestNova(t, srv.URL+"/v2.1", nil)
			metrics, err := pollNova(t, c, mustConfig(t, ""))
			if err == nil || !strings.Contains(err.Error(), "hypervisors") {
				t.Fatalf("err %v", err)
			}
			assertNovaUp(t, metrics, 0)
			if n := countMatching(srv.requests(), "os-hypervisors/detail"); n > 3 {
				t.Errorf("%d hypervisor requests", n)
			}
		})
	}
}

func assertNovaUp(t *testing.T, metrics []prometheus.Metric, want int) {
	t.Helper()
	text := fmt.Sprintf("# HELP openstack_nova_up 1 if the last poll of the Nova API (services, hypervisors, aggregates, flavors) succeeded, 0 if not.\n# TYPE openstack_nova_up gauge\nopenstack_nova_up %d\n", want)
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(text), "openstack_nova_up"); err != nil {
		t.Error(err)
	}
}

// A failing, garbled or too old Nova: up 0, an error that says what, and
// the next good poll recovers (discovering again).
func TestNovaHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handle  func(w http.ResponseWriter, r *http.Request) bool
		wantErr string
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2.1/os-aggregates" {
				return false
			}
			http.Error(w, `{"computeFault": {"code": 500, "message": "Unexpected API Error."}}`, http.StatusInternalServerError)
			return true
		}, "listing aggregates"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2.1/flavors/detail" {
				return false
			}
			fmt.Fprint(w, `{"flavors": [{"id": 1, "name": {}}`)
			return true
		}, "listing flavors"},
		{"no list", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2.1/os-services" {
				return false
			}
			fmt.Fprint(w, `{"servic": []}`)
			return true
		}, "no services list"},
		{"integer hypervisor ids", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2.1/os-hypervisors/detail" {
				return false
			}
			fmt.Fprint(w, `{"hypervisors": [{"id": "1", "hypervisor_hostname": "h", "service": {"host": "h"}}]}`)
			return true
		}, "not a compute node uuid"},
		{"204", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/v2.1/os-services" {
				return false
			}
			w.WriteHeader(http.StatusNoContent)
			return true
		}, "no valid token"},
		{"too old", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/" {
				return false
			}
			fmt.Fprint(w, `{"versions": [{"id": "v2.1", "status": "CURRENT", "version": "2.53", "min_version": "2.1"}]}`)
			return true
		}, "2.61 for flavors' extra_specs"},
		{"not nova", func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/" {
				return false
			}
			fmt.Fprint(w, `{"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0"}]}`)
			return true
		}, "compute_endpoint_override"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFixtureServer(t, novaRig)
			srv.setHandler(tc.handle)
			c := newTestNova(t, srv.URL+"/v2.1", nil)
			metrics, err := pollNova(t, c, mustConfig(t, ""))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
			}
			assertNovaUp(t, metrics, 0)
			srv.setHandler(nil)
			metrics, err = pollNova(t, c, mustConfig(t, ""))
			if err != nil {
				t.Fatal(err)
			}
			assertNovaUp(t, metrics, 1)
			if counts := srv.requests(); counts["GET /"] > 2 {
				t.Errorf("requests:\n%s", describeCounts(counts))
			}
		})
	}
}

// Strict configuration: unknown keys and bad schedules name the field.
func TestNovaConfig(t *testing.T) {
	for text, want := range map[string]string{
		"nova:\n  intervall: 1m\n": `nova: line 2: unknown key "intervall"; allowed keys: interval, timeout`,
		"nova:\n  interval: 0s\n":  "nova.interval: must be at least 1s (got 0s)",
		"nova:\n  timeout: 0s\n":   "nova.timeout: must be positive (got 0s); it bounds a whole poll",
	} {
		if _, err := ParseConfig([]byte(text)); err == nil || err.Error() != want {
			t.Errorf("%q: err %v, want %s", text, err, want)
		}
	}
}
