package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func init() {
	registerCollector("manila", false, newManilaCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Manila.Interval), Timeout: time.Duration(c.Manila.Timeout)}
	})
}

// Microversions of the Manila API the collector understands.
var (
	manilaOldest = openstack.MustMicroversion("2.0")
	manilaNewest = openstack.MustMicroversion("2.73")
)

// errRejected marks a request Manila refused as malformed (400).
var errRejected = errors.New("rejected by Manila")

var (
	manilaUpDesc   = prometheus.NewDesc("openstack_manila_up", "1 if the last poll of the Manila scheduler-stats pools succeeded, 0 if not.", nil, nil)
	manilaVersDesc = prometheus.NewDesc("openstack_manila_api_version_info",
		"Microversion range the Manila API offers, and the microversion the exporter uses.", []string{"min_version", "max_version", "version"}, nil)
	manilaPoolsDesc = prometheus.NewDesc("openstack_manila_pools",
		"Storage pools the Manila scheduler knows (within the configured scope), per share host and back end.", []string{"host", "backend"}, nil)
	manilaPoolInfoDesc = prometheus.NewDesc("openstack_manila_pool_info",
		"A storage pool and what its driver reports about itself (empty labels when not reported, or without detail).",
		[]string{"name", "host", "backend", "pool", "share_backend_name", "storage_protocol", "vendor_name", "driver_version", "driver_handles_share_servers", "thin_provisioning"}, nil)
	manilaTotalDesc = prometheus.NewDesc("openstack_manila_pool_capacity_total_bytes",
		"Total capacity the pool's driver reports; +Inf for \"infinite\", absent for \"unknown\".", poolLabels, nil)
	manilaFreeDesc = prometheus.NewDesc("openstack_manila_pool_capacity_free_bytes",
		"Free capacity the pool's driver reports; +Inf for \"infinite\", absent for \"unknown\".", poolLabels, nil)
	manilaAllocatedDesc = prometheus.NewDesc("openstack_manila_pool_capacity_allocated_bytes",
		"Capacity allocated to shares, as the driver reports it (absent when it does not).", poolLabels, nil)
	manilaProvisionedDesc = prometheus.NewDesc("openstack_manila_pool_capacity_provisioned_bytes",
		"Capacity provisioned to shares (thin provisioning), as the driver reports it (absent when it does not).", poolLabels, nil)
	manilaOversubDesc = prometheus.NewDesc("openstack_manila_pool_max_over_subscription_ratio",
		"Highest provisioned/total ratio the scheduler allows for a thin-provisioned pool (when reported).", poolLabels, nil)
	manilaReservedDesc = prometheus.NewDesc("openstack_manila_pool_reserved_ratio",
		"Share of the pool's capacity kept free for new shares: reserved_percentage / 100.", poolLabels, nil)
	manilaReservedSnapshotDesc = prometheus.NewDesc("openstack_manila_pool_reserved_snapshot_ratio",
		"Share of the pool's capacity kept free for snapshots: reserved_snapshot_percentage / 100.", poolLabels, nil)
	manilaReservedExtendDesc = prometheus.NewDesc("openstack_manila_pool_reserved_share_extend_ratio",
		"Share of the pool's capacity kept free for extending shares: reserved_share_extend_percentage / 100.", poolLabels, nil)
	manilaTimestampDesc = prometheus.NewDesc("openstack_manila_pool_capabilities_timestamp_seconds",
		"Unix time the share service last reported the pool's capabilities; Manila's API answers from the scheduler's cache, so this tells how old the numbers are.", poolLabels, nil)
	manilaQueryPoolsDesc = prometheus.NewDesc("openstack_manila_query_pools",
		"Pools the configured Manila query matched in its last successful run.", []string{"query"}, nil)
	manilaQuerySuccessDesc = prometheus.NewDesc("openstack_manila_query_success",
		"1 if the configured Manila query's last run succeeded, 0 if it failed or the server cannot run it.", []string{"query"}, nil)
	manilaInconsistenciesDesc = prometheus.NewDesc("openstack_manila_inconsistencies_total",
		"Manila data the exporter refused or repaired, counted on every poll it is seen: unparsable_value (a pool capability that should be a number or timestamp but is neither, nor \"infinite\" or \"unknown\"; not exported), duplicate_pool (a pool name listed again; the first entry is kept).",
		[]string{"reason"}, nil)
)

// manilaCollector reads Manila's scheduler-stats pools: one request for the
// (scoped) list and one per configured query, every poll. Nothing is cached:
// Manila answers from the scheduler's own cache already.
type manilaCollector struct {
	logger  log.Logger
	session *openstack.Session

	apiVersions
	// queryErrors: a query failing the same way is logged once.
	queryErrors  map[string]string
	inconsistent *inconsistencies
	missing      *missingPools
}

func newManilaCollector(deps Deps) (Collector, error) {
	return &manilaCollector{logger: deps.Logger, session: deps.Session, queryErrors: map[string]string{},
		inconsistent: newInconsistencies(manilaInconsistenciesDesc, reasonUnparsableValue, reasonDuplicatePool),
		missing:      newMissingPools(deps.Logger, "manila", poolLabels)}, nil
}

func manilaOp(name string) openstack.Operation {
	return openstack.Operation{Service: "manila", Name: name}
}

// manilaPool is one entry of the pools list; capabilities only with detail.
type manilaPool struct {
	poolID
	Capabilities map[string]json.RawMessage `json:"capabilities"`
}

// endpoints splits the service endpoint into the server root (for version
// discovery) and the v2 base the pools live under. Without a project in the
// URL the token's is used (Keystone's project, or the project part of a
// noauth "user:project" token); Manila also answers without one.
func (c *manilaCollector) endpoints(sc *gophercloud.ServiceClient) (root, base string, err error) {
	root, base, err = openstack.SplitEndpoint(sc.Endpoint, "v2", c.session.ProjectID())
	if err != nil {
		return "", "", fmt.Errorf("manila %w", err)
	}
	return root, base, nil
}

func (c *manilaCollector) discover(ctx context.Context, sc *gophercloud.ServiceClient, root string) error {
	return c.apiVersions.discover(ctx, c.logger, sc, manilaOp("discover_version"), root, "v2", manilaOldest, manilaNewest, "Manila", "shared_file_system_endpoint_override")
}

// CheckConfig validates share_type filters against the server once known.
func (c *manilaCollector) CheckConfig(cfg *Config) error {
	version, ok := c.known()
	if !ok {
		return nil
	}
	return cfg.Manila.CheckServer(version)
}

func (c *manilaCollector) listPools(ctx context.Context, sc *gophercloud.ServiceClient, base string, detail bool, filter *ManilaFilter, operation string) ([]manilaPool, error) {
	target := base + "scheduler-stats/pools"
	if detail {
		target += "/detail"
	}
	if filter != nil {
		if q := filter.values().Encode(); q != "" {
			target += "?" + q
		}
	}
	var body struct {
		Pools *[]manilaPool `json:"pools"`
	}
	headers := map[string]string{"X-OpenStack-Manila-API-Version": c.version.String()}
	if err := openstack.Get(ctx, sc, manilaOp(operation), target, headers, &body); err != nil {
		if openstack.StatusCode(err) == http.StatusNoContent {
			return nil, errors.New("Manila answered 204 No Content: it received no valid token (with auth_strategy noauth, the token must be user:project)")
		}
		if openstack.StatusCode(err) == http.StatusBadRequest {
			// The request itself is wrong (an unknown share type, say):
			// nothing a new discovery would change.
			return nil, fmt.Errorf("%w: %s", errRejected, openstack.Describe(err))
		}
		return nil, errors.New(openstack.Describe(err))
	}
	if body.Pools == nil {
		return nil, errors.New("GET scheduler-stats/pools: the response has no pools list")
	}
	return *body.Pools, nil
}

// Update polls Manila once.
func (c *manilaCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	mcfg := &cfg.Manila
	var root, base string
	sc, err := c.session.ServiceClient(ctx, "shared-file-system", "sharev2")
	if err == nil {
		root, base, err = c.endpoints(sc)
	}
	if err == nil && c.server == nil {
		err = c.discover(ctx, sc, root)
	}
	if err == nil && mcfg.Scope != nil {
		err = mcfg.Scope.checkServer("manila.scope", c.version)
	}
	var pools []manilaPool
	if err == nil {
		operation := "list_pools"
		if mcfg.Detail {
			operation = "list_pools_detail"
		}
		pools, err = c.listPools(ctx, sc, base, mcfg.Detail, mcfg.Scope, operation)
		if err != nil {
			if !errors.Is(err, errRejected) {
				c.forget()
			}
			err = fmt.Errorf("listing pools: %w", err)
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(manilaUpDesc, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(manilaUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(manilaVersDesc, prometheus.GaugeValue, 1, c.server.Min.String(), c.server.Max.String(), c.version.String())
	listed := c.emitPools(pools, ch)
	// The scoped list is the complete one; the queries' lists never count.
	view := base
	if mcfg.Scope != nil {
		view += "?" + mcfg.Scope.String()
	}
	c.missing.observe(view, time.Duration(mcfg.MissingPoolsRetention), listed)
	c.missing.collect(ch)
	c.runQueries(ctx, sc, base, mcfg.Queries, ch)
	c.inconsistent.finish(ch)
	return nil
}

func (c *manilaCollector) runQueries(ctx context.Context, sc *gophercloud.ServiceClient, base string, queries ManilaQueries, ch chan<- prometheus.Metric) {
	run := make([]poolQuery, len(queries))
	for i, q := range queries {
		run[i] = poolQuery{name: q.Name, filter: q.Filter.String(),
			check: func() error { return q.Filter.checkServer("manila.queries."+q.Name, c.version) },
			count: func(ctx context.Context) (int, error) {
				pools, err := c.listPools(ctx, sc, base, false, &q.Filter, "query_pools")
				return len(pools), err
			}}
	}
	c.queryErrors = runPoolQueries(ctx, c.logger, c.queryErrors, run, manilaQuerySuccessDesc, manilaQueryPoolsDesc, ch)
}

// emitPools sends the pool families, each family whole before the next
// (see snapshotEncoder), and returns the label values of the pools listed.
func (c *manilaCollector) emitPools(pools []manilaPool, ch chan<- prometheus.Metric) [][]string {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	unique := uniquePools(pools, func(p *manilaPool) poolID { return p.poolID }, c.inconsistent, c.logger, "Manila")
	for _, p := range unique {
		caps := capabilities(p.Capabilities)
		gauge(manilaPoolInfoDesc, 1, p.Name, p.Host, p.Backend, p.Pool,
			caps.text("share_backend_name"), caps.text("storage_protocol"), caps.text("vendor_name"), caps.text("driver_version"),
			caps.text("driver_handles_share_servers"), caps.text("thin_provisioning"))
	}
	for _, m := range []struct {
		desc  *prometheus.Desc
		key   string
		scale float64
	}{
		{manilaTotalDesc, "total_capacity_gb", gib},
		{manilaFreeDesc, "free_capacity_gb", gib},
		{manilaAllocatedDesc, "allocated_capacity_gb", gib},
		{manilaProvisionedDesc, "provisioned_capacity_gb", gib},
		{manilaOversubDesc, "max_over_subscription_ratio", 1},
		{manilaReservedDesc, "reserved_percentage", 0.01},
		{manilaReservedSnapshotDesc, "reserved_snapshot_percentage", 0.01},
		{manilaReservedExtendDesc, "reserved_share_extend_percentage", 0.01},
		{manilaTimestampDesc, "timestamp", 1},
	} {
		for _, p := range unique {
			caps := capabilities(p.Capabilities)
			read := caps.number
			if m.key == "timestamp" {
				read = caps.timestamp
			}
			v, ok, err := read(m.key)
			if err != nil {
				c.inconsistent.note(c.logger, reasonUnparsableValue, p.Name+"\x00"+m.key,
					"msg", "Manila reported a pool capability the exporter cannot read; it is not exported", "pool", p.Name, "field", m.key, "value", openstack.Truncate(string(p.Capabilities[m.key]), 300), "err", err)
			}
			if ok {
				gauge(m.desc, v*m.scale, p.Name, p.Host, p.Backend, p.Pool)
			}
		}
	}
	ids := make([]poolID, len(unique))
	listed := make([][]string, len(unique))
	for i, p := range unique {
		ids[i] = p.poolID
		listed[i] = p.labels()
	}
	emitPoolCounts(manilaPoolsDesc, ids, ch)
	return listed
}
