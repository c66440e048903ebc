package collector

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var (
	placementRoot  = filepath.Join("testdata", "placement", "root.json")
	placementCloud = filepath.Join("testdata", "placement", "cloud-1.39.json")
	placementAfter = filepath.Join("testdata", "placement", "cloud-1.39-after.json")
	placementOld   = filepath.Join("testdata", "placement", "cloud-1.10.json")
)

// allFormsQueries is every filter form, against the recorded cloud; the two
// last ones pass validation but the server rejects them.
const allFormsQueries = `
  queries:
    by_name: {name: cn1, export_members: true}
    by_uuid: {uuid: 10000000-0000-4000-8000-000000000005}
    member_a: {member_of: 20000000-0000-4000-8000-000000000001, export_members: true}
    member_a_or_b: {member_of: "in:20000000-0000-4000-8000-000000000001,20000000-0000-4000-8000-000000000002"}
    not_member_a: {member_of: "!20000000-0000-4000-8000-000000000001"}
    not_member_a_or_b: {member_of: "!in:20000000-0000-4000-8000-000000000001,20000000-0000-4000-8000-000000000002"}
    member_a_and_b: {member_of: [20000000-0000-4000-8000-000000000001, 20000000-0000-4000-8000-000000000002]}
    free_4_vcpu_2g: {resources: "VCPU:4,MEMORY_MB:2048"}
    gpu_tree: {in_tree: 10000000-0000-4000-8000-000000000004, export_members: true}
    gold: {required: CUSTOM_GOLD}
    not_gold: {required: "!CUSTOM_GOLD"}
    gold_and_avx2: {required: "CUSTOM_GOLD,HW_CPU_X86_AVX2"}
    gold_or_silver: {required: "in:CUSTOM_GOLD,CUSTOM_SILVER"}
    gold_not_silver: {required: [CUSTOM_GOLD, "!CUSTOM_SILVER"]}
    combined: {member_of: 20000000-0000-4000-8000-000000000001, resources: "VCPU:1", required: HW_CPU_X86_AVX2}
    unknown_class: {resources: "CUSTOM_NOPE:1"}
    unknown_trait: {required: CUSTOM_UNKNOWN}
`

func mustConfig(t testing.TB, text string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newTestPlacement(t testing.TB, srv *fixtureServer) *placementCollector {
	c, err := newPlacementCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"placement": srv.URL}, 5*time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*placementCollector)
}

// The whole recorded cloud: a three-level tree, a second tree, a sharing
// provider, a provider without inventory, three aggregates, traits, exact
// allocation ratios, usages, and every query form.
func TestPlacementCloud(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	metrics, err := poll(t, c, mustConfig(t, "placement:\n"+allFormsQueries))
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, metrics, "placement-cloud")
	problems, err := testutil.CollectAndLint(replay(metrics))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// A query the server rejects is reported as failed and logged with the
// server's reason; the provider metrics and other queries are unaffected.
func TestPlacementRejectedQueryIsReported(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	var logged strings.Builder
	c := newTestPlacement(t, srv)
	c.logger = logfmtTo(&logged)
	metrics, err := poll(t, c, mustConfig(t, "placement:\n  metrics: {inventory: false, usage: false, traits: false, aggregates: false}\n  queries:\n    gold: {required: CUSTOM_GOLD}\n    unknown_class: {resources: 'CUSTOM_NOPE:1'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP openstack_placement_query_resource_providers Providers the configured query matched in its last successful run.
# TYPE openstack_placement_query_resource_providers gauge
openstack_placement_query_resource_providers{query="gold"} 2
# HELP openstack_placement_query_success 1 if the configured query's last run succeeded, 0 if Placement rejected it, it failed, or the server cannot run it.
# TYPE openstack_placement_query_success gauge
openstack_placement_query_success{query="gold"} 1
openstack_placement_query_success{query="unknown_class"} 0
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_placement_query_resource_providers", "openstack_placement_query_success"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logged.String(), `query=unknown_class filter="resources=CUSTOM_NOPE:1" err="GET `) ||
		!strings.Contains(logged.String(), `HTTP 400: Invalid resource class in resources parameter: No such resource class CUSTOM_NOPE."`) {
		t.Errorf("log does not carry the server's reason:\n%s", logged.String())
	}
	// The same failure on the next poll is not logged at error level again.
	if _, err := poll(t, c, mustConfig(t, "placement:\n  metrics: {inventory: false, usage: false, traits: false, aggregates: false}\n  queries:\n    gold: {required: CUSTOM_GOLD}\n    unknown_class: {resources: 'CUSTOM_NOPE:1'}\n")); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logged.String(), `level=error msg="query failed"`); n != 1 {
		t.Errorf("a repeated failure was logged at error level %d times:\n%s", n, logged.String())
	}
}

// The cost model: the first poll fetches every sub-resource, the traits
// from one list per custom trait; a steady-state poll is the list and its
// share of the periodic usage and aggregate re-reads; after changes, only
// providers whose generation moved are re-fetched, and the periodic
// re-reads catch what the generation cannot show (a deleted allocation, an
// aggregate written below microversion 1.19) within their max age.
func TestPlacementCachingFollowsGenerations(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	now := start
	c.now = func() time.Time { return now }
	cfg := mustConfig(t, "placement:\n  interval: 60s\n  usages_max_age: 5m\n  aggregates_max_age: 10m\n")

	if _, err := poll(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	counts := srv.requests()
	if got := countMatching(counts, "/resource_providers/"); got != 7*3 {
		t.Errorf("first poll: %d sub-resource requests, want 21 (inventories, usages, aggregates):\n%s", got, describeCounts(counts))
	}
	if got := countMatching(counts, "/traits") + countMatching(counts, "required="); got != 1+3 {
		t.Errorf("first poll: %d trait requests, want GET /traits and one list per custom trait:\n%s", got, describeCounts(counts))
	}

	now = now.Add(time.Minute)
	if _, err := poll(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	counts = srv.requests()
	// The list, and this poll's share of the periodic re-reads: 7 * 1m/5m
	// usages and 7 * 1m/10m aggregates, rounded up.
	if total, usages, aggregates := countMatching(counts, "GET"), countMatching(counts, "/usages"), countMatching(counts, "/aggregates"); total != 1+2+1 || usages != 2 || aggregates != 1 {
		t.Errorf("steady state: %d requests, want 4 (the list, 2 usages, 1 aggregates):\n%s", total, describeCounts(counts))
	}

	// The cloud changes (see the cassette's notes).
	srv.load(placementRoot, placementAfter)
	now = now.Add(time.Minute)
	metrics, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts = srv.requests()
	// cn1-numa0 and cn2 moved generation: 4 sub-resources each.
	for _, uuid := range []string{"10000000-0000-4000-8000-000000000002", "10000000-0000-4000-8000-000000000005"} {
		if got := countMatching(counts, uuid+"/"); got != 4 {
			t.Errorf("%s changed generation: %d requests, want 4", uuid, got)
		}
	}
	if total := countMatching(counts, "GET"); total != 1+8 {
		t.Errorf("after changes: %d requests, want 9:\n%s", total, describeCounts(counts))
	}
	assertGolden(t, metrics, "placement-after-generation-refresh")

	// cn1's aggregates were written at microversion 1.1 between the polls
	// at 1m and 2m, without moving its generation: they show at the latest
	// in the poll aggregates_max_age after the one that last read them.
	for at := 3 * time.Minute; at <= 11*time.Minute; at += time.Minute {
		now = start.Add(at)
		if metrics, err = poll(t, c, cfg); err != nil {
			t.Fatal(err)
		}
		counts = srv.requests()
		if got := countMatching(counts, "/usages"); got > 2 {
			t.Errorf("poll at %s: %d usage requests, want at most 2:\n%s", at, got, describeCounts(counts))
		}
	}
	assertGolden(t, metrics, "placement-after")
}

// With usages, traits and aggregates switched off, nothing but the list and
// inventories of changed providers is requested.
func TestPlacementSwitchedOffFamiliesCostNothing(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	cfg := mustConfig(t, "placement:\n  metrics: {usage: false, traits: false, aggregates: false, inventory: false, generation: false, tree: false, provider_info: false}\n")
	metrics, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	counts := srv.requests()
	if total := countMatching(counts, "GET"); total != 2 {
		t.Errorf("%d requests, want 2 (discovery and list):\n%s", total, describeCounts(counts))
	}
	want := `
# HELP openstack_placement_resource_providers Resource providers listed by Placement (within the configured scope).
# TYPE openstack_placement_resource_providers gauge
openstack_placement_resource_providers 7
# HELP openstack_placement_up 1 if the last poll of the Placement resource provider list succeeded, 0 if not.
# TYPE openstack_placement_up gauge
openstack_placement_up 1
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_placement_up", "openstack_placement_resource_providers", "openstack_placement_resource_provider_info", "openstack_placement_resource_provider_tree_depth", "openstack_placement_resource_provider_generation"); err != nil {
		t.Error(err)
	}
}

// A scope limits the list to one tree; the tree metrics describe it.
func TestPlacementScope(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	metrics, err := poll(t, c, mustConfig(t, "placement:\n  scope: {in_tree: 10000000-0000-4000-8000-000000000001}\n  metrics: {inventory: false, usage: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, metrics, "placement-scope")
}

// Below microversion 1.14 there are no tree fields: the tree series are left
// out rather than invented, and the log says why.
func TestPlacementOldServer(t *testing.T) {
	srv := newFixtureServer(t, placementOld)
	var logged strings.Builder
	c := newTestPlacement(t, srv)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "placement:\n  queries:\n    gold: {required: CUSTOM_GOLD}\n    not_a: {member_of: '!20000000-0000-4000-8000-000000000001'}\n")
	metrics, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, metrics, "placement-old")
	for _, want := range []string{
		`msg="Placement is older than microversion 1.14: providers carry no parent or root, so no tree metrics are exported" max=1.10`,
		`msg="query failed" query=gold filter="required=CUSTOM_GOLD" err="not sent, the server cannot run it: placement.queries.gold: required needs Placement microversion 1.18, the server offers up to 1.10"`,
	} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log lacks %s\n%s", want, logged.String())
		}
	}
	if err := c.CheckConfig(cfg); err == nil || err.Error() != "placement.queries.gold: required needs Placement microversion 1.18, the server offers up to 1.10" {
		t.Errorf("a reload with this config must be rejected, got %v", err)
	}
}

// Faults: a failing, garbage-answering or hanging Placement gives up 0 and
// no stale provider metrics; the next good poll recovers by itself.
func TestPlacementFaultsAndRecovery(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	cfg := mustConfig(t, "placement:\n  timeout: 2s\n")
	if _, err := poll(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	for _, fault := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		wantErr string
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"errors": [{"status": 503, "title": "Service Unavailable", "detail": "database gone"}]}`, http.StatusServiceUnavailable)
		}, "HTTP 503: database gone"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `<html>not json`)
		}, "invalid character '<'"},
		{"wrong shape", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"providers": []}`)
		}, "the response has no resource_providers list"},
		{"hang", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, "context deadline exceeded"},
	} {
		t.Run(fault.name, func(t *testing.T) {
			srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/resource_providers" {
					return false
				}
				fault.handler(w, r)
				return true
			})
			pollCfg := cfg
			if fault.name == "hang" {
				pollCfg = mustConfig(t, "placement:\n  timeout: 300ms\n")
			}
			start := time.Now()
			metrics, err := pollWithTimeout(t, c, pollCfg)
			if err == nil || !strings.Contains(err.Error(), fault.wantErr) {
				t.Errorf("error %v, want it to mention %q", err, fault.wantErr)
			}
			if fault.name == "hang" && time.Since(start) > 5*time.Second {
				t.Errorf("hung poll not bounded by its timeout: %s", time.Since(start))
			}
			if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader("# HELP openstack_placement_up 1 if the last poll of the Placement resource provider list succeeded, 0 if not.\n# TYPE openstack_placement_up gauge\nopenstack_placement_up 0\n")); err != nil {
				t.Error(err)
			}
			srv.setHandler(nil)
			metrics, err = poll(t, c, cfg)
			if err != nil {
				t.Fatalf("no recovery: %v", err)
			}
			if n := testutil.CollectAndCount(replay(metrics), "openstack_placement_resource_provider_info"); n != 7 {
				t.Errorf("after recovery %d providers", n)
			}
		})
	}
	close(release)
}

// A failing sub-resource keeps its last known value and is retried on the
// next poll; the list itself still counts as up.
func TestPlacementSubresourceFailureKeepsLastValue(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cfg := mustConfig(t, "placement:\n  usages_max_age: 0s\n")
	first, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	srv.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/usages") && strings.Contains(r.URL.Path, "000000000001") {
			failures.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}
		return false
	})
	metrics, err := poll(t, c, cfg)
	// 7 usages (usages_max_age 0s: every poll) and the share of aggregates.
	if err == nil || !strings.HasPrefix(err.Error(), "1 of 8 sub-resource requests failed (their last known values are kept and retried next poll); first: GET ") {
		t.Errorf("got %v", err)
	}
	if testutil.ToFloat64(filterMetrics(metrics, "openstack_placement_up")) != 1 {
		t.Error("the list succeeded: up must stay 1")
	}
	usage := func(ms replay) string { return exposition(t, ms, "openstack_placement_resource_provider_usage") }
	if usage(first) == "" || usage(first) != usage(metrics) {
		t.Errorf("usages changed after a failed re-fetch:\n%s\nvs\n%s", usage(first), usage(metrics))
	}
	srv.setHandler(nil)
	if _, err := poll(t, c, cfg); err != nil {
		t.Errorf("retry failed: %v", err)
	}
	if failures.Load() != 1 {
		t.Errorf("%d failures", failures.Load())
	}
}

// fakePlacement answers the provider list and the sub-resources from
// bodies: path -> JSON; a sub-resource path without a body answers 404, as
// Placement does for a provider it does not know. Discovery comes from the
// recorded root. GET /traits has no body unless a test gives one: its 404
// has the collector read each provider's traits.
type fakePlacement struct {
	*fixtureServer
	mu     sync.Mutex
	bodies map[string]string
}

func newFakePlacement(t *testing.T, bodies map[string]string) *fakePlacement {
	f := &fakePlacement{fixtureServer: newFixtureServer(t, placementRoot), bodies: bodies}
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/" {
			return false
		}
		f.mu.Lock()
		body, ok := f.bodies[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"errors": [{"status": 404, "title": "Not Found", "detail": "No resource provider with uuid %s found"}]}`, r.URL.Path)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
		return true
	})
	return f
}

func (f *fakePlacement) set(path, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if body == "" {
		delete(f.bodies, path)
		return
	}
	f.bodies[path] = body
}

// simpleProvider is a root provider in aggregate agg with 240 VCPU and 8 used.
func simpleProvider(bodies map[string]string, uuid string, generation int, agg string) {
	base := "/resource_providers/" + uuid
	g := fmt.Sprint(generation)
	bodies[base+"/inventories"] = `{"resource_provider_generation": ` + g + `, "inventories": {"VCPU": {"total": 240, "reserved": 0, "min_unit": 1, "max_unit": 240, "step_size": 1, "allocation_ratio": 1.0}}}`
	bodies[base+"/usages"] = `{"resource_provider_generation": ` + g + `, "usages": {"VCPU": 8}}`
	bodies[base+"/traits"] = `{"resource_provider_generation": ` + g + `, "traits": ["CUSTOM_GOLD"]}`
	bodies[base+"/aggregates"] = `{"resource_provider_generation": ` + g + `, "aggregates": ["` + agg + `"]}`
}

func providerJSON(uuid, name string, generation int) string {
	u := `"` + uuid + `"`
	if uuid == "null" {
		u = "null"
	}
	return fmt.Sprintf(`{"uuid": %s, "name": %q, "generation": %d, "parent_provider_uuid": null, "root_provider_uuid": %s}`, u, name, generation, u)
}

const (
	rpA = "30000000-0000-4000-8000-00000000000a"
	rpB = "30000000-0000-4000-8000-00000000000b"
	rpC = "30000000-0000-4000-8000-00000000000c"
)

func inconsistencyCounts(t *testing.T, metrics []prometheus.Metric) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range metrics {
		if !strings.Contains(m.Desc().String(), `_inconsistencies_total"`) {
			continue
		}
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		out[pb.GetLabel()[0].GetValue()] = pb.GetCounter().GetValue()
	}
	return out
}

// A uuid listed twice: the first entry is kept, so the provider is counted,
// described and summed into its aggregate once; the repeat is logged once
// (not every poll) and counted on every poll it is seen.
func TestPlacementDuplicateUUIDKeepsFirst(t *testing.T) {
	bodies := map[string]string{
		"/resource_providers": `{"resource_providers": [` + providerJSON(rpA, "a", 1) + `, ` + providerJSON(rpB, "b", 1) + `, ` +
			providerJSON(rpC, "c", 1) + `, ` + providerJSON(rpA, "a-again", 1) + `]}`,
	}
	for _, uuid := range []string{rpA, rpB, rpC} {
		simpleProvider(bodies, uuid, 1, aggA)
	}
	metrics, logged, _ := pollTwice(t, bodies)
	want := `
# HELP openstack_placement_resource_providers Resource providers listed by Placement (within the configured scope).
# TYPE openstack_placement_resource_providers gauge
openstack_placement_resource_providers 3
# HELP openstack_placement_aggregate_capacity Capacity of the resource class over the providers in the aggregate: a provider counts when it or the root of its tree is a member (each provider once).
# TYPE openstack_placement_aggregate_capacity gauge
openstack_placement_aggregate_capacity{aggregate_uuid="` + aggA + `",resource_class="VCPU"} 720
# HELP openstack_placement_aggregate_resource_providers Listed providers that are members of the aggregate.
# TYPE openstack_placement_aggregate_resource_providers gauge
openstack_placement_aggregate_resource_providers{aggregate_uuid="` + aggA + `"} 3
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_placement_resource_providers", "openstack_placement_aggregate_capacity", "openstack_placement_aggregate_resource_providers"); err != nil {
		t.Error(err)
	}
	if info := exposition(t, metrics, "openstack_placement_resource_provider_info"); strings.Count(info, rpA) != 2 || strings.Contains(info, "a-again") {
		t.Errorf("want one info series for %s, the first entry's:\n%s", rpA, info)
	}
	if got := inconsistencyCounts(t, metrics)["duplicate_uuid"]; got != 2 {
		t.Errorf("duplicate_uuid counted %v times over two polls, want 2", got)
	}
	if n := strings.Count(logged.String(), "reason=duplicate_uuid"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "uuid="+rpA) {
		t.Errorf("the log does not name the uuid:\n%s", logged.String())
	}
}

// A provider without a uuid cannot be described or asked for its
// sub-resources: it is skipped, not exported with uuid="".
func TestPlacementProviderWithoutUUIDIsSkipped(t *testing.T) {
	bodies := map[string]string{
		"/resource_providers": `{"resource_providers": [` + providerJSON(rpA, "a", 1) + `, ` + providerJSON("null", "ghost", 1) + `, ` +
			`{"name": "no-uuid-key", "generation": 1}]}`,
	}
	simpleProvider(bodies, rpA, 1, aggA)
	metrics, logged, srv := pollTwice(t, bodies)
	if text := exposition(t, metrics); strings.Contains(text, `{uuid=""`) || strings.Contains(text, `,uuid=""`) {
		t.Errorf("a series with an empty uuid:\n%s", text)
	}
	if n := testutil.ToFloat64(filterMetrics(metrics, "openstack_placement_resource_providers")); n != 1 {
		t.Errorf("resource_providers %v, want 1", n)
	}
	if got := inconsistencyCounts(t, metrics)["missing_uuid"]; got != 4 {
		t.Errorf("missing_uuid %v over two polls of two such providers, want 4", got)
	}
	if n := strings.Count(logged.String(), "reason=missing_uuid"); n != 2 {
		t.Errorf("logged %d times, want once per provider:\n%s", n, logged.String())
	}
	if got := countMatching(srv.requests(), "/resource_providers//"); got != 0 {
		t.Errorf("%d sub-resource requests without a uuid", got)
	}
}

// Placement never stores negative inventory; a body that has it is wrong,
// and (total - reserved) * allocation_ratio of two negatives is a positive
// capacity that does not exist. The provider's inventory is refused (its
// usage and the rest stay), counted on every poll, logged once, and not
// re-fetched until the generation moves.
func TestPlacementNegativeInventoryIsRefused(t *testing.T) {
	bodies := map[string]string{
		"/resource_providers": `{"resource_providers": [` + providerJSON(rpA, "a", 1) + `, ` + providerJSON(rpB, "b", 1) + `]}`,
	}
	simpleProvider(bodies, rpA, 1, aggA)
	simpleProvider(bodies, rpB, 1, aggA)
	bodies["/resource_providers/"+rpB+"/inventories"] = `{"resource_provider_generation": 1, "inventories": {"VCPU": {"total": -100, "reserved": 0, "min_unit": 1, "max_unit": 16, "step_size": 1, "allocation_ratio": -1.0}}}`
	metrics, logged, srv := pollTwice(t, bodies)
	want := `
# HELP openstack_placement_aggregate_capacity Capacity of the resource class over the providers in the aggregate: a provider counts when it or the root of its tree is a member (each provider once).
# TYPE openstack_placement_aggregate_capacity gauge
openstack_placement_aggregate_capacity{aggregate_uuid="` + aggA + `",resource_class="VCPU"} 240
# HELP openstack_placement_resource_provider_capacity Schedulable capacity of the resource class: (total - reserved) * allocation_ratio.
# TYPE openstack_placement_resource_provider_capacity gauge
openstack_placement_resource_provider_capacity{name="a",resource_class="VCPU",uuid="` + rpA + `"} 240
`
	if err := testutil.CollectAndCompare(replay(metrics), strings.NewReader(want), "openstack_placement_aggregate_capacity", "openstack_placement_resource_provider_capacity"); err != nil {
		t.Error(err)
	}
	if text := exposition(t, metrics, "openstack_placement_resource_provider_inventory_total_units"); strings.Contains(text, rpB) {
		t.Errorf("the refused inventory is exported:\n%s", text)
	}
	if text := exposition(t, metrics, "openstack_placement_resource_provider_usage"); !strings.Contains(text, rpB) {
		t.Errorf("the provider's usage went with its inventory:\n%s", text)
	}
	if got := inconsistencyCounts(t, metrics)["negative_inventory"]; got != 2 {
		t.Errorf("negative_inventory %v over two polls, want 2", got)
	}
	if n := strings.Count(logged.String(), "reason=negative_inventory"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logged.String())
	}
	if got := countMatching(srv.requests(), rpB+"/inventories"); got != 1 {
		t.Errorf("the refused inventory was fetched %d times, want once (same generation)", got)
	}
}

// A 404 for the sub-resources of a provider the list just showed is the
// normal race with its deletion: retried next poll, nothing logged. Still
// listed and still 404 at the next poll is the server contradicting itself:
// logged once, counted on every poll, retried only once per usages_max_age
// (not 4 requests every poll forever), and the provider shows as pending.
// None of it fails the poll. When the sub-resources come back, so do its
// series, and pending drops.
func TestPlacementSubresourceNotFoundWhileListed(t *testing.T) {
	bodies := map[string]string{
		"/resource_providers": `{"resource_providers": [` + providerJSON(rpA, "a", 1) + `, ` + providerJSON(rpB, "b", 1) + `]}`,
	}
	simpleProvider(bodies, rpA, 1, aggA)
	srv := newFakePlacement(t, bodies) // rpB: every sub-resource 404
	var logged strings.Builder
	c := newTestPlacement(t, srv.fixtureServer)
	c.logger = logfmtTo(&logged)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cfg := mustConfig(t, "placement:\n  interval: 60s\n  usages_max_age: 5m\n")

	step := func(name string, wantRequests int, wantCount float64, wantPending float64) []prometheus.Metric {
		t.Helper()
		metrics, err := poll(t, c, cfg)
		if err != nil {
			t.Fatalf("%s: the poll failed: %v", name, err)
		}
		if got := countMatching(srv.requests(), rpB+"/"); got != wantRequests {
			t.Errorf("%s: %d sub-resource requests for b, want %d", name, got, wantRequests)
		}
		if got := inconsistencyCounts(t, metrics)["subresource_not_found"]; got != wantCount {
			t.Errorf("%s: subresource_not_found %v, want %v", name, got, wantCount)
		}
		if got := testutil.ToFloat64(filterMetrics(metrics, "openstack_placement_resource_providers_pending")); got != wantPending {
			t.Errorf("%s: pending %v, want %v", name, got, wantPending)
		}
		return metrics
	}
	step("first 404: the race", 4, 0, 1)
	if strings.Contains(logged.String(), "level=warn") {
		t.Errorf("the first 404 is logged:\n%s", logged.String())
	}
	now = now.Add(time.Minute)
	step("still listed, still 404", 4, 1, 1)
	for i := 0; i < 3; i++ {
		now = now.Add(time.Minute)
		step("backing off", 0, float64(2+i), 1)
	}
	if n := strings.Count(logged.String(), "reason=subresource_not_found"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "uuid="+rpB) {
		t.Errorf("the log does not name the provider:\n%s", logged.String())
	}
	// Retried so that no more than usages_max_age passes between two
	// attempts by the next poll, as for usages.
	now = now.Add(time.Minute)
	step("retry after usages_max_age", 4, 5, 1)

	srv.mu.Lock()
	simpleProvider(srv.bodies, rpB, 1, aggA) // the server is consistent again
	srv.mu.Unlock()
	for i := 0; i < 3; i++ {
		now = now.Add(time.Minute)
		step("backing off", 0, float64(6+i), 1)
	}
	now = now.Add(time.Minute)
	metrics := step("recovered", 4, 8, 0)
	if text := exposition(t, metrics, "openstack_placement_resource_provider_capacity"); !strings.Contains(text, rpB) {
		t.Errorf("b's series are not back:\n%s", text)
	}
	now = now.Add(time.Minute)
	step("steady", 0, 8, 0)
}

// A provider deleted after the list answers 404 once and is gone from the
// next list: never counted, never logged.
func TestPlacementSubresourceNotFoundThenDeletedIsQuiet(t *testing.T) {
	bodies := map[string]string{
		"/resource_providers": `{"resource_providers": [` + providerJSON(rpA, "a", 1) + `, ` + providerJSON(rpB, "b", 1) + `]}`,
	}
	simpleProvider(bodies, rpA, 1, aggA)
	srv := newFakePlacement(t, bodies)
	var logged strings.Builder
	c := newTestPlacement(t, srv.fixtureServer)
	c.logger = logfmtTo(&logged)
	cfg := mustConfig(t, "placement: {}\n")
	if _, err := poll(t, c, cfg); err != nil {
		t.Fatal(err)
	}
	srv.set("/resource_providers", `{"resource_providers": [`+providerJSON(rpA, "a", 1)+`]}`)
	metrics, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := inconsistencyCounts(t, metrics)["subresource_not_found"]; got != 0 {
		t.Errorf("subresource_not_found %v, want 0", got)
	}
	if got := testutil.ToFloat64(filterMetrics(metrics, "openstack_placement_resource_providers_pending")); got != 0 {
		t.Errorf("pending %v, want 0", got)
	}
	if strings.Contains(logged.String(), "level=warn") {
		t.Errorf("logged:\n%s", logged.String())
	}
}

// spreadConfig polls every minute and bounds usages to 5 minutes and
// aggregates to 10: each poll should re-read about n/5 usages and n/10
// aggregates.
const spreadConfig = "placement:\n  interval: 60s\n  usages_max_age: 5m\n  aggregates_max_age: 10m\n  concurrency: 16\n"

// checkAges fails when a cached usage or aggregate set could be older than
// its max age at the next poll, an interval after the one that started at
// start.
func checkAges(t *testing.T, c *placementCollector, poll int, start time.Time) {
	t.Helper()
	for uuid, e := range c.cache {
		if age := start.Add(time.Minute).Sub(e.usages.fetched); age > 5*time.Minute {
			t.Fatalf("poll %d: the usages of %s are %s old at the next poll", poll, uuid, age)
		}
		if age := start.Add(time.Minute).Sub(e.aggregates.fetched); age > 10*time.Minute {
			t.Fatalf("poll %d: the aggregates of %s are %s old at the next poll", poll, uuid, age)
		}
	}
}

// inShare fails when a poll re-read a number of usages or aggregates
// outside ±50% of its share, n * interval / max age.
func inShare(t *testing.T, poll int, counts map[string]int, kind string, share int) {
	t.Helper()
	if got := counts[kind]; got < share/2 || got > share*3/2 {
		t.Errorf("poll %d: %d %s requests, want %d ± 50%%", poll, got, kind, share)
	}
}

// The periodic re-reads of 1,000 providers are spread over the polls, not
// made all at once every usages_max_age: from the first poll after the cold
// start on, each poll re-reads about its share, and no usage is ever older
// than usages_max_age (nor aggregates than aggregates_max_age).
func TestPlacementPeriodicRereadsAreSpread(t *testing.T) {
	srv := newSyntheticPlacement(t, 1000, 0)
	c := newTestPlacement(t, &fixtureServer{Server: srv.Server})
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	cfg := mustConfig(t, spreadConfig)
	for i := 0; i < 40; i++ {
		if err := pollQuiet(t, c, cfg); err != nil {
			t.Fatal(err)
		}
		counts := srv.requests()
		checkAges(t, c, i, now)
		if i > 0 {
			inShare(t, i, counts, "/usages", 1000/5)
			inShare(t, i, counts, "/aggregates", 1000/10)
		}
		now = now.Add(time.Minute)
	}
}

// A cold poll that takes longer than usages_max_age - interval (here 4.5
// minutes of 1,000 providers, against 5m - 1m) does not make every poll
// after it re-read everything: a value's age counts from its own request,
// so only those read in the poll's first half minute fall due at once, and
// the polls settle to their share within usages_max_age.
func TestPlacementLongPollDoesNotRereadEverything(t *testing.T) {
	srv := newSyntheticPlacement(t, 1000, 0)
	c := newTestPlacement(t, &fixtureServer{Server: srv.Server})
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c.now = clock
	perRequest := 90 * time.Millisecond // about 3,000 requests in the cold poll
	srv.onRequest = func() { mu.Lock(); now = now.Add(perRequest); mu.Unlock() }
	cfg := mustConfig(t, spreadConfig)
	for i := 0; i < 20; i++ {
		start := clock()
		if err := pollQuiet(t, c, cfg); err != nil {
			t.Fatal(err)
		}
		end := clock()
		counts := srv.requests()
		checkAges(t, c, i, start)
		switch {
		case i == 0 && end.Sub(start) < 4*time.Minute+30*time.Second:
			t.Fatalf("the cold poll took %s, want more than usages_max_age - interval", end.Sub(start))
		case i > 0 && counts["/usages"] > 1000/2:
			t.Errorf("poll %d re-read %d of 1000 usages", i, counts["/usages"])
		case i > 5:
			inShare(t, i, counts, "/usages", 1000/5)
		}
		// As the Poller: the next poll starts an interval after this one
		// started, or at once if this one took longer.
		mu.Lock()
		now = start.Add(max(time.Minute, end.Sub(start)))
		mu.Unlock()
	}
}

// Traits read from the per-trait lists are the ones read per provider;
// a server refusing GET /traits gets one GET per provider instead, and a
// reload to a traits_include that matches more traits than providers need
// reading is served per provider too (and shows the newly matching traits).
func TestPlacementTraitsByListOrPerProvider(t *testing.T) {
	traitInfo := func(ms []prometheus.Metric) string {
		return exposition(t, ms, "openstack_placement_resource_provider_trait_info")
	}
	cfg := mustConfig(t, "placement: {}\n")
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	byList, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if counts := srv.requests(); countMatching(counts, "/traits") != 1 || countMatching(counts, "required=") != 3 {
		t.Errorf("want GET /traits and 3 lists:\n%s", describeCounts(counts))
	}

	refusing := newFixtureServer(t, placementRoot, placementCloud)
	refusing.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/traits" {
			return false
		}
		http.Error(w, `{"errors": [{"status": 403, "title": "Forbidden", "detail": "Policy does not allow placement:traits:list to be performed."}]}`, http.StatusForbidden)
		return true
	})
	var logged strings.Builder
	perProvider := newTestPlacement(t, refusing)
	perProvider.logger = logfmtTo(&logged)
	for i := 0; i < 2; i++ {
		metrics, err := poll(t, perProvider, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && traitInfo(metrics) != traitInfo(byList) {
			t.Errorf("per provider:\n%s\nby list:\n%s", traitInfo(metrics), traitInfo(byList))
		}
	}
	counts := refusing.requests()
	if got := countMatching(counts, "/traits"); got != 1+7 {
		t.Errorf("%d trait requests, want one GET /traits (refused, not asked again) and 7 per provider:\n%s", got, describeCounts(counts))
	}
	if n := strings.Count(logged.String(), "Placement refuses GET /traits"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logged.String())
	}

	metrics, err := poll(t, c, mustConfig(t, "placement:\n  traits_include: ^HW_CPU_|^CUSTOM_\n"))
	if err != nil {
		t.Fatal(err)
	}
	counts = srv.requests()
	if got := countMatching(counts, "/traits"); got != 1+7 {
		t.Errorf("after the reload: %d trait requests, want GET /traits and 7 per provider:\n%s", got, describeCounts(counts))
	}
	if text := traitInfo(metrics); strings.Count(text, `trait="HW_CPU_X86_AVX2"`) != 4 || strings.Count(text, `trait="CUSTOM_GOLD"`) != 2 {
		t.Errorf("after the reload:\n%s", text)
	}
}

// pollTwice polls a fake Placement serving bodies twice with the default
// configuration, as the tests of inconsistent data need (logged once,
// counted on every poll), and returns the second poll's metrics, the log of
// both, and the server.
func pollTwice(t *testing.T, bodies map[string]string) ([]prometheus.Metric, *strings.Builder, *fakePlacement) {
	t.Helper()
	srv := newFakePlacement(t, bodies)
	logged := &strings.Builder{}
	c := newTestPlacement(t, srv.fixtureServer)
	c.logger = logfmtTo(logged)
	cfg := mustConfig(t, "placement: {}\n")
	var metrics []prometheus.Metric
	for i := 0; i < 2; i++ {
		var err error
		if metrics, err = poll(t, c, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return metrics, logged, srv
}
