package collector

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var fakeDesc = prometheus.NewDesc("fake_value", "Value the fake collector reports.", nil, nil)

// fakeCollector reports how many polls it ran; a poll blocks while gate is
// held and fails when fail is set.
type fakeCollector struct {
	polls, inFlight, maxInFlight atomic.Int32
	fail                         atomic.Bool
	gate                         chan struct{}
}

func (f *fakeCollector) Update(ctx context.Context, _ *Config, ch chan<- prometheus.Metric) error {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		old := f.maxInFlight.Load()
		if n <= old || f.maxInFlight.CompareAndSwap(old, n) {
			break
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	count := f.polls.Add(1)
	if f.fail.Load() {
		return errors.New("fake failure")
	}
	ch <- prometheus.MustNewConstMetric(fakeDesc, prometheus.GaugeValue, float64(count))
	return nil
}

func init() {
	registerCollector("fake", false, func(Deps) (Collector, error) { return &fakeCollector{}, nil },
		func(*Config) Schedule { return Schedule{Interval: time.Hour, Timeout: 2 * time.Second} })
}

func TestPollerServesSnapshotsAndMetaMetrics(t *testing.T) {
	fake := &fakeCollector{}
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": fake})
	clock := time.Unix(1700000000, 0)
	p.now = func() time.Time { clock = clock.Add(250 * time.Millisecond); return clock }
	if p.State()[0].Polled {
		t.Error("polled before the first poll")
	}
	want := `
# HELP openstack_capacity_exporter_collector_poll_interval_seconds Configured time between the starts of two polls of the collector.
# TYPE openstack_capacity_exporter_collector_poll_interval_seconds gauge
openstack_capacity_exporter_collector_poll_interval_seconds{collector="fake"} 3600
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want)); err != nil {
		t.Errorf("before the first poll: %v", err)
	}

	p.PollOnce(context.Background(), "fake", fake)
	fake.fail.Store(true)
	p.PollOnce(context.Background(), "fake", fake)
	if !p.State()[0].Polled {
		t.Error("not polled after the first poll")
	}
	// The failed poll sent nothing: its snapshot is empty, and the last
	// success is the first poll's end.
	want = `
# HELP openstack_capacity_exporter_collector_duration_seconds How long the collector's last poll took.
# TYPE openstack_capacity_exporter_collector_duration_seconds gauge
openstack_capacity_exporter_collector_duration_seconds{collector="fake"} 0.25
# HELP openstack_capacity_exporter_collector_last_success_timestamp_seconds Unix time the collector's last successful poll ended; 0 if none has succeeded since start.
# TYPE openstack_capacity_exporter_collector_last_success_timestamp_seconds gauge
openstack_capacity_exporter_collector_last_success_timestamp_seconds{collector="fake"} 1.7000000005e+09
# HELP openstack_capacity_exporter_collector_poll_interval_seconds Configured time between the starts of two polls of the collector.
# TYPE openstack_capacity_exporter_collector_poll_interval_seconds gauge
openstack_capacity_exporter_collector_poll_interval_seconds{collector="fake"} 3600
# HELP openstack_capacity_exporter_collector_success 1 if the collector's last poll succeeded, 0 if it failed.
# TYPE openstack_capacity_exporter_collector_success gauge
openstack_capacity_exporter_collector_success{collector="fake"} 0
`
	if err := testutil.CollectAndCompare(p, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// A scrape never waits on OpenStack: while a poll hangs, /metrics serves the
// previous snapshot at once.
func TestPollerScrapeDoesNotWaitForPoll(t *testing.T) {
	fake := &fakeCollector{}
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": fake})
	p.PollOnce(context.Background(), "fake", fake)
	fake.gate = make(chan struct{})
	done := make(chan struct{})
	go func() { p.PollOnce(context.Background(), "fake", fake); close(done) }()
	for fake.inFlight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	scraped := make(chan float64, 1)
	go func() { scraped <- snapshotValue(t, p, "fake_value") }()
	select {
	case v := <-scraped:
		if v != 1 {
			t.Errorf("served %v, want the first poll's 1", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("scrape blocked behind a hanging poll")
	}
	close(fake.gate)
	<-done
	if v := snapshotValue(t, p, "fake_value"); v != 2 {
		t.Errorf("after the poll: %v", v)
	}
}

// However often a poll is requested (reloads), one collector never runs two
// polls at once.
func TestPollerNeverOverlapsPolls(t *testing.T) {
	fake := &fakeCollector{gate: make(chan struct{})}
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": fake})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.Run(ctx); close(stopped) }()
	for i := 0; i < 50; i++ {
		p.PollNow()
		select {
		case fake.gate <- struct{}{}:
		case <-time.After(time.Second):
		}
	}
	cancel()
	<-stopped
	if fake.maxInFlight.Load() != 1 {
		t.Errorf("%d polls ran at once", fake.maxInFlight.Load())
	}
	if fake.polls.Load() < 2 {
		t.Errorf("PollNow did not trigger polls: %d", fake.polls.Load())
	}
}

// snapshotValue reads the one sample of family name from the served snapshots.
func snapshotValue(t *testing.T, p *Poller, name string) float64 {
	t.Helper()
	var families []*dto.MetricFamily
	for _, s := range p.latest() {
		families = append(families, decodeSnapshot(t, s.gzipped, expfmt.NewFormat(expfmt.TypeTextPlain))...)
	}
	for _, mf := range families {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not served", name)
	return 0
}

type panickingCollector struct{}

func (panickingCollector) Update(_ context.Context, _ *Config, ch chan<- prometheus.Metric) error {
	ch <- prometheus.MustNewConstMetric(fakeDesc, prometheus.GaugeValue, 7)
	var providers map[string]int
	providers["boom"]++ // a nil map write: a bug in a collector
	return nil
}

// A panicking collector fails its poll; the exporter lives on.
func TestPollerSurvivesPanic(t *testing.T) {
	p := NewPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": panickingCollector{}})
	p.PollOnce(context.Background(), "fake", panickingCollector{})
	if s := p.snapshots["fake"]; s == nil || s.success {
		t.Fatalf("snapshot %+v", s)
	}
	metrics, err := collect(t, context.Background(), panickingCollector{}, DefaultConfig())
	if err == nil || !strings.HasPrefix(err.Error(), "collector panicked: assignment to entry in nil map") || len(metrics) != 1 {
		t.Errorf("%v, %d metrics", err, len(metrics))
	}
}

// scriptedCollector fails its n-th poll with errs[n] (nil: succeeds).
type scriptedCollector struct {
	errs []error
	n    int
}

func (s *scriptedCollector) Update(_ context.Context, _ *Config, ch chan<- prometheus.Metric) error {
	err := s.errs[s.n]
	s.n++
	if err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(fakeDesc, prometheus.GaugeValue, 1)
	return nil
}

// pollAt runs one poll of "fake" starting at t0+at; every reading of the
// clock moves it 250 ms, so a poll ends at t0+at+500ms and takes 0.25 s.
func pollAt(p *Poller, clock *time.Time, t0 time.Time, at time.Duration, c Collector) {
	*clock = t0.Add(at)
	p.PollOnce(context.Background(), "fake", c)
}

func newClockedPoller(logs *bytes.Buffer, c Collector) (*Poller, *time.Time) {
	logger := level.NewFilter(log.NewLogfmtLogger(logs), level.AllowInfo())
	p := NewPoller(logger, NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": c})
	clock := new(time.Time)
	p.now = func() time.Time { *clock = clock.Add(250 * time.Millisecond); return *clock }
	return p, clock
}

// At info level the log shows the first success and every change between
// failing and succeeding; a failure that goes on is repeated at error level
// at most once a minute, saying how many failed polls it did not log.
func TestPollerLogsTransitionsAndBoundsRepeats(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	down, refused := errors.New("placement is down"), errors.New("connection refused")
	c := &scriptedCollector{errs: []error{nil, nil, down, down, refused, refused, refused, nil, nil}}
	var logs bytes.Buffer
	p, clock := newClockedPoller(&logs, c)
	for i := range len(c.errs) {
		pollAt(p, clock, t0, time.Duration(i)*20*time.Second, c)
	}
	want := `level=info collector=fake msg="first poll succeeded" duration_seconds=0.25 metrics=1
level=error collector=fake msg="poll failed" duration_seconds=0.25 err="placement is down"
level=error collector=fake msg="poll still failing" duration_seconds=0.25 failed_polls=4 failed_for=1m0s suppressed=2 err="connection refused"
level=info collector=fake msg="poll succeeds again" duration_seconds=0.25 metrics=1 failed_polls=5 failed_for=1m40s
`
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}

// A collector whose first polls fail says so once, and logs its first
// success with what preceded it.
func TestPollerLogsFirstSuccessAfterFailures(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	down := errors.New("placement is down")
	c := &scriptedCollector{errs: []error{down, down, nil}}
	var logs bytes.Buffer
	p, clock := newClockedPoller(&logs, c)
	for i := range len(c.errs) {
		pollAt(p, clock, t0, time.Duration(i)*30*time.Second, c)
	}
	want := `level=error collector=fake msg="poll failed" duration_seconds=0.25 err="placement is down"
level=info collector=fake msg="first poll succeeded" duration_seconds=0.25 metrics=1 failed_polls=2 failed_for=1m0s
`
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}

// State tells the landing page and /-/ready how each collector's polls went.
func TestPollerState(t *testing.T) {
	t0 := time.Unix(1700000000, 0).UTC()
	long := errors.New(strings.Repeat("é", 400))
	c := &scriptedCollector{errs: []error{nil, long}}
	var logs bytes.Buffer
	p, clock := newClockedPoller(&logs, c)
	p.collectors["other"] = c

	want := []CollectorState{{Name: "fake"}, {Name: "other"}}
	if got := p.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("before any poll: %+v", got)
	}
	pollAt(p, clock, t0, 0, c)
	want[0] = CollectorState{Name: "fake", Polled: true, Success: true, LastPoll: t0.Add(500 * time.Millisecond),
		Duration: 250 * time.Millisecond, LastSuccess: t0.Add(500 * time.Millisecond)}
	if got := p.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a success:\n%+v\nwant\n%+v", got, want)
	}
	pollAt(p, clock, t0, time.Minute, c)
	want[0].Success, want[0].LastPoll, want[0].FailedPolls = false, t0.Add(time.Minute+500*time.Millisecond), 1
	want[0].LastError = strings.Repeat("é", 300) + "…"
	if got := p.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a failure:\n%+v\nwant\n%+v", got, want)
	}
}
