package collector

import (
	"sort"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// missingPools remembers the pools a scheduler listed, so that a pool that
// drops out of the list (its back end died, its service was stopped and the
// scheduler noticed) is exported as missing, with the time it was first found
// gone, rather than its series just ending: a dashboard shows an ended series
// as "nothing", which reads like "fine".
//
// It is shared by the collectors of the services with scheduler pools
// (Manila, Cinder). A collector owns one, built by newMissingPools, and on
// each successful poll of its complete pool list calls
//
//	m.observe(view, retention, tuples) // tuples: each listed pool's label values
//	m.collect(ch)                      // one series per missing pool
//
// and on a failed poll neither: a poll that got no list says nothing about
// which pools exist, and the collector then exports no pool series at all.
// Only the complete list counts (the collector's scope applied, no query
// filter): a pool outside a query's filter is not missing.
//
// The memory lives in the process only: a restart forgets what was seen, so
// a pool that vanished while the exporter was down is never reported.
//
// Not safe for concurrent use: call it from the poll's goroutine (a
// collector never runs two polls at once).
type missingPools struct {
	logger log.Logger
	desc   *prometheus.Desc
	now    func() time.Time // tests set a fake clock
	view   string
	pools  map[string]*rememberedPool // by label values joined with \x00
}

type rememberedPool struct {
	labels       []string
	lastSeen     time.Time // the last successful poll that listed it
	missingSince time.Time // the first successful poll that lacked it; zero while listed
}

// newMissingPools builds the memory of one service's pools and the family
// openstack_<service>_pool_missing_since_timestamp_seconds with the given
// label names; observe takes each pool's values in that order, and the
// first (the pool's name) identifies it in the log.
func newMissingPools(logger log.Logger, service string, labels []string) *missingPools {
	return &missingPools{
		logger: logger,
		desc: prometheus.NewDesc("openstack_"+service+"_pool_missing_since_timestamp_seconds",
			"Unix time of the first successful poll whose complete pool list lacked this pool, which an earlier poll within "+service+
				".missing_pools_retention listed; absent while the pool is listed. The exporter's memory: a restart forgets.",
			labels, nil),
		now:   time.Now,
		pools: map[string]*rememberedPool{},
	}
}

// observe records one successful poll's complete pool list.
//
// view names what the list covers (the endpoint and the collector's scope):
// when it differs from the previous poll's, the memory starts over, since
// a pool outside a new scope is not missing. A reload that keeps the view
// keeps the memory.
//
// retention is how long after it was last listed a pool is remembered
// (and reported missing); 0 disables the mechanism and forgets everything.
func (m *missingPools) observe(view string, retention time.Duration, listed [][]string) {
	if retention <= 0 {
		m.view, m.pools = "", map[string]*rememberedPool{}
		return
	}
	if view != m.view {
		if len(m.pools) > 0 {
			level.Info(m.logger).Log("msg", "the pool list covers something else now (endpoint or scope changed); forgetting the pools seen before", "pools_forgotten", len(m.pools))
		}
		m.view, m.pools = view, map[string]*rememberedPool{}
	}
	now := m.now()
	present := make(map[string]bool, len(listed))
	for _, labels := range listed {
		key := strings.Join(labels, "\x00")
		present[key] = true
		p := m.pools[key]
		if p == nil {
			m.pools[key] = &rememberedPool{labels: labels, lastSeen: now}
			continue
		}
		if !p.missingSince.IsZero() {
			level.Info(m.logger).Log("msg", "a missing pool is listed again", "pool", labels[0], "missing_for", now.Sub(p.missingSince))
		}
		p.lastSeen, p.missingSince = now, time.Time{}
	}
	for key, p := range m.pools {
		if present[key] {
			continue
		}
		if now.Sub(p.lastSeen) > retention {
			level.Info(m.logger).Log("msg", "forgetting a missing pool: last listed longer ago than the retention", "pool", p.labels[0], "last_seen", p.lastSeen.UTC().Format(time.RFC3339))
			delete(m.pools, key)
			continue
		}
		if p.missingSince.IsZero() {
			p.missingSince = now
			level.Warn(m.logger).Log("msg", "a pool is no longer listed", "pool", p.labels[0], "last_seen", p.lastSeen.UTC().Format(time.RFC3339))
		}
	}
}

// collect sends the missing pools, sorted by their labels.
func (m *missingPools) collect(ch chan<- prometheus.Metric) {
	keys := make([]string, 0, len(m.pools))
	for key, p := range m.pools {
		if !p.missingSince.IsZero() {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		p := m.pools[key]
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(p.missingSince.UnixNano())/1e9, p.labels...)
	}
}

// defaultMissingPoolsRetention is how long a vanished pool is reported:
// long enough to survive a night without anyone looking.
const defaultMissingPoolsRetention = Duration(24 * time.Hour)

// validateMissingPoolsRetention checks a section's missing_pools_retention:
// 0s (off) or at least twice the section's interval. A shorter one forgets
// a vanished pool before the next poll can find it gone (polls drift by
// their duration, so one interval is not enough).
func validateMissingPoolsRetention(path string, retention, interval Duration) error {
	if retention != 0 && retention < 2*interval {
		return errorAt(path+".missing_pools_retention", "must be 0s (off) or at least twice %s.interval (%s), else a vanished pool is forgotten before a poll can report it (got %s)",
			path, time.Duration(2*interval), time.Duration(retention))
	}
	return nil
}
