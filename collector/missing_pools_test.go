package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a settable time source: the retention is tested by moving it,
// never by sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var testPoolLabels = []string{"name", "host", "backend", "pool"}

func tuple(name string) []string {
	host, rest, _ := strings.Cut(name, "@")
	backend, pool, _ := strings.Cut(rest, "#")
	return []string{name, host, backend, pool}
}

func tuples(names ...string) [][]string {
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = tuple(n)
	}
	return out
}

func newTestMissingPools(clock *fakeClock) *missingPools {
	m := newMissingPools(nopLogger(), "test", testPoolLabels)
	m.now = clock.now
	return m
}

// assertMissing compares what collect sends with want, lines of
// "name value" (value as the exposition format writes it).
func assertMissing(t *testing.T, m *missingPools, want ...string) {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	m.collect(ch)
	close(ch)
	var metrics replay
	for metric := range ch {
		metrics = append(metrics, metric)
	}
	text := ""
	if len(want) > 0 {
		text = "# HELP openstack_test_pool_missing_since_timestamp_seconds Unix time of the first successful poll whose complete pool list lacked this pool, which an earlier poll within test.missing_pools_retention listed; absent while the pool is listed. The exporter's memory: a restart forgets.\n" +
			"# TYPE openstack_test_pool_missing_since_timestamp_seconds gauge\n"
		for _, w := range want {
			name, value, _ := strings.Cut(w, " ")
			l := tuple(name)
			text += `openstack_test_pool_missing_since_timestamp_seconds{backend="` + l[2] + `",host="` + l[1] + `",name="` + l[0] + `",pool="` + l[3] + `"} ` + value + "\n"
		}
	}
	if err := testutil.CollectAndCompare(metrics, strings.NewReader(text)); err != nil {
		t.Error(err)
	}
}

const view = "http://manila/v2/p/?"

// A pool listed once and then no longer is missing from the first poll that
// lacked it; later polls keep that time; listed again, it is no longer
// missing, and a second disappearance starts a new time.
func TestMissingPoolsDisappearAndReappear(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	m := newTestMissingPools(clock)
	m.observe(view, time.Hour, tuples("h@b#p1", "h@b#p2", "g@b#p1"))
	assertMissing(t, m)

	clock.advance(time.Minute) // 1800000060
	m.observe(view, time.Hour, tuples("h@b#p1"))
	assertMissing(t, m, "g@b#p1 1.80000006e+09", "h@b#p2 1.80000006e+09")

	clock.advance(time.Minute)
	m.observe(view, time.Hour, tuples("h@b#p1"))
	assertMissing(t, m, "g@b#p1 1.80000006e+09", "h@b#p2 1.80000006e+09")

	clock.advance(time.Minute)
	m.observe(view, time.Hour, tuples("h@b#p1", "h@b#p2"))
	assertMissing(t, m, "g@b#p1 1.80000006e+09")

	clock.advance(time.Minute) // 1800000240
	m.observe(view, time.Hour, tuples("h@b#p1", "g@b#p1"))
	assertMissing(t, m, "h@b#p2 1.80000024e+09")
}

// A pool is reported for retention after it was last listed, then
// forgotten: it does not come back as missing, and listed again it is a new
// pool.
func TestMissingPoolsRetention(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	m := newTestMissingPools(clock)
	m.observe(view, 10*time.Minute, tuples("h@b#p1", "h@b#p2"))
	clock.advance(time.Minute)
	m.observe(view, 10*time.Minute, tuples("h@b#p1"))
	assertMissing(t, m, "h@b#p2 1.80000006e+09")

	clock.advance(9 * time.Minute) // exactly the retention since last listed: still kept
	m.observe(view, 10*time.Minute, tuples("h@b#p1"))
	assertMissing(t, m, "h@b#p2 1.80000006e+09")

	clock.advance(time.Second)
	m.observe(view, 10*time.Minute, tuples("h@b#p1"))
	assertMissing(t, m)
	clock.advance(time.Hour)
	m.observe(view, 10*time.Minute, tuples("h@b#p1"))
	assertMissing(t, m)

	// A reload may shorten the retention: it applies at the next poll.
	m.observe(view, 10*time.Minute, tuples("h@b#p1", "h@b#p2"))
	clock.advance(time.Minute)
	m.observe(view, 10*time.Minute, tuples("h@b#p1"))
	assertMissing(t, m, "h@b#p2 1.800004261e+09")
	clock.advance(time.Minute)
	m.observe(view, time.Minute, tuples("h@b#p1"))
	assertMissing(t, m)
}

// A failed poll calls neither observe nor collect: however many polls fail
// and for however long (within the retention), no pool is taken for missing
// because of them, and the next successful list is compared with the last
// successful one.
func TestMissingPoolsFailedPollsAreNoEvidence(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	m := newTestMissingPools(clock)
	m.observe(view, time.Hour, tuples("h@b#p1", "h@b#p2"))
	for i := 0; i < 30; i++ {
		clock.advance(time.Minute) // 30 failed polls: the collector skips observe
	}
	m.observe(view, time.Hour, tuples("h@b#p1", "h@b#p2"))
	assertMissing(t, m)

	// A pool that vanished during the outage is missing from the first
	// successful poll after it, not from the outage's start.
	for i := 0; i < 5; i++ {
		clock.advance(time.Minute)
	}
	m.observe(view, time.Hour, tuples("h@b#p1"))
	assertMissing(t, m, "h@b#p2 1.80000210e+09")
}

// A reload keeps the memory when the list covers the same (endpoint and
// scope); when it covers something else the memory starts over, since a
// pool outside a new scope is not missing. Retention 0 disables and
// forgets.
func TestMissingPoolsReloadAndDisable(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	m := newTestMissingPools(clock)
	m.observe(view, time.Hour, tuples("h@b#p1", "h@b#p2"))
	clock.advance(time.Minute)
	m.observe(view, 2*time.Hour, tuples("h@b#p1")) // reloaded: another retention, same view
	assertMissing(t, m, "h@b#p2 1.80000006e+09")

	clock.advance(time.Minute)
	m.observe(view+"backend=b", 2*time.Hour, tuples("h@b#p1"))
	assertMissing(t, m)
	clock.advance(time.Minute)
	m.observe(view+"backend=b", 2*time.Hour, tuples())
	assertMissing(t, m, "h@b#p1 1.80000018e+09")

	m.observe(view+"backend=b", 0, tuples())
	assertMissing(t, m)
	if len(m.pools) != 0 {
		t.Errorf("retention 0 keeps %d pools", len(m.pools))
	}
	// Enabled again, it starts from what it sees then.
	clock.advance(time.Minute)
	m.observe(view+"backend=b", time.Hour, tuples())
	assertMissing(t, m)
}

// An empty list from a scheduler that answered is evidence: every pool is
// missing (the Manila scheduler right after its restart lists nothing until
// the services report; the alert's for: rides that out).
func TestMissingPoolsEmptyList(t *testing.T) {
	clock := &fakeClock{time.Unix(1_800_000_000, 0)}
	m := newTestMissingPools(clock)
	m.observe(view, time.Hour, tuples("h@b#p1", "h@c#p1"))
	clock.advance(time.Minute)
	m.observe(view, time.Hour, nil)
	assertMissing(t, m, "h@b#p1 1.80000006e+09", "h@c#p1 1.80000006e+09")
}

func TestMissingPoolsRetentionConfig(t *testing.T) {
	for _, tc := range []struct {
		retention, interval Duration
		want                string
	}{
		{0, Duration(time.Minute), ""},
		{Duration(2 * time.Minute), Duration(time.Minute), ""},
		{Duration(24 * time.Hour), Duration(time.Minute), ""},
		{Duration(90 * time.Second), Duration(time.Minute), "svc.missing_pools_retention: must be 0s (off) or at least twice svc.interval (2m0s), else a vanished pool is forgotten before a poll can report it (got 1m30s)"},
		{Duration(-time.Hour), Duration(time.Minute), "svc.missing_pools_retention: must be 0s (off) or at least twice svc.interval (2m0s), else a vanished pool is forgotten before a poll can report it (got -1h0m0s)"},
	} {
		err := validateMissingPoolsRetention("svc", tc.retention, tc.interval)
		if got := errString(err); got != tc.want {
			t.Errorf("retention %s: got %q, want %q", tc.retention, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// The missing-pools family of each collector that has one, as it builds it:
// the agreed names (openstack_<service>_pool_missing_since_timestamp_seconds
// with the pool labels), HELP naming the service's retention key. The golden
// is also what the dashboards' and alerts' name check reads.
func TestMissingPoolsFamilies(t *testing.T) {
	clock := &fakeClock{time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	var metrics []prometheus.Metric
	for _, build := range []func(Deps) (Collector, error){newManilaCollector, newCinderCollector} {
		c, err := build(Deps{Logger: nopLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var m *missingPools
		switch c := c.(type) {
		case *manilaCollector:
			m = c.missing
		case *cinderCollector:
			m = c.missing
		}
		m.now = clock.now
		m.observe(view, time.Hour, [][]string{{"rig-node1@alpha#a0", "rig-node1", "alpha", "a0"}, {"rig-node10@alpha#a0", "rig-node10", "alpha", "a0"}})
		clock.advance(time.Minute)
		m.observe(view, time.Hour, [][]string{{"rig-node1@alpha#a0", "rig-node1", "alpha", "a0"}})
		ch := make(chan prometheus.Metric, 10)
		m.collect(ch)
		close(ch)
		for metric := range ch {
			metrics = append(metrics, metric)
		}
	}
	assertGolden(t, metrics, "missing-pools")
	problems, err := testutil.CollectAndLint(replay(metrics))
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
