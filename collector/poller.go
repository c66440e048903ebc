package collector

import (
	"context"
	"sync"
	"time"

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

// snapshot is the outcome of one completed poll.
type snapshot struct {
	metrics     []prometheus.Metric
	success     bool
	duration    time.Duration
	lastSuccess time.Time
}

// Poller runs the collectors in the background and serves their latest
// completed snapshots. It is a prometheus.Collector: a scrape never waits on
// OpenStack.
type Poller struct {
	logger     log.Logger
	config     *SafeConfig
	collectors map[string]Collector
	wake       map[string]chan struct{}
	now        func() time.Time

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
	ch := make(chan prometheus.Metric, 256)
	var metrics []prometheus.Metric
	done := make(chan struct{})
	go func() {
		for m := range ch {
			metrics = append(metrics, m)
		}
		close(done)
	}()
	err := c.Update(ctx, cfg, ch)
	close(ch)
	<-done
	end := p.now()

	logger := log.With(p.logger, "collector", name)
	if err != nil {
		level.Error(logger).Log("msg", "poll failed", "duration_seconds", end.Sub(start).Seconds(), "err", err)
	} else {
		level.Debug(logger).Log("msg", "poll finished", "duration_seconds", end.Sub(start).Seconds(), "metrics", len(metrics))
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	s := &snapshot{metrics: metrics, success: err == nil, duration: end.Sub(start)}
	if prev := p.snapshots[name]; prev != nil {
		s.lastSuccess = prev.lastSuccess
	}
	if err == nil {
		s.lastSuccess = end
	}
	p.snapshots[name] = s
}

// Ready reports whether every collector has completed its first poll.
func (p *Poller) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.snapshots) == len(p.collectors)
}

// Describe sends nothing: the metrics depend on the cloud (an unchecked
// collector in client_golang's terms).
func (p *Poller) Describe(chan<- *prometheus.Desc) {}

// Collect serves the stored snapshots and the per-collector meta-metrics.
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
		for _, m := range s.metrics {
			ch <- m
		}
	}
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
