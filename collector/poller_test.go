package collector

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
	if p.Ready() {
		t.Error("ready before the first poll")
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
	if !p.Ready() {
		t.Error("not ready after the first poll")
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
	families, err := p.Gather()
	if err != nil {
		t.Fatal(err)
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
	metrics, err := update(context.Background(), panickingCollector{}, DefaultConfig())
	if err == nil || !strings.HasPrefix(err.Error(), "collector panicked: assignment to entry in nil map") || len(metrics) != 1 {
		t.Errorf("%v, %d metrics", err, len(metrics))
	}
}
