package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const cinderProject = "0123456789abcdef0123456789abcdef"

// cinderRig is a cassette of the real Cinder rig's recordings: the rig's
// own (collector/testdata/cinder/index.json, one file per answer) and what
// the collector needs beyond them (testdata/cinder-extra.json). Requests
// are matched on the microversion header, not the token. A recording of a
// request already recorded (another token, a stopped service, volumes
// created) is served only when named in instead, and then in place of the
// first.
func cinderRig(t testing.TB, instead ...string) []string {
	t.Helper()
	dir := filepath.Join("testdata", "cinder")
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		RecordedFrom string `json:"recorded_from"`
		Answers      []struct {
			interaction
			File string `json:"file"`
		} `json:"answers"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	out := cassette{RecordedFrom: index.RecordedFrom}
	seen := map[string]bool{}
	var preferred []interaction
	for _, a := range index.Answers {
		key := a.Method + " " + a.Path + "?" + a.Query + " " + a.Headers["OpenStack-API-Version"]
		wanted := slices.Contains(instead, a.File)
		if seen[key] && !wanted {
			continue
		}
		seen[key] = true
		body, err := os.ReadFile(filepath.Join(dir, a.File))
		if err != nil {
			t.Fatal(err)
		}
		it := a.interaction
		it.Body = string(body)
		it.Headers = map[string]string{}
		if v, ok := a.Headers["OpenStack-API-Version"]; ok {
			it.Headers["OpenStack-API-Version"] = v
		}
		if wanted {
			preferred = append(preferred, it)
		} else {
			out.Interactions = append(out.Interactions, it)
		}
	}
	out.Interactions = append(preferred, out.Interactions...)
	data, err = json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cinder-rig.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{path, filepath.Join("testdata", "cinder-extra.json")}
}

func newTestCinder(t testing.TB, endpoint string) *cinderCollector {
	c, err := newCinderCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"block_storage": endpoint}, 5*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*cinderCollector)
}

func pollCinder(t testing.TB, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Cinder.Timeout))
	defer cancel()
	return collect(t, ctx, c, cfg)
}

const cinderAllConfig = `
cinder:
  volume_types: all
  queries:
    by_name: {name: "rig-vol1@alpha#a1"}
    host_is_no_prefix: {name: rig-vol1}
    no_regex: {name: "rig-vol1@alpha#a.*"}
`

// The real rig's pools with "infinite", "unknown", "auto", string and
// fractional numbers, a back end down and one not reporting its state;
// queries by name (an exact match: neither prefix nor regex matches), and
// every volume type's pools. The endpoint may be the catalog's
// .../v3/<project>, the bare server or .../v3.
func TestCinderPools(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	for _, endpoint := range []string{srv.URL + "/v3/" + cinderProject, srv.URL, srv.URL + "/v3/"} {
		t.Run(strings.TrimPrefix(endpoint, srv.URL), func(t *testing.T) {
			c := newTestCinder(t, endpoint)
			metrics, err := pollCinder(t, c, mustConfig(t, cinderAllConfig))
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, metrics, "cinder-rig")
			problems, err := testutil.CollectAndLint(replay(metrics))
			if err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %+v", err, problems)
			}
		})
	}
}

// One request for the list, one per query and the type list (two pages:
// the exporter cannot know the page size), every poll, plus discovery
// once; the microversion header on each.
func TestCinderRequestsPerPoll(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	var badHeader []string
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/" && r.Header.Get("OpenStack-API-Version") != "volume 3.70" {
			badHeader = append(badHeader, r.URL.String())
		}
		return false
	})
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	cfg := mustConfig(t, cinderAllConfig)
	for i := 0; i < 3; i++ {
		if _, err := pollCinder(t, c, cfg); err != nil {
			t.Fatal(err)
		}
	}
	counts := srv.requests()
	if counts["GET /"] != 1 || countMatching(counts, "detail=true") != 3 || countMatching(counts, "get_pools") != 12 ||
		countMatching(counts, "/types?") != 6 || len(counts) != 7 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
	if len(badHeader) > 0 {
		t.Errorf("requests without the microversion header: %v", badHeader)
	}
}

// Without volume_types nothing about types is asked. A listed type is
// found by name or by id and labelled by its name; its pools are those
// whose capabilities satisfy its extra specs: silver wants
// volume_backend_name=beta, tiny also pool_name=b2.
func TestCinderVolumeTypeSelection(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	if _, err := pollCinder(t, c, mustConfig(t, "cinder: {}\n")); err != nil {
		t.Fatal(err)
	}
	if counts := srv.requests(); countMatching(counts, "types") != 0 || countMatching(counts, "volume_type") != 0 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
	tinyID := "424f41d5-b26f-413d-8365-2fdda2c2087e" // in cinder-extra.json
	metrics, err := pollCinder(t, c, mustConfig(t, "cinder:\n  volume_types: [silver, "+tinyID+", tiny]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_cinder_volume_type_pool_info 1 for each pool whose capabilities satisfy the volume type's extra specs.
# TYPE openstack_cinder_volume_type_pool_info gauge
openstack_cinder_volume_type_pool_info{name="rig-vol1@beta#b0",volume_type="silver"} 1
openstack_cinder_volume_type_pool_info{name="rig-vol1@beta#b1",volume_type="silver"} 1
openstack_cinder_volume_type_pool_info{name="rig-vol1@beta#b2",volume_type="silver"} 1
openstack_cinder_volume_type_pool_info{name="rig-vol1@beta#b2",volume_type="tiny"} 1
# HELP openstack_cinder_volume_type_pools Pools whose capabilities satisfy the volume type's extra specs, as Cinder's CapabilitiesFilter judges them (capacity aside: see openstack_cinder_pool_capacity_virtual_free_bytes).
# TYPE openstack_cinder_volume_type_pools gauge
openstack_cinder_volume_type_pools{volume_type="silver"} 3
openstack_cinder_volume_type_pools{volume_type="tiny"} 1
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_cinder_volume_type_pools", "openstack_cinder_volume_type_pool_info"); err != nil {
		t.Error(err)
	}
	if counts := srv.requests(); countMatching(counts, "/types?") != 2 || countMatching(counts, "volume_type") != 0 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
}

// A listed volume type Cinder does not know fails the poll's collector
// success (the type metrics are incomplete) but not up, and the other
// types are still reported; the failure is logged once, not every poll.
func TestCinderUnknownVolumeType(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	var logged strings.Builder
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "cinder:\n  volume_types: [nope, gold]\n")
	var metrics []prometheus.Metric
	var err error
	for i := 0; i < 2; i++ {
		metrics, err = pollCinder(t, c, cfg)
		if err == nil || err.Error() != "cinder.volume_types: Cinder has no volume type nope (by name or id)" {
			t.Fatalf("poll error %v", err)
		}
	}
	if got := exposition(t, metrics, "openstack_cinder_up", "openstack_cinder_volume_type_pools"); got != `# HELP openstack_cinder_up 1 if the last poll of the Cinder scheduler-stats pools succeeded, 0 if not.
# TYPE openstack_cinder_up gauge
openstack_cinder_up 1
# HELP openstack_cinder_volume_type_pools Pools whose capabilities satisfy the volume type's extra specs, as Cinder's CapabilitiesFilter judges them (capacity aside: see openstack_cinder_pool_capacity_virtual_free_bytes).
# TYPE openstack_cinder_volume_type_pools gauge
openstack_cinder_volume_type_pools{volume_type="gold"} 4
` {
		t.Errorf("got:\n%s", got)
	}
	if n := strings.Count(logged.String(), "level=error"); n != 1 {
		t.Errorf("the failing type logged at error %d times over two polls, want once:\n%s", n, logged.String())
	}
}

// A server below 3.28 cannot filter by name: such a query is not sent
// (Cinder would silently answer every pool), and a reload that has one is
// rejected.
func TestCinderOldServer(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	srv.load() // no recorded 3.27 answers: only the list is allowed below
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/":
			w.WriteHeader(http.StatusMultipleChoices)
			fmt.Fprint(w, `{"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.27", "min_version": "3.0"}]}`)
		case r.URL.RawQuery == "detail=true" && r.Header.Get("OpenStack-API-Version") == "volume 3.27":
			fmt.Fprint(w, `{"pools": []}`)
		default:
			t.Errorf("unexpected request %s?%s", r.URL.Path, r.URL.RawQuery)
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
		return true
	})
	var logged strings.Builder
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "cinder:\n  queries:\n    one: {name: h@b#p}\n")
	metrics, err := pollCinder(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(filterMetrics(metrics, "openstack_cinder_query_success")); v != 0 {
		t.Errorf("query_success %v", v)
	}
	if !strings.Contains(logged.String(), `err="not sent, the server cannot run it: cinder.queries.one.name: needs Cinder microversion 3.28, the server offers up to 3.27`) {
		t.Errorf("log:\n%s", logged.String())
	}
	if err := c.CheckConfig(cfg); err == nil ||
		err.Error() != "cinder.queries.one.name: needs Cinder microversion 3.28, the server offers up to 3.27 (below it Cinder silently answers every pool)" {
		t.Errorf("reload: %v", err)
	}
	if err := c.CheckConfig(mustConfig(t, "cinder:\n  volume_types: all\n")); err != nil {
		t.Error(err)
	}
}

// Cinder with its scheduler down holds the request (60 s) and then answers
// 500; the poll gives up at its own timeout and reports up 0, and recovers.
// Garbage, a body without the list and one past the size bound likewise.
func TestCinderFaultsAndRecovery(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	cfg := mustConfig(t, "cinder:\n  timeout: 300ms\n")
	if _, err := pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	for _, fault := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		wantErr string
	}{
		{"scheduler down", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, "context deadline exceeded"},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"computeFault": {"code": 500, "message": "The server has either erred or is incapable of performing the requested operation."}}`)
		}, "HTTP 500: The server has either erred or is incapable of performing the requested operation."},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"pools": "lots"}`) }, "cannot unmarshal"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `<html>proxy error</html>`) }, "decoding the response"},
		{"no pools key", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }, "the response has no pools list"},
		{"no token", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			"Cinder answered 204 No Content: it received no token"},
	} {
		t.Run(fault.name, func(t *testing.T) {
			srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.Contains(r.URL.Path, "scheduler-stats") {
					return false
				}
				fault.handler(w, r)
				return true
			})
			start := time.Now()
			metrics, err := pollCinder(t, c, cfg)
			if err == nil || !strings.Contains(err.Error(), fault.wantErr) {
				t.Errorf("error %v, want %q", err, fault.wantErr)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("poll took %s", time.Since(start))
			}
			if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader("# HELP openstack_cinder_up 1 if the last poll of the Cinder scheduler-stats pools succeeded, 0 if not.\n# TYPE openstack_cinder_up gauge\nopenstack_cinder_up 0\n")); err != nil {
				t.Error(err)
			}
			srv.setHandler(nil)
			metrics, err = pollCinder(t, c, cfg)
			if err != nil {
				t.Fatalf("no recovery: %v", err)
			}
			if n := testutil.CollectAndCount(replay(metrics), "openstack_cinder_pool_info"); n != 7 {
				t.Errorf("%d pools after recovery", n)
			}
		})
	}
}

// A value that is neither a number, "infinite" nor "unknown" is not
// exported, nor what is computed from it; that is said once per pool and
// field (not on every poll while it stays so) and counted on every poll. A
// pool listed twice keeps its first entry, likewise logged once and
// counted.
func TestCinderInconsistentPools(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.RawQuery != "detail=true" {
			return false
		}
		fmt.Fprint(w, `{"pools": [
  {"name": "h@b#p1", "capabilities": {"total_capacity_gb": 100, "free_capacity_gb": "abc", "reserved_percentage": {"x": 1}, "allocated_capacity_gb": "unknown", "provisioned_capacity_gb": null, "timestamp": "yesterday"}},
  {"name": "h@b#p2", "capabilities": {"total_capacity_gb": 100, "free_capacity_gb": "12.5", "max_over_subscription_ratio": "high", "thin_provisioning_support": true, "backend_state": "down"}},
  {"name": "h@b#p3", "capabilities": {"total_capacity_gb": "infinite", "free_capacity_gb": 10, "allocated_capacity_gb": "unknown"}},
  {"name": "h@b#p1", "capabilities": {"total_capacity_gb": 999}}
]}`)
		return true
	})
	var logged strings.Builder
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "cinder: {}\n")
	var metrics []prometheus.Metric
	for i := 0; i < 2; i++ {
		var err error
		if metrics, err = pollCinder(t, c, cfg); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP openstack_cinder_pool_capacity_total_bytes Total capacity the pool's driver reports; +Inf for "infinite", absent for "unknown".
# TYPE openstack_cinder_pool_capacity_total_bytes gauge
openstack_cinder_pool_capacity_total_bytes{backend="b",host="h",name="h@b#p1",pool="p1"} 1.073741824e+11
openstack_cinder_pool_capacity_total_bytes{backend="b",host="h",name="h@b#p2",pool="p2"} 1.073741824e+11
openstack_cinder_pool_capacity_total_bytes{backend="b",host="h",name="h@b#p3",pool="p3"} +Inf
# HELP openstack_cinder_pool_capacity_free_bytes Free capacity the pool's driver reports; +Inf for "infinite", absent for "unknown".
# TYPE openstack_cinder_pool_capacity_free_bytes gauge
openstack_cinder_pool_capacity_free_bytes{backend="b",host="h",name="h@b#p2",pool="p2"} 1.34217728e+10
openstack_cinder_pool_capacity_free_bytes{backend="b",host="h",name="h@b#p3",pool="p3"} 1.073741824e+10
# HELP openstack_cinder_pool_backend_up 1 if the pool's driver reports its back end's state as up, 0 for any other state (absent when the driver reports none).
# TYPE openstack_cinder_pool_backend_up gauge
openstack_cinder_pool_backend_up{backend="b",host="h",name="h@b#p2",pool="p2"} 0
`
	// p3's "unknown" allocated capacity is legitimate but leaves nothing
	// the scheduler could compute: no virtual free capacity, no ratio.
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_cinder_pool_capacity_total_bytes", "openstack_cinder_pool_capacity_free_bytes",
		"openstack_cinder_pool_backend_up", "openstack_cinder_pool_capacity_virtual_free_bytes", "openstack_cinder_pool_max_over_subscription_ratio"); err != nil {
		t.Error(err)
	}
	counts := inconsistencyCounts(t, metrics)
	if counts["unparsable_value"] != 8 || counts["duplicate_pool"] != 2 {
		t.Errorf("counts %v over two polls, want unparsable_value 8 (four fields) and duplicate_pool 2", counts)
	}
	for _, want := range []string{`pool=h@b#p1 field=free_capacity_gb value="\"abc\""`, `field=reserved_percentage value="{\"x\": 1}"`,
		`field=timestamp value="\"yesterday\""`, `pool=h@b#p2 field=max_over_subscription_ratio value="\"high\""`} {
		if n := strings.Count(logged.String(), want); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", want, n, logged.String())
		}
	}
	if n := strings.Count(logged.String(), "reason=unparsable_value"); n != 4 {
		t.Errorf("unparsable values logged %d times, want 4 (once per pool and field):\n%s", n, logged.String())
	}
	if n := strings.Count(logged.String(), "reason=duplicate_pool"); n != 1 {
		t.Errorf("the duplicate pool logged %d times, want once:\n%s", n, logged.String())
	}
}

// A pool value of a megabyte of text is logged cut short.
func TestCinderHugeValueIsLoggedCut(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	huge := strings.Repeat("x", 1<<20)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.RawQuery != "detail=true" {
			return false
		}
		_, _ = io.WriteString(w, `{"pools": [{"name": "h@b#p1", "capabilities": {"total_capacity_gb": 1, "free_capacity_gb": "`+huge+`"}}]}`)
		return true
	})
	var logged strings.Builder
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.logger = logfmtTo(&logged)
	if _, err := pollCinder(t, c, mustConfig(t, "cinder: {}\n")); err != nil {
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

// A pool that drops out of the list is reported missing from the first
// successful poll that lacked it; a failed poll in between is no evidence.
func TestCinderMissingPools(t *testing.T) {
	srv := newFixtureServer(t, cinderRig(t)...)
	clock := &fakeClock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.missing.now = clock.now
	cfg := mustConfig(t, "cinder: {}\n")
	if _, err := pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	body := ""
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.RawQuery != "detail=true" {
			return false
		}
		if body == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		} else {
			fmt.Fprint(w, body)
		}
		return true
	})
	clock.advance(time.Minute)
	if _, err := pollCinder(t, c, cfg); err == nil {
		t.Fatal("the failing poll succeeded")
	}
	clock.advance(time.Minute)
	body = `{"pools": [{"name": "rig-vol1@alpha#a0", "capabilities": {}}]}`
	metrics, err := pollCinder(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := exposition(t, metrics, "openstack_cinder_pool_missing_since_timestamp_seconds")
	if n := strings.Count(got, "openstack_cinder_pool_missing_since_timestamp_seconds{"); n != 6 ||
		!strings.Contains(got, `openstack_cinder_pool_missing_since_timestamp_seconds{backend="alpha",host="rig-vol10",name="rig-vol10@alpha#a0",pool="a0"} 1.79619852e+09`) {
		t.Errorf("got:\n%s", got)
	}
	if _, err := pollCinder(t, c, mustConfig(t, "cinder:\n  missing_pools_retention: 0s\n")); err != nil {
		t.Fatal(err)
	}
	metrics, err = pollCinder(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(replay(metrics), "openstack_cinder_pool_missing_since_timestamp_seconds"); n != 0 {
		t.Errorf("%d missing pools after the retention was switched off and on", n)
	}
}

// The real Cinder with its scheduler stopped answers 500 after its RPC
// timeout: up 0, nothing else; with a volume service stopped its pool
// drops out of the list and is reported missing; with volumes created the
// virtual free capacity follows (b2 full, a1 5 GB more provisioned).
func TestCinderRigStates(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	srv := newFixtureServer(t, cinderRig(t)...)
	c := newTestCinder(t, srv.URL+"/v3/"+cinderProject)
	c.missing.now = clock.now
	cfg := mustConfig(t, "cinder: {}\n")
	if _, err := pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}

	srv.load(cinderRig(t, "error-scheduler-stopped.json")...)
	clock.advance(time.Minute)
	metrics, err := pollCinder(t, c, cfg)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500: The server has either erred or is incapable of performing the requested operation.") {
		t.Errorf("error %v", err)
	}
	if got := exposition(t, metrics); got != "# HELP openstack_cinder_up 1 if the last poll of the Cinder scheduler-stats pools succeeded, 0 if not.\n# TYPE openstack_cinder_up gauge\nopenstack_cinder_up 0\n" {
		t.Errorf("scheduler stopped:\n%s", got)
	}

	srv.load(cinderRig(t, "pools-detail-vol10-stopped.json")...)
	clock.advance(time.Minute)
	if metrics, err = pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_cinder_pool_missing_since_timestamp_seconds Unix time of the first successful poll whose complete pool list lacked this pool, which an earlier poll within cinder.missing_pools_retention listed; absent while the pool is listed. The exporter's memory: a restart forgets.
# TYPE openstack_cinder_pool_missing_since_timestamp_seconds gauge
openstack_cinder_pool_missing_since_timestamp_seconds{backend="alpha",host="rig-vol10",name="rig-vol10@alpha#a0",pool="a0"} 1.79619852e+09
# HELP openstack_cinder_pools Storage pools the Cinder scheduler knows, per volume host and back end.
# TYPE openstack_cinder_pools gauge
openstack_cinder_pools{backend="alpha",host="rig-vol1"} 3
openstack_cinder_pools{backend="beta",host="rig-vol1"} 3
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_cinder_pool_missing_since_timestamp_seconds", "openstack_cinder_pools"); err != nil {
		t.Error(err)
	}

	srv.load(cinderRig(t, "pools-detail-with-volumes.json")...)
	if metrics, err = pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP openstack_cinder_pool_capacity_virtual_free_bytes Largest volume the scheduler's capacity filter accepts on the pool for a volume type without provisioning:type thick, computed from the reported capabilities as Cinder's calculate_virtual_free_capacity does; +Inf when the filter accepts any size, 0 when none.
# TYPE openstack_cinder_pool_capacity_virtual_free_bytes gauge
openstack_cinder_pool_capacity_virtual_free_bytes{backend="alpha",host="rig-vol1",name="rig-vol1@alpha#a0",pool="a0"} 9.126805504e+11
openstack_cinder_pool_capacity_virtual_free_bytes{backend="alpha",host="rig-vol1",name="rig-vol1@alpha#a1",pool="a1"} 3.9723078778880e+13
openstack_cinder_pool_capacity_virtual_free_bytes{backend="alpha",host="rig-vol1",name="rig-vol1@alpha#a2",pool="a2"} 0
openstack_cinder_pool_capacity_virtual_free_bytes{backend="alpha",host="rig-vol10",name="rig-vol10@alpha#a0",pool="a0"} 8.2369956544512e+11
openstack_cinder_pool_capacity_virtual_free_bytes{backend="beta",host="rig-vol1",name="rig-vol1@beta#b0",pool="b0"} +Inf
openstack_cinder_pool_capacity_virtual_free_bytes{backend="beta",host="rig-vol1",name="rig-vol1@beta#b1",pool="b1"} +Inf
openstack_cinder_pool_capacity_virtual_free_bytes{backend="beta",host="rig-vol1",name="rig-vol1@beta#b2",pool="b2"} 0
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_cinder_pool_capacity_virtual_free_bytes"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(replay(metrics), "openstack_cinder_pool_missing_since_timestamp_seconds"); n != 0 {
		t.Errorf("%d pools still missing after rig-vol10 came back", n)
	}

	// A back end reporting an empty pool list: Cinder shows one pool named
	// after the back end with back-end keys only. The scheduler holds its
	// total as 0 and refuses every volume there: virtual free 0, ratio 1,
	// no capacity series; beta's real pools are missing.
	srv.load(cinderRig(t, "pools-detail-backend-without-pools.json")...)
	clock.advance(time.Minute)
	if metrics, err = pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	got := exposition(t, metrics, "openstack_cinder_pool_capacity_virtual_free_bytes", "openstack_cinder_pool_max_over_subscription_ratio",
		"openstack_cinder_pool_capacity_total_bytes", "openstack_cinder_pools", "openstack_cinder_pool_missing_since_timestamp_seconds")
	for _, want := range []string{
		`openstack_cinder_pool_capacity_virtual_free_bytes{backend="beta",host="rig-vol1",name="rig-vol1@beta#beta",pool="beta"} 0`,
		`openstack_cinder_pool_max_over_subscription_ratio{backend="beta",host="rig-vol1",name="rig-vol1@beta#beta",pool="beta"} 1`,
		`openstack_cinder_pools{backend="beta",host="rig-vol1"} 1`,
		`openstack_cinder_pool_missing_since_timestamp_seconds{backend="beta",host="rig-vol1",name="rig-vol1@beta#b0",pool="b0"} 1.79619858e+09`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("want %s in:\n%s", want, got)
		}
	}
	if strings.Contains(got, `openstack_cinder_pool_capacity_total_bytes{backend="beta",host="rig-vol1",name="rig-vol1@beta#beta"`) {
		t.Errorf("a total for the pool without capacities:\n%s", got)
	}

	// The same after volumes were placed on the back end: no pool of it at
	// all. Its three pools stay missing since they first were; the pool
	// named after it, listed by the last poll, is missing now.
	srv.load(cinderRig(t, "pools-detail-backend-empty-list-after-volumes.json")...)
	clock.advance(time.Minute)
	if metrics, err = pollCinder(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP openstack_cinder_pool_missing_since_timestamp_seconds Unix time of the first successful poll whose complete pool list lacked this pool, which an earlier poll within cinder.missing_pools_retention listed; absent while the pool is listed. The exporter's memory: a restart forgets.
# TYPE openstack_cinder_pool_missing_since_timestamp_seconds gauge
openstack_cinder_pool_missing_since_timestamp_seconds{backend="beta",host="rig-vol1",name="rig-vol1@beta#b0",pool="b0"} 1.79619858e+09
openstack_cinder_pool_missing_since_timestamp_seconds{backend="beta",host="rig-vol1",name="rig-vol1@beta#b1",pool="b1"} 1.79619858e+09
openstack_cinder_pool_missing_since_timestamp_seconds{backend="beta",host="rig-vol1",name="rig-vol1@beta#b2",pool="b2"} 1.79619858e+09
openstack_cinder_pool_missing_since_timestamp_seconds{backend="beta",host="rig-vol1",name="rig-vol1@beta#beta",pool="beta"} 1.79619864e+09
# HELP openstack_cinder_pools Storage pools the Cinder scheduler knows, per volume host and back end.
# TYPE openstack_cinder_pools gauge
openstack_cinder_pools{backend="alpha",host="rig-vol1"} 3
openstack_cinder_pools{backend="alpha",host="rig-vol10"} 1
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_cinder_pool_missing_since_timestamp_seconds", "openstack_cinder_pools"); err != nil {
		t.Error(err)
	}
}
