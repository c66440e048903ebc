// Package collector polls OpenStack APIs in the background and serves the
// latest complete snapshot of what it found as Prometheus metrics.
//
// Each collector lives in its own file and registers itself by name; the
// Poller runs every enabled collector on its own schedule, never two polls
// of one collector at a time, and a scrape only reads the stored snapshots.
package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// Namespace prefixes the exporter's own metrics.
const Namespace = "openstack_capacity_exporter"

// Collector polls one OpenStack API.
type Collector interface {
	// Update polls with the configuration in force and sends the metrics
	// describing what it found. It returns an error when the poll failed;
	// metrics it sent before failing (its own _up 0, say) are still served.
	Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error
}

// Deps is what a collector factory may use.
type Deps struct {
	Logger  log.Logger
	Session *openstack.Session
	// Model is the cloud's picture the collectors share; New makes one
	// per call (per cloud) when it is nil.
	Model *Model
}

// Schedule is how often a collector polls and how long one poll may take.
type Schedule struct {
	Interval, Timeout time.Duration
}

type registration struct {
	enabledByDefault bool
	factory          func(Deps) (Collector, error)
	schedule         func(*Config) Schedule
}

var registry = map[string]registration{}

// registerCollector is called from each collector's init.
func registerCollector(name string, enabledByDefault bool, factory func(Deps) (Collector, error), schedule func(*Config) Schedule) {
	registry[name] = registration{enabledByDefault, factory, schedule}
}

// Names lists the registered collectors, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// EnabledByDefault reports a collector's default for its --collector flag.
func EnabledByDefault(name string) bool { return registry[name].enabledByDefault }

// New builds the named collectors.
func New(names []string, deps Deps) (map[string]Collector, error) {
	out := map[string]Collector{}
	if slices.Contains(names, "capacity") && !slices.Contains(names, "placement") {
		return nil, errors.New("the capacity collector counts from the placement collector's data: enable --collector.placement too")
	}
	if slices.Contains(names, "drift") && !(slices.Contains(names, "nova") && slices.Contains(names, "placement")) {
		return nil, errDriftWithoutNova
	}
	if deps.Model == nil {
		deps.Model = NewModel()
	}
	deps.Model.novaPolled.Store(slices.Contains(names, "nova"))
	for _, name := range names {
		reg, ok := registry[name]
		if !ok {
			return nil, fmt.Errorf("unknown collector %q", name)
		}
		c, err := reg.factory(Deps{Logger: log.With(deps.Logger, "collector", name), Session: deps.Session, Model: deps.Model})
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}
