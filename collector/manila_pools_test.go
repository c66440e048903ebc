package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const manilaProject = "0123456789abcdef0123456789abcdef"

var manilaExamples = filepath.Join("testdata", "manila", "examples.json")

func newTestManila(t testing.TB, endpoint string) *manilaCollector {
	c, err := newManilaCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"shared_file_system": endpoint}, 5*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*manilaCollector)
}

func pollManila(t testing.TB, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Manila.Timeout))
	defer cancel()
	return collect(t, ctx, c, cfg)
}

// The recorded pools: "infinite" and "unknown", string and fractional
// numbers, absent optional keys, the same pool name on two hosts, and a
// query the server rejects.
func TestManilaPools(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	for _, endpoint := range []string{srv.URL + "/v2/" + manilaProject, srv.URL, srv.URL + "/v2/"} {
		t.Run(strings.TrimPrefix(endpoint, srv.URL), func(t *testing.T) {
			c := newTestManila(t, endpoint)
			metrics, err := pollManila(t, c, mustConfig(t, "manila:\n  queries:\n    no_such_type: {share_type: nope}\n"))
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, metrics, "manila-examples")
			problems, err := testutil.CollectAndLint(replay(metrics))
			if err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %+v", err, problems)
			}
		})
	}
}

// One request for the list and one per query, every poll, plus discovery
// once.
func TestManilaRequestsPerPoll(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	cfg := mustConfig(t, "manila:\n  queries:\n    no_such_type: {share_type: nope}\n")
	for i := 0; i < 3; i++ {
		if _, err := pollManila(t, c, cfg); err != nil {
			t.Fatal(err)
		}
	}
	counts := srv.requests()
	if countMatching(counts, "GET / ") != 0 || countMatching(counts, "GET /") != 7 ||
		countMatching(counts, "/pools/detail") != 3 || countMatching(counts, "share_type=nope") != 3 {
		t.Errorf("requests:\n%s", describeCounts(counts))
	}
	if counts["GET /"] != 1 {
		t.Errorf("discovery %d times", counts["GET /"])
	}
}

// Without detail only the list and counts are read.
func TestManilaWithoutDetail(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	metrics, err := pollManila(t, c, mustConfig(t, "manila:\n  detail: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_manila_pools Storage pools the Manila scheduler knows (within the configured scope), per share host and back end.
# TYPE openstack_manila_pools gauge
openstack_manila_pools{backend="alpha",host="rig-node1"} 3
openstack_manila_pools{backend="alpha",host="rig-node2"} 2
openstack_manila_pools{backend="beta",host="rig-node1"} 2
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_manila_pools", "openstack_manila_pool_capacity_total_bytes"); err != nil {
		t.Error(err)
	}
}

// A server below 2.23 cannot filter by share type: the query is not sent,
// and a reload that has one is rejected.
func TestManilaOldServerShareType(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/" {
			return false
		}
		w.WriteHeader(http.StatusMultipleChoices)
		fmt.Fprint(w, `{"versions": [{"id": "v2.0", "status": "CURRENT", "version": "2.22", "min_version": "2.0"}]}`)
		return true
	})
	var logged strings.Builder
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "manila:\n  detail: false\n  queries:\n    gold: {share_type: gold}\n")
	srv.load() // no recorded 2.22 answers: only the list is allowed below
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.URL.Path == "/":
			w.WriteHeader(http.StatusMultipleChoices)
			fmt.Fprint(w, `{"versions": [{"id": "v2.0", "status": "CURRENT", "version": "2.22", "min_version": "2.0"}]}`)
		case r.URL.RawQuery == "" && r.Header.Get("X-OpenStack-Manila-API-Version") == "2.22":
			fmt.Fprint(w, `{"pools": []}`)
		default:
			t.Errorf("unexpected request %s?%s", r.URL.Path, r.URL.RawQuery)
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
		return true
	})
	metrics, err := pollManila(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(filterMetrics(metrics, "openstack_manila_query_success")); v != 0 {
		t.Errorf("query_success %v", v)
	}
	if !strings.Contains(logged.String(), `err="not sent, the server cannot run it: manila.queries.gold.share_type: needs Manila microversion 2.23, the server offers up to 2.22`) {
		t.Errorf("log:\n%s", logged.String())
	}
	if err := c.CheckConfig(cfg); err == nil {
		t.Error("reload with a share_type query must be rejected against 2.22")
	}
}

// Manila with its scheduler down holds the request (60 s) and then answers
// 500; the poll gives up at its own timeout and reports up 0, and recovers.
func TestManilaFaultsAndRecovery(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	cfg := mustConfig(t, "manila:\n  timeout: 300ms\n")
	if _, err := pollManila(t, c, cfg); err != nil {
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
		{"no token", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			"Manila answered 204 No Content: it received no valid token"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"pools": "lots"}`) }, "cannot unmarshal"},
		{"no pools key", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }, "the response has no pools list"},
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
			metrics, err := pollManila(t, c, cfg)
			if err == nil || !strings.Contains(err.Error(), fault.wantErr) {
				t.Errorf("error %v, want %q", err, fault.wantErr)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("poll took %s", time.Since(start))
			}
			if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader("# HELP openstack_manila_up 1 if the last poll of the Manila scheduler-stats pools succeeded, 0 if not.\n# TYPE openstack_manila_up gauge\nopenstack_manila_up 0\n")); err != nil {
				t.Error(err)
			}
			srv.setHandler(nil)
			metrics, err = pollManila(t, c, cfg)
			if err != nil {
				t.Fatalf("no recovery: %v", err)
			}
			if n := testutil.CollectAndCount(replay(metrics), "openstack_manila_pool_info"); n != 7 {
				t.Errorf("%d pools after recovery", n)
			}
		})
	}
}

// The real rig's pools and every query form: host as a prefix and exact,
// back end, pool, name, share type by name and by id, a combination, and
// a share type Manila does not know.
func TestManilaRigQueries(t *testing.T) {
	cassette := filepath.Join("testdata", "manila", "rig.json")
	// Share type ids are random per rig: take alpha's from the recording.
	alphaID := ""
	for _, it := range loadCassette(t, cassette) {
		if id, ok := strings.CutPrefix(it.Query, "share_type="); ok && len(id) == 36 {
			alphaID = id
		}
	}
	if alphaID == "" {
		t.Fatal("the cassette has no share_type=<id> request")
	}
	srv := newFixtureServer(t, cassette)
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	metrics, err := pollManila(t, c, mustConfig(t, `
manila:
  queries:
    node1_prefix: {host: rig-node1}
    node1_exact: {host: rig-node1, exact: true}
    alpha_backend: {backend: alpha}
    pools_a0: {pool: a0}
    by_name: {name: "rig-node1@alpha#a1"}
    alpha_type: {share_type: alpha}
    alpha_type_by_id: {share_type: `+alphaID+`}
    node1_beta: {host: "rig-node1$", backend: beta}
    no_such_type: {share_type: nope}
`))
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, metrics, "manila-rig")
}

// A value a driver reports that is neither a number, "infinite" nor
// "unknown" is not exported; that is said once per pool and field (not on
// every poll while it stays so) and counted on every poll. A pool listed
// twice keeps its first entry, likewise logged once and counted.
func TestManilaInconsistentPools(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "scheduler-stats/pools/detail") {
			return false
		}
		fmt.Fprint(w, `{"pools": [
  {"name": "h@b#p1", "host": "h", "backend": "b", "pool": "p1", "capabilities": {"total_capacity_gb": 100, "free_capacity_gb": "abc", "reserved_percentage": {"x": 1}, "allocated_capacity_gb": "unknown", "provisioned_capacity_gb": null, "timestamp": "yesterday"}},
  {"name": "h@b#p2", "host": "h", "backend": "b", "pool": "p2", "capabilities": {"total_capacity_gb": "infinite", "free_capacity_gb": "12.5"}},
  {"name": "h@b#p1", "host": "h", "backend": "b", "pool": "p1", "capabilities": {"total_capacity_gb": 999}}
]}`)
		return true
	})
	var logged strings.Builder
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "manila: {}\n")
	var metrics []prometheus.Metric
	for i := 0; i < 2; i++ {
		var err error
		if metrics, err = pollManila(t, c, cfg); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP openstack_manila_pool_capacity_total_bytes Total capacity the pool's driver reports; +Inf for "infinite", absent for "unknown".
# TYPE openstack_manila_pool_capacity_total_bytes gauge
openstack_manila_pool_capacity_total_bytes{backend="b",host="h",name="h@b#p1",pool="p1"} 1.073741824e+11
openstack_manila_pool_capacity_total_bytes{backend="b",host="h",name="h@b#p2",pool="p2"} +Inf
# HELP openstack_manila_pool_capacity_free_bytes Free capacity the pool's driver reports; +Inf for "infinite", absent for "unknown".
# TYPE openstack_manila_pool_capacity_free_bytes gauge
openstack_manila_pool_capacity_free_bytes{backend="b",host="h",name="h@b#p2",pool="p2"} 1.34217728e+10
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_manila_pool_capacity_total_bytes", "openstack_manila_pool_capacity_free_bytes"); err != nil {
		t.Error(err)
	}
	counts := inconsistencyCounts(t, metrics)
	if counts["unparsable_value"] != 6 || counts["duplicate_pool"] != 2 {
		t.Errorf("counts %v over two polls, want unparsable_value 6 (three fields) and duplicate_pool 2", counts)
	}
	for _, want := range []string{`pool=h@b#p1 field=free_capacity_gb value="\"abc\""`, `field=reserved_percentage value="{\"x\": 1}"`, `field=timestamp value="\"yesterday\""`} {
		if n := strings.Count(logged.String(), want); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", want, n, logged.String())
		}
	}
	if n := strings.Count(logged.String(), "reason=unparsable_value"); n != 3 {
		t.Errorf("unparsable values logged %d times, want 3 (once per pool and field):\n%s", n, logged.String())
	}
	if n := strings.Count(logged.String(), "reason=duplicate_pool"); n != 1 {
		t.Errorf("the duplicate pool logged %d times, want once:\n%s", n, logged.String())
	}
}

// servePoolsWithout answers pools/detail with the recorded pools minus the
// named ones (a host that went away, as the scheduler lists it then).
func servePoolsWithout(t *testing.T, srv *fixtureServer, drop ...string) {
	t.Helper()
	var detail string
	for _, it := range loadCassette(t, manilaExamples) {
		if strings.HasSuffix(it.Path, "/scheduler-stats/pools/detail") && it.Query == "" {
			detail = it.Body
		}
	}
	var body struct {
		Pools []map[string]any `json:"pools"`
	}
	if err := json.Unmarshal([]byte(detail), &body); err != nil {
		t.Fatal(err)
	}
	kept := body.Pools[:0]
	for _, p := range body.Pools {
		if !slices.Contains(drop, p["name"].(string)) {
			kept = append(kept, p)
		}
	}
	if len(kept) != len(body.Pools)-len(drop) {
		t.Fatalf("the recording lacks some of %v", drop)
	}
	data, err := json.Marshal(map[string]any{"pools": kept})
	if err != nil {
		t.Fatal(err)
	}
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/scheduler-stats/pools/detail") || r.URL.RawQuery != "" {
			return false
		}
		_, _ = w.Write(data)
		return true
	})
}

// A host whose pools drop out of the list: its pools are reported missing
// since the first poll that lacked them, through a failed poll (which
// exports no pool series and changes nothing) and a reload that keeps the
// scope, until they are listed again. Queries' lists never count, and a
// scope change or retention 0 forgets.
func TestManilaMissingPools(t *testing.T) {
	srv := newFixtureServer(t, manilaExamples)
	c := newTestManila(t, srv.URL+"/v2/"+manilaProject)
	clock := &fakeClock{time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	c.missing.now = clock.now
	cfg := mustConfig(t, "manila:\n  queries:\n    no_such_type: {share_type: nope}\n")
	missing := func(metrics []prometheus.Metric) int {
		return testutil.CollectAndCount(filterMetrics(metrics, "openstack_manila_pool_missing_since_timestamp_seconds"))
	}
	if metrics, err := pollManila(t, c, cfg); err != nil || missing(metrics) != 0 {
		t.Fatalf("first poll: %v, %d missing", err, missing(metrics))
	}

	servePoolsWithout(t, srv, "rig-node2@alpha#a0", "rig-node2@alpha#a9")
	clock.advance(time.Minute) // 08:01
	metrics, err := pollManila(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, metrics, "manila-missing")
	problems, err := testutil.CollectAndLint(replay(metrics))
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "scheduler-stats") {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	clock.advance(time.Minute)
	if metrics, err := pollManila(t, c, cfg); err == nil || missing(metrics) != 0 {
		t.Errorf("failed poll: %v, %d missing (want none exported)", err, missing(metrics))
	}

	// Reloaded: other queries, another interval and retention, same scope.
	cfg = mustConfig(t, "manila:\n  interval: 30s\n  missing_pools_retention: 2h\n")
	servePoolsWithout(t, srv, "rig-node2@alpha#a0")
	clock.advance(time.Minute)
	metrics, err = pollManila(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_manila_pool_missing_since_timestamp_seconds Unix time of the first successful poll whose complete pool list lacked this pool, which an earlier poll within manila.missing_pools_retention listed; absent while the pool is listed. The exporter's memory: a restart forgets.
# TYPE openstack_manila_pool_missing_since_timestamp_seconds gauge
openstack_manila_pool_missing_since_timestamp_seconds{backend="alpha",host="rig-node2",name="rig-node2@alpha#a0",pool="a0"} 1.79619846e+09
`
	if err := testutil.CollectAndCompare(filterMetrics(metrics, "openstack_manila_pool_missing_since_timestamp_seconds"), strings.NewReader(want)); err != nil {
		t.Errorf("after the reload, a9 listed again: %v", err)
	}

	srv.setHandler(nil)
	clock.advance(time.Minute)
	if metrics, err := pollManila(t, c, cfg); err != nil || missing(metrics) != 0 {
		t.Errorf("all listed again: %v, %d missing", err, missing(metrics))
	}

	// A new scope covers other pools: what the old one saw is forgotten.
	servePoolsWithout(t, srv, "rig-node2@alpha#a0", "rig-node2@alpha#a9")
	clock.advance(time.Minute)
	if metrics, err := pollManila(t, c, cfg); err != nil || missing(metrics) != 2 {
		t.Fatalf("before the scope change: %v, %d missing", err, missing(metrics))
	}
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("host") != "rig-node1" {
			return false
		}
		fmt.Fprint(w, `{"pools": [{"name": "rig-node1@alpha#a0", "host": "rig-node1", "backend": "alpha", "pool": "a0", "capabilities": {}}]}`)
		return true
	})
	scoped := mustConfig(t, "manila:\n  scope: {host: rig-node1}\n")
	clock.advance(time.Minute)
	if metrics, err := pollManila(t, c, scoped); err != nil || missing(metrics) != 0 {
		t.Errorf("after the scope change: %v, %d missing", err, missing(metrics))
	}

	// Retention 0: nothing is remembered.
	servePoolsWithout(t, srv, "rig-node2@alpha#a0", "rig-node2@alpha#a9")
	off := mustConfig(t, "manila:\n  missing_pools_retention: 0s\n")
	srv.setHandler(nil)
	if _, err := pollManila(t, c, off); err != nil {
		t.Fatal(err)
	}
	servePoolsWithout(t, srv, "rig-node2@alpha#a0", "rig-node2@alpha#a9")
	clock.advance(time.Minute)
	if metrics, err := pollManila(t, c, off); err != nil || missing(metrics) != 0 {
		t.Errorf("retention 0: %v, %d missing", err, missing(metrics))
	}
}
