package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func init() {
	registerCollector("cinder", false, newCinderCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Cinder.Interval), Timeout: time.Duration(c.Cinder.Timeout)}
	})
}

// Microversions of the Cinder API the collector understands (Zed offers
// 3.0-3.70).
var (
	cinderOldest = openstack.MustMicroversion("3.0")
	cinderNewest = openstack.MustMicroversion("3.70")
)

// errCinderRejected marks a request Cinder refused as malformed (400).
var errCinderRejected = errors.New("rejected by Cinder")

var (
	cinderUpDesc   = prometheus.NewDesc("openstack_cinder_up", "1 if the last poll of the Cinder scheduler-stats pools succeeded, 0 if not.", nil, nil)
	cinderVersDesc = prometheus.NewDesc("openstack_cinder_api_version_info",
		"Microversion range the Cinder API offers, and the microversion the exporter uses.", []string{"min_version", "max_version", "version"}, nil)
	cinderPoolsDesc = prometheus.NewDesc("openstack_cinder_pools",
		"Storage pools the Cinder scheduler knows, per volume host and back end.", []string{"host", "backend"}, nil)
	cinderPoolInfoDesc = prometheus.NewDesc("openstack_cinder_pool_info",
		"A storage pool and what its driver reports about itself (empty labels when not reported).",
		[]string{"name", "host", "backend", "pool", "volume_backend_name", "storage_protocol", "vendor_name", "driver_version", "thin_provisioning", "thick_provisioning"}, nil)
	cinderBackendUpDesc = prometheus.NewDesc("openstack_cinder_pool_backend_up",
		"1 if the pool's driver reports its back end's state as up, 0 for any other state (absent when the driver reports none).", poolLabels, nil)
	cinderTotalDesc = prometheus.NewDesc("openstack_cinder_pool_capacity_total_bytes",
		"Total capacity the pool's driver reports; +Inf for \"infinite\", absent for \"unknown\".", poolLabels, nil)
	cinderFreeDesc = prometheus.NewDesc("openstack_cinder_pool_capacity_free_bytes",
		"Free capacity the pool's driver reports; +Inf for \"infinite\", absent for \"unknown\".", poolLabels, nil)
	cinderAllocatedDesc = prometheus.NewDesc("openstack_cinder_pool_capacity_allocated_bytes",
		"Capacity of the volumes Cinder placed on the pool, as the volume service reports it (absent when it does not).", poolLabels, nil)
	cinderProvisionedDesc = prometheus.NewDesc("openstack_cinder_pool_capacity_provisioned_bytes",
		"Apparent capacity of all volumes on the pool (thin provisioning), as the driver reports it (absent when it does not; the scheduler then uses the allocated capacity).", poolLabels, nil)
	cinderVirtualFreeDesc = prometheus.NewDesc("openstack_cinder_pool_capacity_virtual_free_bytes",
		"Largest volume the scheduler's capacity filter accepts on the pool for a volume type without provisioning:type thick, computed from the reported capabilities as Cinder's calculate_virtual_free_capacity does; +Inf when the filter accepts any size, 0 when none.", poolLabels, nil)
	cinderOversubDesc = prometheus.NewDesc("openstack_cinder_pool_max_over_subscription_ratio",
		"Over-subscription ratio the scheduler applies to the pool, resolved as Cinder does (auto computed from provisioned and used capacity; 1 for a pool without thin provisioning).", poolLabels, nil)
	cinderReservedDesc = prometheus.NewDesc("openstack_cinder_pool_reserved_ratio",
		"Share of the pool's total capacity the scheduler keeps free: reserved_percentage / 100.", poolLabels, nil)
	cinderTimestampDesc = prometheus.NewDesc("openstack_cinder_pool_capabilities_timestamp_seconds",
		"Unix time the volume service last reported the pool's capabilities; Cinder's API answers from the scheduler's memory, so this tells how old the numbers are.", poolLabels, nil)
	cinderQueryPoolsDesc = prometheus.NewDesc("openstack_cinder_query_pools",
		"Pools the configured Cinder query matched in its last successful run.", []string{"query"}, nil)
	cinderQuerySuccessDesc = prometheus.NewDesc("openstack_cinder_query_success",
		"1 if the configured Cinder query's last run succeeded, 0 if it failed or the server cannot run it.", []string{"query"}, nil)
	cinderTypePoolsDesc = prometheus.NewDesc("openstack_cinder_volume_type_pools",
		"Pools whose capabilities satisfy the volume type's extra specs, as Cinder's CapabilitiesFilter judges them (capacity aside: see openstack_cinder_pool_capacity_virtual_free_bytes).", []string{"volume_type"}, nil)
	cinderTypePoolInfoDesc = prometheus.NewDesc("openstack_cinder_volume_type_pool_info",
		"1 for each pool whose capabilities satisfy the volume type's extra specs.", []string{"volume_type", "name"}, nil)
	cinderInconsistenciesDesc = prometheus.NewDesc("openstack_cinder_inconsistencies_total",
		"Cinder data the exporter refused or repaired, counted on every poll it is seen: unparsable_value (a pool capability that should be a number or timestamp but is neither, nor \"infinite\" or \"unknown\"; not exported, nor what depends on it), duplicate_pool (a pool name listed again; the first entry is kept).",
		[]string{"reason"}, nil)
)

// cinderCollector reads Cinder's scheduler-stats pools: one request for the
// detailed list, one per query, and with volume_types the type list, every
// poll. Nothing is cached: Cinder answers from
// the scheduler's memory already.
type cinderCollector struct {
	logger  log.Logger
	session *openstack.Session

	apiVersions
	// queryErrors, typeErrors: a query or volume type failing the same way
	// is logged once.
	queryErrors, typeErrors map[string]string
	inconsistent            *inconsistencies
	missing                 *missingPools
}

func newCinderCollector(deps Deps) (Collector, error) {
	return &cinderCollector{logger: deps.Logger, session: deps.Session, queryErrors: map[string]string{}, typeErrors: map[string]string{},
		inconsistent: newInconsistencies(cinderInconsistenciesDesc, reasonUnparsableValue, reasonDuplicatePool),
		missing:      newMissingPools(deps.Logger, "cinder", poolLabels)}, nil
}

func cinderOp(name string) openstack.Operation {
	return openstack.Operation{Service: "cinder", Name: name}
}

// cinderPool is one entry of get_pools; capabilities only with detail.
type cinderPool struct {
	Name         string       `json:"name"`
	Capabilities capabilities `json:"capabilities"`
}

// id splits the pool's name, host@backend#pool, as Cinder builds it
// (volume_utils.append_host): Cinder's list gives only the name.
func (p *cinderPool) id() poolID {
	hostBackend, pool, _ := strings.Cut(p.Name, "#")
	host, backend, _ := strings.Cut(hostBackend, "@")
	return poolID{Name: p.Name, Host: host, Backend: backend, Pool: pool}
}

func (c *cinderCollector) discover(ctx context.Context, sc *gophercloud.ServiceClient, root string) error {
	return c.apiVersions.discover(ctx, c.logger, sc, cinderOp("discover_version"), root, "v3", cinderOldest, cinderNewest, "Cinder", "block_storage_endpoint_override")
}

// CheckConfig validates the filters against the server once known.
func (c *cinderCollector) CheckConfig(cfg *Config) error {
	version, ok := c.known()
	if !ok {
		return nil
	}
	return cfg.Cinder.CheckServer(version)
}

func (c *cinderCollector) headers() map[string]string {
	return map[string]string{"OpenStack-API-Version": "volume " + c.version.String()}
}

// get reads one Cinder resource, turning its failures into errors that say
// what to do.
func (c *cinderCollector) get(ctx context.Context, sc *gophercloud.ServiceClient, operation, target string, out any) error {
	err := openstack.Get(ctx, sc, cinderOp(operation), target, c.headers(), out)
	switch {
	case err == nil:
		return nil
	case openstack.StatusCode(err) == http.StatusNoContent:
		return errors.New("Cinder answered 204 No Content: it received no token (with auth_strategy noauth, send user:project as the token)")
	case openstack.StatusCode(err) == http.StatusBadRequest:
		// The request itself is wrong (an unknown volume type, say):
		// nothing a new discovery would change.
		return fmt.Errorf("%w: %s", errCinderRejected, openstack.Describe(err))
	}
	return errors.New(openstack.Describe(err))
}

func (c *cinderCollector) listPools(ctx context.Context, sc *gophercloud.ServiceClient, base string, detail bool, filter url.Values, operation string) ([]cinderPool, error) {
	q := url.Values{}
	for k, v := range filter {
		q[k] = v
	}
	if detail {
		q.Set("detail", "true")
	}
	target := base + "scheduler-stats/get_pools"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body struct {
		Pools *[]cinderPool `json:"pools"`
	}
	if err := c.get(ctx, sc, operation, target, &body); err != nil {
		return nil, err
	}
	if body.Pools == nil {
		return nil, errors.New("GET scheduler-stats/get_pools: the response has no pools list")
	}
	return *body.Pools, nil
}

// Update polls Cinder once. A failing query does not fail the poll (it has
// its own success metric); failing volume types do, after everything else
// was sent, so that collector_success says the type metrics are
// incomplete.
func (c *cinderCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	ccfg := &cfg.Cinder
	var root, base string
	sc, err := c.session.ServiceClient(ctx, "block-storage", "volumev3")
	if err == nil {
		root, base, err = openstack.SplitEndpoint(sc.Endpoint, "v3", c.session.ProjectID())
		if err != nil {
			err = fmt.Errorf("cinder %w", err)
		}
	}
	if err == nil && c.server == nil {
		err = c.discover(ctx, sc, root)
	}
	var pools []cinderPool
	if err == nil {
		pools, err = c.listPools(ctx, sc, base, true, nil, "list_pools_detail")
		if err != nil {
			if !errors.Is(err, errCinderRejected) {
				c.forget()
			}
			err = fmt.Errorf("listing pools: %w", err)
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(cinderUpDesc, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(cinderUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(cinderVersDesc, prometheus.GaugeValue, 1, c.server.Min.String(), c.server.Max.String(), c.version.String())
	unique := uniquePools(pools, (*cinderPool).id, c.inconsistent, c.logger, "Cinder")
	ids := c.emitPools(unique, string(ccfg.MaxOverSubscriptionRatio), ch)
	listed := make([][]string, len(ids))
	for i, id := range ids {
		listed[i] = id.labels()
	}
	c.missing.observe(base, time.Duration(ccfg.MissingPoolsRetention), listed)
	c.missing.collect(ch)
	c.runQueries(ctx, sc, base, ccfg.Queries, ch)
	typesErr := c.volumeTypePools(ctx, sc, base, ccfg.VolumeTypes, unique, ch)
	c.inconsistent.finish(ch)
	return typesErr
}

func (c *cinderCollector) runQueries(ctx context.Context, sc *gophercloud.ServiceClient, base string, queries CinderQueries, ch chan<- prometheus.Metric) {
	run := make([]poolQuery, len(queries))
	for i, q := range queries {
		run[i] = poolQuery{name: q.Name, filter: q.Filter.String(),
			check: func() error { return q.Filter.checkServer("cinder.queries."+q.Name, c.version) },
			count: func(ctx context.Context) (int, error) {
				pools, err := c.listPools(ctx, sc, base, false, q.Filter.values(), "query_pools")
				return len(pools), err
			}}
	}
	c.queryErrors = runPoolQueries(ctx, c.logger, c.queryErrors, run, cinderQuerySuccessDesc, cinderQueryPoolsDesc, ch)
}

// volumeTypes lists every volume type, public and private (is_public=None
// is Cinder's "both" for an admin), with its extra specs, following the
// pages by marker.
func (c *cinderCollector) volumeTypes(ctx context.Context, sc *gophercloud.ServiceClient, base string) ([]cinderVolumeType, error) {
	var types []cinderVolumeType
	seen := map[string]bool{}
	marker := ""
	for {
		q := url.Values{"is_public": {"None"}, "sort_key": {"id"}, "sort_dir": {"asc"}}
		if marker != "" {
			q.Set("marker", marker)
		}
		var body struct {
			Types *[]cinderVolumeType `json:"volume_types"`
		}
		if err := c.get(ctx, sc, "list_volume_types", base+"types?"+q.Encode(), &body); err != nil {
			return nil, err
		}
		if body.Types == nil {
			return nil, errors.New("GET types: the response has no volume_types list")
		}
		// The page size is the server's osapi_max_limit, which the
		// exporter cannot know: read on until a page brings nothing new.
		added := 0
		for _, t := range *body.Types {
			if t.ID == "" || seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			types = append(types, t)
			marker = t.ID
			added++
		}
		if added == 0 {
			return types, nil
		}
	}
}

// volumeTypePools sends, for each selected volume type, the pools whose
// capabilities satisfy its extra specs (see cinder_types.go), by type
// name. A type of the list that Cinder does not know fails the poll's
// success, after the others were sent.
func (c *cinderCollector) volumeTypePools(ctx context.Context, sc *gophercloud.ServiceClient, base string, sel VolumeTypeSelection, pools []cinderPool, ch chan<- prometheus.Metric) error {
	if sel.empty() {
		return nil
	}
	all, err := c.volumeTypes(ctx, sc, base)
	var chosen []cinderVolumeType
	var unknown []string
	if err == nil {
		if sel.All {
			chosen = all
		}
		for _, want := range sel.Names {
			i := slices.IndexFunc(all, func(t cinderVolumeType) bool { return t.Name == want || t.ID == want })
			if i < 0 {
				unknown = append(unknown, want)
				continue
			}
			if !slices.ContainsFunc(chosen, func(t cinderVolumeType) bool { return t.ID == all[i].ID }) {
				chosen = append(chosen, all[i]) // a type given by name and by id counts once
			}
		}
		if len(unknown) > 0 {
			err = fmt.Errorf("cinder.volume_types: Cinder has no volume type %s (by name or id)", strings.Join(unknown, ", "))
		}
	} else {
		err = fmt.Errorf("listing volume types: %w", err)
	}
	c.typeErrors = logQueryOutcomes(c.logger, c.typeErrors, []queryOutcome{{"volume_types", "", err}})
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].Name < chosen[j].Name })
	members := make([][]string, len(chosen))
	for i, t := range chosen {
		for _, p := range pools {
			if cinderPoolSatisfies(p.Capabilities, t.ExtraSpecs) {
				members[i] = append(members[i], p.Name)
			}
		}
		sort.Strings(members[i])
	}
	for i, t := range chosen {
		ch <- prometheus.MustNewConstMetric(cinderTypePoolsDesc, prometheus.GaugeValue, float64(len(members[i])), t.Name)
	}
	for i, t := range chosen {
		for _, name := range members[i] {
			ch <- prometheus.MustNewConstMetric(cinderTypePoolInfoDesc, prometheus.GaugeValue, 1, t.Name, name)
		}
	}
	return err
}

// emitPools sends the pool families, each family whole before the next
// (see snapshotEncoder), and returns their identities.
func (c *cinderCollector) emitPools(unique []cinderPool, schedulerRatio string, ch chan<- prometheus.Metric) []poolID {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	ids := make([]poolID, len(unique))
	for i := range unique {
		ids[i] = unique[i].id()
	}
	// A field is counted once per pool and poll, however many families
	// it spoils.
	noted := map[string]bool{}
	unparsable := func(i int, field string, err error) {
		if noted[ids[i].Name+"\x00"+field] {
			return
		}
		noted[ids[i].Name+"\x00"+field] = true
		c.inconsistent.note(c.logger, reasonUnparsableValue, ids[i].Name+"\x00"+field,
			"msg", "Cinder reported a pool capability the exporter cannot read; it is not exported", "pool", ids[i].Name, "field", field,
			"value", openstack.Truncate(string(unique[i].Capabilities[field]), 300), "err", err)
	}
	for i, p := range unique {
		caps := p.Capabilities
		gauge(cinderPoolInfoDesc, 1, append(ids[i].labels(), caps.text("volume_backend_name"), caps.text("storage_protocol"), caps.text("vendor_name"),
			caps.text("driver_version"), caps.text("thin_provisioning_support"), caps.text("thick_provisioning_support"))...)
	}
	for i, p := range unique {
		if raw, ok := p.Capabilities["backend_state"]; ok && string(raw) != "null" {
			gauge(cinderBackendUpDesc, boolToFloat(p.Capabilities.text("backend_state") == "up"), ids[i].labels()...)
		}
	}
	for _, m := range []struct {
		desc  *prometheus.Desc
		key   string
		scale float64
	}{
		{cinderTotalDesc, "total_capacity_gb", gib},
		{cinderFreeDesc, "free_capacity_gb", gib},
		{cinderAllocatedDesc, "allocated_capacity_gb", gib},
		{cinderProvisionedDesc, "provisioned_capacity_gb", gib},
	} {
		for i, p := range unique {
			v, ok, err := p.Capabilities.number(m.key)
			if err != nil {
				unparsable(i, m.key, err)
			}
			if ok {
				gauge(m.desc, v*m.scale, ids[i].labels()...)
			}
		}
	}
	// What the scheduler makes of the capabilities: a pool whose values
	// Cinder could not use itself gets neither ratio nor virtual free.
	type derived struct {
		ratio, virtualFree float64
		ok, freeOK         bool
	}
	computed := make([]derived, len(unique))
	for i, p := range unique {
		capacity, err := cinderCapacityOf(p.Capabilities)
		var fieldErr *capabilityError
		if errors.As(err, &fieldErr) {
			unparsable(i, fieldErr.field, fieldErr.err)
		}
		if err != nil {
			continue
		}
		ratio, err := capacity.resolvedOverSubscription(schedulerRatio)
		if errors.Is(err, errNotComputable) {
			continue
		}
		if err != nil {
			unparsable(i, "max_over_subscription_ratio", err)
			continue
		}
		vf, ok := capacity.virtualFree(ratio)
		computed[i] = derived{ratio: ratio, virtualFree: vf, ok: true, freeOK: ok}
	}
	for i, d := range computed {
		if d.ok && d.freeOK {
			gauge(cinderVirtualFreeDesc, d.virtualFree*gib, ids[i].labels()...)
		}
	}
	for i, d := range computed {
		if d.ok {
			gauge(cinderOversubDesc, d.ratio, ids[i].labels()...)
		}
	}
	for i, p := range unique {
		v, ok, err := p.Capabilities.number("reserved_percentage")
		if err != nil {
			unparsable(i, "reserved_percentage", err)
		}
		if ok {
			gauge(cinderReservedDesc, v/100, ids[i].labels()...)
		}
	}
	for i, p := range unique {
		v, ok, err := p.Capabilities.timestamp("timestamp")
		if err != nil {
			unparsable(i, "timestamp", err)
		}
		if ok {
			gauge(cinderTimestampDesc, v, ids[i].labels()...)
		}
	}
	emitPoolCounts(cinderPoolsDesc, ids, ch)
	return ids
}
