package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
)

// reloader re-reads the configuration file on SIGHUP and POST /-/reload (with
// --web.enable-lifecycle). A
// file that fails validation, including against the live servers'
// microversions, is rejected and the configuration in force stays.
type reloader struct {
	logger log.Logger
	path   string
	clouds []*cloud

	mu            sync.Mutex // one reload at a time
	lastOK        prometheus.Gauge
	lastOKSeconds prometheus.Gauge
}

func newReloader(logger log.Logger, path string, clouds []*cloud) *reloader {
	r := &reloader{
		logger: logger, path: path, clouds: clouds,
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "openstack_capacity_exporter_config_last_reload_successful",
			Help: "1 if the last configuration load or reload succeeded, 0 if the file was rejected (the previous configuration stays in force).",
		}),
		lastOKSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "openstack_capacity_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
	r.lastOK.Set(1)
	r.lastOKSeconds.SetToCurrentTime()
	return r
}

func (r *reloader) mustRegister(reg prometheus.Registerer) {
	reg.MustRegister(r.lastOK, r.lastOKSeconds)
}

// configChecker is implemented by collectors that can check a configuration
// against what they learned from their server (its microversion range).
type configChecker interface {
	CheckConfig(*collector.Config) error
}

func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" {
		level.Info(r.logger).Log("msg", "reload requested but no --config.file is set; nothing to do")
		return nil
	}
	cfg, err := collector.LoadConfig(r.path)
	if err == nil {
		err = r.check(cfg)
	}
	if err != nil {
		r.lastOK.Set(0)
		level.Error(r.logger).Log("msg", "configuration reload rejected; the previous configuration stays in force", "file", r.path, "err", err)
		return err
	}
	for _, c := range r.clouds {
		c.config.Set(c.configFor(cfg))
	}
	r.lastOK.Set(1)
	r.lastOKSeconds.SetToCurrentTime()
	level.Info(r.logger).Log("msg", "configuration reloaded", "file", r.path)
	for _, c := range r.clouds {
		c.poller.PollNow()
	}
	return nil
}

// check refuses a file that changes which clouds are polled (each has its
// credentials and pollers, set up at start-up) or that a cloud's collectors
// know their server cannot run.
func (r *reloader) check(cfg *collector.Config) error {
	if was, now := cloudNames(r.clouds), cfg.Clouds.Names(); !slices.Equal(was, now) {
		return fmt.Errorf("clouds: the clouds polled cannot change on reload (polling [%s], the file lists [%s]); restart the exporter to add or remove one",
			strings.Join(was, ", "), strings.Join(now, ", "))
	}
	for _, c := range r.clouds {
		for _, col := range c.collectors {
			if checker, ok := col.(configChecker); ok {
				if err := checker.CheckConfig(c.configFor(cfg)); err != nil {
					if c.name != "" {
						return fmt.Errorf("clouds.%s: %w", c.name, err)
					}
					return err
				}
			}
		}
	}
	return nil
}

func (r *reloader) watchSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.reload() // logged inside
		}
	}
}

func (r *reloader) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Use POST to reload the configuration.", http.StatusMethodNotAllowed)
		return
	}
	if err := r.reload(); err != nil {
		http.Error(w, "Configuration rejected: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Write([]byte("Configuration reloaded.\n"))
}
