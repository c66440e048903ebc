package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
)

// webOptions are the flags that shape the HTTP endpoints.
type webOptions struct {
	metricsPath     string
	enableLifecycle bool
	enablePprof     bool
	maxRequests     int // scrapes of the metrics at once; 0: no limit
}

// newMux routes the exporter's endpoints.
// With several clouds /metrics serves them all (each sample with its cloud
// label) and /probe?cloud=NAME one of them; the scrape limit is over both.
func newMux(o webOptions, logger log.Logger, clouds []*cloud, reloader *reloader, registry prometheus.Gatherer) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	limiter := collector.NewScrapeLimiter(o.maxRequests)
	if len(clouds) == 1 && clouds[0].name == "" {
		mux.Handle(o.metricsPath, limiter.Limit(clouds[0].poller.ProbeHandler(registry, logger)))
	} else {
		mux.Handle(o.metricsPath, limiter.Limit(collector.MultiHandler(pollers(clouds), registry, logger)))
	}
	mux.Handle("/probe", limiter.Limit(probeHandler(clouds, logger)))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy.") })
	mux.Handle("/-/ready", collector.ReadyHandler(pollers(clouds)...))
	if o.enableLifecycle {
		mux.HandleFunc("/-/reload", reloader.serveHTTP)
	} else {
		// As Prometheus answers, so that the reply names the flag.
		mux.HandleFunc("/-/reload", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
		})
	}
	profiling := "false"
	if o.enablePprof {
		profiling = "true"
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if o.metricsPath != "/" {
		landing, err := landingPage(web.LandingConfig{
			Name:        exporterName,
			Description: "Prometheus exporter for OpenStack Placement resource providers and Manila and Cinder storage pools",
			Version:     version.Info(),
			Profiling:   profiling,
			Links: []web.LandingLinks{
				{Address: o.metricsPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		}, clouds)
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
