package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// cloud is what polls one cloud: its session (credentials), collectors,
// configuration and poller. A process polls the one cloud of --os-cloud
// (name "") or every cloud of the configuration file's clouds section.
type cloud struct {
	name       string
	config     *collector.SafeConfig
	collectors map[string]collector.Collector
	poller     *collector.Poller
	// registry is the cloud's own metrics (its pollers' and API requests')
	// for /probe?cloud=NAME; nil with one cloud, whose metrics are in the
	// process's registry only.
	registry *prometheus.Registry
}

// newCloud prepares the polling of one cloud: entry is its clouds.yaml entry
// ("" for the OS_* environment), name its cloud label ("" with one cloud).
// Its metrics are registered in reg, with the cloud label when named.
func newCloud(logger log.Logger, name, entry string, cfg *collector.Config, collectorNames []string, limits openstack.Limits, reg prometheus.Registerer) (*cloud, error) {
	creds, err := openstack.LoadCloud(entry)
	if err != nil {
		if name != "" {
			return nil, fmt.Errorf("clouds.%s: %w", name, err)
		}
		return nil, err
	}
	apiMetrics := openstack.NewAPIMetrics()
	session := openstack.NewSession(creds, apiMetrics, limits)
	if name != "" {
		logger = log.With(logger, "cloud", name)
	}
	collectors, err := collector.New(collectorNames, collector.Deps{Logger: logger, Session: session})
	if err != nil {
		return nil, err
	}
	// What a reload would refuse is refused at start-up too (a collector
	// that needs another one, say); checks against a server wait for it.
	for _, c := range collectors {
		if checker, ok := c.(configChecker); ok {
			if err := checker.CheckConfig(cfg); err != nil {
				return nil, err
			}
		}
	}
	return wireCloud(logger, name, cfg, collectors, apiMetrics, reg)
}

// wireCloud gives a cloud's collectors their poller and registers its
// metrics; logger already names the cloud.
func wireCloud(logger log.Logger, name string, cfg *collector.Config, collectors map[string]collector.Collector, apiMetrics *openstack.APIMetrics, reg prometheus.Registerer) (*cloud, error) {
	c := &cloud{name: name, config: collector.NewSafeConfig(cfg), collectors: collectors}
	if name == "" {
		c.poller = collector.NewPoller(logger, c.config, collectors)
		return c, registerCloud(reg, c.poller, apiMetrics)
	}
	c.poller = collector.NewCloudPoller(logger, c.config, collectors, name)
	c.registry = prometheus.NewRegistry()
	labels := prometheus.Labels{"cloud": name}
	for _, r := range []prometheus.Registerer{reg, c.registry} {
		if err := registerCloud(prometheus.WrapRegistererWith(labels, r), c.poller, apiMetrics); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func registerCloud(reg prometheus.Registerer, poller *collector.Poller, apiMetrics *openstack.APIMetrics) error {
	if err := reg.Register(poller); err != nil {
		return err
	}
	return apiMetrics.Register(reg)
}

// configFor is the configuration of the cloud in the file's cfg.
func (c *cloud) configFor(cfg *collector.Config) *collector.Config {
	for _, entry := range cfg.Clouds.List {
		if entry.Name == c.name {
			return entry.Config
		}
	}
	return cfg
}

func pollers(clouds []*cloud) []*collector.Poller {
	out := make([]*collector.Poller, len(clouds))
	for i, c := range clouds {
		out[i] = c.poller
	}
	return out
}

func cloudNames(clouds []*cloud) []string {
	var names []string
	for _, c := range clouds {
		if c.name != "" {
			names = append(names, c.name)
		}
	}
	return names
}

// probeHandler serves /probe?cloud=NAME, the multi-target pattern of the
// blackbox and snmp exporters: one cloud's latest snapshots and its own
// metrics. An unknown or missing cloud is a 400 that lists the clouds,
// never an empty 200 that Prometheus would record as a healthy scrape.
func probeHandler(clouds []*cloud, logger log.Logger) http.Handler {
	byName := map[string]http.Handler{}
	for _, c := range clouds {
		if c.name != "" {
			byName[c.name] = c.poller.ProbeHandler(c.registry, logger)
		}
	}
	names := cloudNames(clouds)
	slices.Sort(names)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(byName) == 0 {
			http.Error(w, "This exporter polls one cloud (--os-cloud): scrape /metrics. /probe serves the clouds of a configuration file's clouds section.", http.StatusBadRequest)
			return
		}
		name := r.URL.Query().Get("cloud")
		h, ok := byName[name]
		if !ok {
			what := fmt.Sprintf("Unknown cloud %q", name)
			if name == "" {
				what = "Missing parameter cloud"
			}
			http.Error(w, what+": use /probe?cloud=NAME with one of: "+strings.Join(names, ", ")+".", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
