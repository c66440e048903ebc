package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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
	gzipped     []byte // the metrics in the text exposition format, gzip-compressed
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
	metrics, err := update(ctx, c, cfg)
	end := p.now()

	logger := log.With(p.logger, "collector", name)
	if err != nil {
		level.Error(logger).Log("msg", "poll failed", "duration_seconds", end.Sub(start).Seconds(), "err", err)
	} else {
		level.Debug(logger).Log("msg", "poll finished", "duration_seconds", end.Sub(start).Seconds(), "metrics", len(metrics))
	}
	s := encodeSnapshot(logger, metrics)
	s.success, s.duration = err == nil, end.Sub(start)

	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.snapshots[name]; prev != nil {
		s.lastSuccess = prev.lastSuccess
	}
	if err == nil {
		s.lastSuccess = end
	}
	p.snapshots[name] = s
}

// update runs one Update and returns what it sent. A panic in a collector
// (a bug, or an API answer nobody foresaw) fails that poll, not the process.
func update(ctx context.Context, c Collector, cfg *Config) (metrics []prometheus.Metric, err error) {
	ch := make(chan prometheus.Metric, 256)
	var sent []prometheus.Metric
	done := make(chan struct{})
	go func() {
		for m := range ch {
			sent = append(sent, m)
		}
		close(done)
	}()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("collector panicked: %v", r)
		}
		close(ch)
		<-done
		metrics = sent
	}()
	return nil, c.Update(ctx, cfg, ch)
}

// Ready reports whether every collector has completed its first poll.
func (p *Poller) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.snapshots) == len(p.collectors)
}

// encodeSnapshot encodes metrics one family at a time, so that only one
// family is ever held decoded. Metrics a registry would reject (a duplicate
// series from a misbehaving API) are dropped and logged; the rest is served.
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
	var gz bytes.Buffer
	// BestSpeed: the snapshot is compressed once per poll, but polls of a
	// large cloud should stay cheap too; the ratio is still ~20:1.
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	for _, d := range order {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metricList(byFamily[d]))
		delete(byFamily, d)
		families, err := reg.Gather()
		if err != nil {
			level.Error(logger).Log("msg", "some metrics of the poll were inconsistent and are not served", "err", err)
		}
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(zw, mf); err != nil {
				level.Error(logger).Log("msg", "cannot encode metric family", "family", mf.GetName(), "err", err)
			}
		}
	}
	_ = zw.Close()
	return &snapshot{gzipped: gz.Bytes()}
}

// text returns the snapshot's text exposition, decompressed.
func (s *snapshot) text() io.Reader {
	zr, err := gzip.NewReader(bytes.NewReader(s.gzipped))
	if err != nil {
		panic(err) // the snapshot was compressed by encodeSnapshot
	}
	return zr
}

// metricList is a fixed list of metrics as a collector.
type metricList []prometheus.Metric

func (l metricList) Describe(chan<- *prometheus.Desc) {}
func (l metricList) Collect(ch chan<- prometheus.Metric) {
	for _, m := range l {
		ch <- m
	}
}

// Gather returns the families of every collector's latest snapshot,
// decoded from the stored text: the slow path, for formats other than the
// text one, which Prometheus does not ask for unless configured to.
func (p *Poller) Gather() ([]*dto.MetricFamily, error) {
	var out []*dto.MetricFamily
	for _, s := range p.latest() {
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(s.text())
		if err != nil {
			return out, err
		}
		names := make([]string, 0, len(families))
		for name := range families {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			out = append(out, families[name])
		}
	}
	return out, nil
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
