package collector

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	collectorSuccessDesc = prometheus.NewDesc(Namespace+"_collector_success",
		"1 if the collector's last poll succeeded, 0 if it failed.", []string{"collector"}, nil)
	collectorDurationDesc = prometheus.NewDesc(Namespace+"_collector_duration_seconds",
		"How long the collector's last poll took.", []string{"collector"}, nil)
	collectorLastSuccessDesc = prometheus.NewDesc(Namespace+"_collector_last_success_timestamp_seconds",
		"Unix time the collector's last successful poll ended; 0 if none has succeeded since start.", []string{"collector"}, nil)
	collectorIntervalDesc = prometheus.NewDesc(Namespace+"_collector_poll_interval_seconds",
		"Configured time between the starts of two polls of the collector.", []string{"collector"}, nil)
)

// snapshot is the outcome of one completed poll, encoded once in the text
// format and kept only gzip-compressed: serving it to Prometheus (which asks
// for gzip) is a copy, and with tens of thousands of providers neither a
// re-encoding per scrape nor the decoded families would be cheap (at 10,000
// providers the families take ~200 MB, the compressed text 2 MB).
type snapshot struct {
	gzipped     []byte       // the metrics in the text exposition format, gzip-compressed
	proto       []byte       // the same in delimited protobuf, gzip-compressed, once a scrape asked for it
	spans       []familySpan // where each family is in gzipped, for one of several clouds
	success     bool
	end         time.Time
	duration    time.Duration
	lastSuccess time.Time
	err         string // the failed poll's error, truncated
	failures    failureRun
	converted   conversions
}

// failureRun is the run of failed polls up to a snapshot, carried from one
// snapshot to the next so that the log shows changes, not every poll.
type failureRun struct {
	polls      int       // consecutive failed polls; 0 after a success
	since      time.Time // end of the first of them
	loggedAt   time.Time // when one was last logged at error level
	suppressed int       // failed polls since then not logged at error level
}

// repeatFailureLogInterval bounds how often a collector that keeps failing
// logs at error level: its failures are the same outage, and one line per
// poll would bury everything else.
const repeatFailureLogInterval = time.Minute

// maxErrorText bounds the error text kept for the landing page.
const maxErrorText = 300

// Poller runs the collectors in the background and serves their latest
// completed snapshots. It is a prometheus.Collector: a scrape never waits on
// OpenStack.
type Poller struct {
	logger     log.Logger
	config     *SafeConfig
	collectors map[string]Collector
	wake       map[string]chan struct{}
	now        func() time.Time
	cloud      string // the cloud label of every sample, when one process polls several clouds

	// protoWanted is set by the first scrape that asks for protobuf: from
	// then on every poll writes that format too, instead of a conversion
	// of the text on the first such scrape of each poll.
	protoWanted atomic.Bool

	mu        sync.RWMutex
	snapshots map[string]*snapshot
}

// NewPoller prepares polling of collectors with the configuration in cfg.
func NewPoller(logger log.Logger, cfg *SafeConfig, collectors map[string]Collector) *Poller {
	p := &Poller{
		logger:     logger,
		config:     cfg,
		collectors: collectors,
		wake:       map[string]chan struct{}{},
		now:        time.Now,
		snapshots:  map[string]*snapshot{},
	}
	for name := range collectors {
		p.wake[name] = make(chan struct{}, 1)
	}
	return p
}

// NewCloudPoller is NewPoller for one of several clouds polled by one
// process: every sample it serves carries cloud="<cloud>", and its
// snapshots can be merged with the other clouds' (MultiHandler). logger
// should name the cloud, as the collectors' loggers do.
func NewCloudPoller(logger log.Logger, cfg *SafeConfig, collectors map[string]Collector, cloud string) *Poller {
	p := NewPoller(logger, cfg, collectors)
	p.cloud = cloud
	return p
}

// Cloud is the cloud the poller polls; empty when the process polls one.
func (p *Poller) Cloud() string { return p.cloud }

// Run polls every collector until ctx ends; it returns when all loops have.
func (p *Poller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for name, c := range p.collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.loop(ctx, name, c)
		}()
	}
	wg.Wait()
}

// PollNow asks every collector to start a poll as soon as its current one
// (if any) ends, e.g. after a configuration reload.
func (p *Poller) PollNow() {
	for _, ch := range p.wake {
		select {
		case ch <- struct{}{}:
		default: // a poll is already pending
		}
	}
}

func (p *Poller) loop(ctx context.Context, name string, c Collector) {
	for {
		start := p.now()
		p.PollOnce(ctx, name, c)
		interval := registry[name].schedule(p.config.Get()).Interval
		wait := time.NewTimer(time.Until(start.Add(interval)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-p.wake[name]:
			wait.Stop()
		case <-wait.C:
		}
	}
}

// PollOnce runs one poll of the named collector and stores its snapshot.
func (p *Poller) PollOnce(ctx context.Context, name string, c Collector) {
	cfg := p.config.Get()
	schedule := registry[name].schedule(cfg)
	ctx, cancel := context.WithTimeout(ctx, schedule.Timeout)
	defer cancel()

	start := p.now()
	enc := newCloudSnapshotEncoder(log.With(p.logger, "collector", name), p.protoWanted.Load(), p.cloud)
	err := update(ctx, c, cfg, enc.add)
	end := p.now()

	s := &snapshot{}
	s.gzipped, s.proto = enc.finish()
	s.spans = enc.spans
	metrics := enc.samples
	s.success, s.end, s.duration = err == nil, end, end.Sub(start)
	if err != nil {
		s.err = truncate(err.Error(), maxErrorText)
	}
	p.mu.RLock()
	prev := p.snapshots[name] // only this poll replaces it
	p.mu.RUnlock()
	if prev != nil {
		s.lastSuccess = prev.lastSuccess
	}
	if err == nil {
		s.lastSuccess = end
	}
	p.logPoll(name, prev, s, metrics, err)

	p.mu.Lock()
	p.snapshots[name] = s
	p.mu.Unlock()
}

// logPoll logs the first success and every change between failing and
// succeeding at info or error level, a failure that goes on at most once per
// repeatFailureLogInterval at error level, and everything else at debug. It
// records the run of failures in s.
func (p *Poller) logPoll(name string, prev, s *snapshot, metrics int, err error) {
	logger := log.With(p.logger, "collector", name)
	var run failureRun
	if prev != nil {
		run = prev.failures
	}
	duration := s.duration.Seconds()
	if err == nil {
		kv := []any{"duration_seconds", duration, "metrics", metrics}
		if run.polls > 0 {
			kv = append(kv, "failed_polls", run.polls, "failed_for", s.end.Sub(run.since))
		}
		switch {
		case prev == nil || prev.lastSuccess.IsZero():
			level.Info(logger).Log(append([]any{"msg", "first poll succeeded"}, kv...)...)
		case run.polls > 0:
			level.Info(logger).Log(append([]any{"msg", "poll succeeds again"}, kv...)...)
		default:
			level.Debug(logger).Log(append([]any{"msg", "poll finished"}, kv...)...)
		}
		return
	}
	run.polls++
	switch {
	case run.polls == 1:
		run = failureRun{polls: 1, since: s.end, loggedAt: s.end}
		level.Error(logger).Log("msg", "poll failed", "duration_seconds", duration, "err", err)
	case s.end.Sub(run.loggedAt) >= repeatFailureLogInterval:
		level.Error(logger).Log("msg", "poll still failing", "duration_seconds", duration,
			"failed_polls", run.polls, "failed_for", s.end.Sub(run.since), "suppressed", run.suppressed, "err", err)
		run.loggedAt, run.suppressed = s.end, 0
	default:
		run.suppressed++
		level.Debug(logger).Log("msg", "poll failed again", "duration_seconds", duration, "failed_polls", run.polls, "err", err)
	}
	s.failures = run
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// update runs one Update and hands each metric it sends to sink, in the
// order sent, on one goroutine. A panic in a collector (a bug, or an API
// answer nobody foresaw) fails that poll, not the process.
func update(ctx context.Context, c Collector, cfg *Config, sink func(prometheus.Metric)) (err error) {
	ch := make(chan prometheus.Metric, 256)
	done := make(chan struct{})
	go func() {
		for m := range ch {
			sink(m)
		}
		close(done)
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("collector panicked: %v", r)
		}
		close(ch)
		<-done
	}()
	return c.Update(ctx, cfg, ch)
}

// CollectorState is how a collector's polls went, for people: the landing
// page and /-/ready.
type CollectorState struct {
	Cloud       string // empty when the process polls one cloud
	Name        string
	Polled      bool          // a poll has finished; the rest is zero until then
	Success     bool          // the last poll succeeded
	LastPoll    time.Time     // end of the last poll
	Duration    time.Duration // of the last poll
	LastSuccess time.Time     // end of the last successful poll; zero if none
	LastError   string        // the last poll's error, at most maxErrorText runes; empty on success
	FailedPolls int           // consecutive failed polls up to the last
}

// State returns every collector's state, in name order.
func (p *Poller) State() []CollectorState {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []CollectorState
	for _, name := range p.names() {
		st := CollectorState{Cloud: p.cloud, Name: name}
		if s := p.snapshots[name]; s != nil {
			st.Polled, st.Success, st.LastPoll, st.Duration = true, s.success, s.end, s.duration
			st.LastSuccess, st.LastError, st.FailedPolls = s.lastSuccess, s.err, s.failures.polls
		}
		out = append(out, st)
	}
	return out
}

// encodeSnapshot encodes a list of metrics in any order, grouped by
// family, for tests and benchmarks that build their metrics themselves.
func encodeSnapshot(logger log.Logger, metrics []prometheus.Metric) *snapshot {
	byFamily := map[*prometheus.Desc][]prometheus.Metric{}
	var order []*prometheus.Desc
	for _, m := range metrics {
		d := m.Desc()
		if _, seen := byFamily[d]; !seen {
			order = append(order, d)
		}
		byFamily[d] = append(byFamily[d], m)
	}
	enc := newSnapshotEncoder(logger, false)
	for _, d := range order {
		for _, m := range byFamily[d] {
			enc.add(m)
		}
	}
	text, _ := enc.finish()
	return &snapshot{gzipped: text}
}

// latest returns the stored snapshots in collector order. They are never
// modified once stored, so callers may read them without the lock.
func (p *Poller) latest() []*snapshot {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*snapshot
	for _, name := range p.names() {
		if s := p.snapshots[name]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (p *Poller) names() []string {
	names := make([]string, 0, len(p.collectors))
	for name := range p.collectors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Describe sends nothing: the metrics depend on the configuration (an
// unchecked collector in client_golang's terms).
func (p *Poller) Describe(chan<- *prometheus.Desc) {}

// Collect serves the per-collector meta-metrics; the snapshots themselves
// are served by Handler or Gather.
func (p *Poller) Collect(ch chan<- prometheus.Metric) {
	cfg := p.config.Get()
	p.mu.RLock()
	defer p.mu.RUnlock()
	for name := range p.collectors {
		ch <- prometheus.MustNewConstMetric(collectorIntervalDesc, prometheus.GaugeValue,
			registry[name].schedule(cfg).Interval.Seconds(), name)
		s := p.snapshots[name]
		if s == nil {
			continue // no poll has finished yet
		}
		ch <- prometheus.MustNewConstMetric(collectorSuccessDesc, prometheus.GaugeValue, boolToFloat(s.success), name)
		ch <- prometheus.MustNewConstMetric(collectorDurationDesc, prometheus.GaugeValue, s.duration.Seconds(), name)
		lastSuccess := 0.0
		if !s.lastSuccess.IsZero() {
			lastSuccess = float64(s.lastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(collectorLastSuccessDesc, prometheus.GaugeValue, lastSuccess, name)
	}
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
