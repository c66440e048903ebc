package collector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func init() {
	registerCollector("placement", true, newPlacementCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Placement.Interval), Timeout: time.Duration(c.Placement.Timeout)}
	})
}

// Microversions the Placement collector understands, and the ones that
// unlock features of the sub-resources it reads.
var (
	placementOldest     = openstack.MustMicroversion("1.0")
	placementNewest     = openstack.MustMicroversion("1.39")
	placementTreeFields = openstack.MustMicroversion("1.14")
	placementAggregates = openstack.MustMicroversion("1.1")
	placementTraits     = openstack.MustMicroversion("1.6")
	placementRequired   = openstack.MustMicroversion("1.18")
)

// The reasons of openstack_placement_inconsistencies_total.
const (
	reasonDuplicateUUID       = "duplicate_uuid"
	reasonMissingUUID         = "missing_uuid"
	reasonNegativeInventory   = "negative_inventory"
	reasonSubresourceNotFound = "subresource_not_found"
)

// placementCollector lists resource providers each poll and keeps their
// sub-resources cached, re-fetching one only when it can have changed.
type placementCollector struct {
	logger  log.Logger
	session *openstack.Session
	model   *Model // where each poll's picture goes, for derived collectors
	now     func() time.Time

	mu        sync.Mutex // guards server, which reloads read concurrently
	server    *openstack.VersionRange
	version   openstack.Microversion
	warnedOld bool
	cache     map[string]*providerCache
	// matchingTraits is how many traits matched traits_include at the last
	// GET /traits, and traitListEntries how many providers their lists
	// held; traitListRefused, that the server refused it (until the next
	// discovery).
	matchingTraits   int
	traitListEntries int
	traitListRefused bool
	// queryErrors remembers each failing query's last error, so a query
	// that keeps failing the same way is logged once, not every poll.
	queryErrors  map[string]string
	inconsistent *inconsistencies
}

func newPlacementCollector(deps Deps) (Collector, error) {
	return &placementCollector{
		logger:      deps.Logger,
		session:     deps.Session,
		model:       deps.Model,
		now:         time.Now,
		cache:       map[string]*providerCache{},
		queryErrors: map[string]string{},
		inconsistent: newInconsistencies(placementInconsistenciesDesc,
			reasonDuplicateUUID, reasonMissingUUID, reasonNegativeInventory, reasonSubresourceNotFound),
	}, nil
}

// resourceProvider is one entry of GET /resource_providers.
type resourceProvider struct {
	UUID       string  `json:"uuid"`
	Name       string  `json:"name"`
	Generation int64   `json:"generation"`
	Parent     *string `json:"parent_provider_uuid"`
	Root       *string `json:"root_provider_uuid"`
}

type inventory struct {
	Total           float64 `json:"total"`
	Reserved        float64 `json:"reserved"`
	MinUnit         float64 `json:"min_unit"`
	MaxUnit         float64 `json:"max_unit"`
	StepSize        float64 `json:"step_size"`
	AllocationRatio float64 `json:"allocation_ratio"` // float64: gophercloud's float32 turns 1.1 into 1.100000023841858
}

// cached is one sub-resource of one provider and what it was fetched at.
type cached[T any] struct {
	value      T
	generation int64
	fetched    time.Time
	valid      bool   // value holds data
	failed     bool   // the last re-fetch failed: value is the last known one
	refused    string // why the fetched value was refused (valid, value empty)
}

// stale reports whether the cached value can differ from the server's. A
// generation change always means it can; maxAge > 0 also bounds the age for
// sub-resources that can change without one, so that it never exceeds
// maxAge by the next poll (interval away). maxAge < 0 disables that bound.
func (c *cached[T]) stale(generation int64, now time.Time, maxAge, interval time.Duration) bool {
	if !c.valid || c.failed || c.generation != generation {
		return true
	}
	return maxAge >= 0 && now.Add(interval).Sub(c.fetched) > maxAge
}

type providerCache struct {
	inventories cached[[]classInventory]
	usages      cached[[]classUsage]
	traits      cached[[]string] // only those PlacementConfig.cachesTrait keeps
	aggregates  cached[[]string]
	// traitsFilter is the PlacementConfig.traitsKey the cached traits were
	// read for: only those it keeps are, so another one needs them read again.
	traitsFilter string

	notFoundNow atomic.Bool // a sub-resource answered 404 in this poll
	// notFound counts the polls in a row in which a sub-resource of the
	// (still listed) provider answered 404; the last at notFoundAt, when
	// the list gave notFoundGen.
	notFound    int
	notFoundAt  time.Time
	notFoundGen int64
}

// notFoundAgain reports a provider the server lists but whose sub-resources
// answered 404 on two polls in a row: no longer the race of a deletion
// between the list and the sub-resource requests.
func (e *providerCache) notFoundAgain() bool { return e.notFound >= 2 }

// retryDue reports whether the sub-resources of a provider that keeps
// answering 404 should be asked for again: when its generation moved, or
// when by the next poll maxAge would have passed since the last attempt (as
// for usages). Until then it costs no request.
func (e *providerCache) retryDue(generation int64, now time.Time, maxAge, interval time.Duration) bool {
	return !e.notFoundAgain() || generation != e.notFoundGen || now.Add(interval).Sub(e.notFoundAt) >= maxAge
}

// pending reports whether an enabled sub-resource has no data yet.
func (c *placementCollector) pending(pcfg *PlacementConfig, e *providerCache) bool {
	return pcfg.Metrics.Inventory && !e.inventories.valid ||
		pcfg.Metrics.Usage && !e.usages.valid ||
		pcfg.Metrics.Traits && !c.version.Less(placementTraits) && !e.traits.valid ||
		pcfg.Metrics.Aggregates && !c.version.Less(placementAggregates) && !e.aggregates.valid
}

type queryResult struct {
	ok      bool
	members []resourceProvider
}

func placementOp(name string) openstack.Operation {
	return openstack.Operation{Service: "placement", Name: name}
}

// discover reads the server's microversion range from the endpoint root.
func (c *placementCollector) discover(ctx context.Context, sc *gophercloud.ServiceClient) error {
	var root struct {
		Versions []struct {
			ID  string `json:"id"`
			Min string `json:"min_version"`
			Max string `json:"max_version"`
		} `json:"versions"`
	}
	if err := openstack.Get(ctx, sc, placementOp("discover_version"), sc.Endpoint, nil, &root); err != nil {
		return fmt.Errorf("discovering the Placement microversion: %s", openstack.Describe(err))
	}
	if len(root.Versions) == 0 {
		return errors.New("discovering the Placement microversion: the endpoint root lists no versions; is placement_endpoint_override the Placement root URL?")
	}
	v := root.Versions[0]
	min, err1 := openstack.ParseMicroversion(v.Min)
	max, err2 := openstack.ParseMicroversion(v.Max)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("discovering the Placement microversion: the endpoint root gives min_version %q, max_version %q", v.Min, v.Max)
	}
	r := openstack.VersionRange{Min: min, Max: max}
	chosen, err := r.Negotiate(placementOldest, placementNewest)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.server, c.version = &r, chosen
	c.mu.Unlock()
	c.traitListRefused = false
	level.Info(c.logger).Log("msg", "Placement microversions discovered", "min", min, "max", max, "using", chosen)
	if chosen.Less(placementTreeFields) && !c.warnedOld {
		c.warnedOld = true
		level.Warn(c.logger).Log("msg", "Placement is older than microversion 1.14: providers carry no parent or root, so no tree metrics are exported", "max", max)
	}
	return nil
}

// CheckConfig validates the queries against the microversion in use (the
// highest the server and the exporter share) once it is known; a reload
// that fails this is rejected.
func (c *placementCollector) CheckConfig(cfg *Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server == nil {
		return nil
	}
	return cfg.Placement.CheckServer(c.version)
}

func (c *placementCollector) headers() map[string]string {
	return map[string]string{"OpenStack-API-Version": "placement " + c.version.String()}
}

func (c *placementCollector) listProviders(ctx context.Context, sc *gophercloud.ServiceClient, filter *PlacementFilter, operation string) ([]resourceProvider, error) {
	url := sc.ServiceURL("resource_providers")
	if filter != nil {
		if q := filter.values().Encode(); q != "" {
			url += "?" + q
		}
	}
	providers, found, err := openstack.GetArray[resourceProvider](ctx, sc, placementOp(operation), url, c.headers(), "resource_providers")
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("GET %s: the response has no resource_providers list", url)
	}
	return providers, nil
}

// Update polls Placement once.
func (c *placementCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	pcfg := c.model.placementConfig(&cfg.Placement)
	sc, err := c.session.ServiceClient(ctx, "placement")
	if err == nil && c.server == nil {
		err = c.discover(ctx, sc)
	}
	if err == nil && pcfg.Scope != nil {
		err = pcfg.Scope.checkServer("placement.scope", c.version)
	}
	var providers []resourceProvider
	if err == nil {
		providers, err = c.listProviders(ctx, sc, pcfg.Scope, "list_resource_providers")
		if err != nil {
			if openstack.StatusCode(err) != http.StatusBadRequest {
				// Discover again next time: the server may have been
				// replaced, perhaps by an older one.
				c.mu.Lock()
				c.server = nil
				c.mu.Unlock()
			}
			err = fmt.Errorf("listing resource providers: %s", openstack.Describe(err))
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(placementUpDesc, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(placementUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(placementVersionDesc, prometheus.GaugeValue, 1,
		c.server.Min.String(), c.server.Max.String(), c.version.String())

	providers = c.sanitize(providers)
	queries, fetchErr := c.refresh(ctx, sc, pcfg, providers)
	c.publishView(pcfg, providers)
	c.emitProviders(pcfg, providers, ch)
	emitQueries(pcfg, queries, ch)
	c.inconsistent.finish(ch)
	return fetchErr
}

// sanitize drops the list entries no consistent series can be built from:
// one without a uuid, and the repeats of a uuid (the first entry is kept).
// A repeat would otherwise be counted, described and summed into its
// aggregates twice, and its sub-resources fetched twice at once.
func (c *placementCollector) sanitize(providers []resourceProvider) []resourceProvider {
	seen := make(map[string]bool, len(providers))
	out := make([]resourceProvider, 0, len(providers))
	for _, p := range providers {
		switch {
		case p.UUID == "":
			c.inconsistent.note(c.logger, reasonMissingUUID, p.Name,
				"msg", "Placement listed a resource provider without a uuid; it is not exported", "name", p.Name)
		case seen[p.UUID]:
			c.inconsistent.note(c.logger, reasonDuplicateUUID, p.UUID,
				"msg", "Placement listed a resource provider uuid more than once; only its first entry is exported", "uuid", p.UUID, "name", p.Name)
		default:
			seen[p.UUID] = true
			out = append(out, p)
		}
	}
	return out
}

// refresh re-fetches the stale sub-resources and runs the queries, with at
// most pcfg.Concurrency requests in flight.
func (c *placementCollector) refresh(ctx context.Context, sc *gophercloud.ServiceClient, pcfg *PlacementConfig, providers []resourceProvider) ([]queryResult, error) {
	now := c.now()
	interval := time.Duration(pcfg.Interval)
	usages := &agedRefresh[[]classUsage]{maxAge: time.Duration(pcfg.UsagesMaxAge), interval: interval}
	aggregates := &agedRefresh[[]string]{maxAge: time.Duration(pcfg.AggregatesMaxAge), interval: interval}
	if pcfg.TrustAggregateGeneration {
		aggregates.maxAge = -1
	}
	withTraits := pcfg.Metrics.Traits && !c.version.Less(placementTraits)
	withAggregates := pcfg.Metrics.Aggregates && !c.version.Less(placementAggregates)

	listed := make(map[string]bool, len(providers))
	var jobs []func(context.Context) error
	var traitsDue []resourceProvider
	for _, p := range providers {
		listed[p.UUID] = true
		entry := c.cache[p.UUID]
		if entry == nil {
			entry = &providerCache{}
			c.cache[p.UUID] = entry
		}
		gen := p.Generation
		if !entry.retryDue(gen, now, usages.maxAge, interval) {
			continue
		}
		if pcfg.Metrics.Inventory && entry.inventories.stale(gen, now, -1, interval) {
			jobs = append(jobs, fetchJob(c, sc, subresourceURL(sc, p, "inventories"), "get_inventories", gen, entry, &entry.inventories,
				func(b *subresourceBody) ([]classInventory, bool) {
					return compactInventories(b.Inventories), b.Inventories != nil
				}, negativeInventory))
		}
		if pcfg.Metrics.Usage {
			usages.consider(p, entry, &entry.usages, now)
		}
		if withTraits && c.traitsStale(pcfg, entry, gen, now, interval) {
			traitsDue = append(traitsDue, p)
		}
		if withAggregates {
			aggregates.consider(p, entry, &entry.aggregates, now)
		}
	}
	for uuid := range c.cache {
		if !listed[uuid] {
			delete(c.cache, uuid) // gone from Placement, gone from /metrics
		}
	}
	for _, f := range usages.pick() {
		jobs = append(jobs, fetchJob(c, sc, subresourceURL(sc, f.p, "usages"), "get_usages", f.p.Generation, f.entry, f.target,
			func(b *subresourceBody) ([]classUsage, bool) { return compactUsages(b.Usages), b.Usages != nil }, nil))
	}
	for _, f := range aggregates.pick() {
		jobs = append(jobs, fetchJob(c, sc, subresourceURL(sc, f.p, "aggregates"), "get_aggregates", f.p.Generation, f.entry, f.target,
			func(b *subresourceBody) ([]string, bool) { return internAll(b.Aggregates, nil), b.Aggregates != nil }, nil))
	}

	var errs pollErrors
	var byTrait *traitLists
	listedTraits := c.traitsByList(len(traitsDue))
	if listedTraits {
		var err error
		byTrait, err = c.listTraits(ctx, sc, pcfg)
		if err != nil {
			errs.add(err)
			c.markTraitsFailed(traitsDue)
			traitsDue = nil
		} else if byTrait != nil && len(byTrait.traits) >= len(traitsDue) {
			byTrait = nil // more traits match than the last time: per provider is cheaper
		} else if byTrait != nil {
			jobs = append(jobs, byTrait.jobs(c, sc)...)
		}
	}
	if byTrait == nil {
		for _, p := range traitsDue {
			entry := c.cache[p.UUID]
			entry.traitsFilter = pcfg.traitsKey()
			jobs = append(jobs, fetchJob(c, sc, subresourceURL(sc, p, "traits"), "get_traits", p.Generation, entry, &entry.traits,
				func(b *subresourceBody) ([]string, bool) {
					return internAll(b.Traits, pcfg.cachesTrait), b.Traits != nil
				}, nil))
		}
	}

	// The queries first: a handful of requests that a cold poll on a large
	// cloud, cut short by its timeout, would otherwise never reach. Then the
	// jobs in the order built: inventories, usages, aggregates, traits, so
	// that capacity and usage are complete first.
	results := make([]queryResult, len(pcfg.Queries))
	queryErrs := make([]error, len(pcfg.Queries))
	queryJobs := make([]func(context.Context) error, len(pcfg.Queries))
	for i, q := range pcfg.Queries {
		queryJobs[i] = func(ctx context.Context) error {
			results[i], queryErrs[i] = c.runQuery(ctx, sc, q)
			return nil
		}
	}
	jobs = append(queryJobs, jobs...)

	// Once the poll's timeout has passed, send nothing more: the rest would
	// fail at once, without reaching the server, and count as errors of a
	// normal warm-up. What was not sent stays stale for the next poll.
	sem := make(chan struct{}, pcfg.Concurrency)
	var wg sync.WaitGroup
	notSent := 0
	for i, job := range jobs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			notSent = len(jobs) - i
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs.add(job(ctx))
		}()
	}
	wg.Wait()
	if byTrait != nil {
		byTrait.apply(c, traitsDue, now)
	}
	c.logQueryErrors(pcfg.Queries, queryErrs)
	c.trackNotFound(pcfg, providers, now)

	requests := len(jobs) - len(pcfg.Queries)
	if listedTraits {
		requests++ // GET /traits
	}
	switch n := errs.count(); {
	case notSent > 0:
		return results, fmt.Errorf("the poll's timeout (placement.timeout) passed with %d of %d sub-resource requests not sent and %d failed; what was read is kept, the rest is read next poll (openstack_placement_resource_providers_pending counts the providers still waiting): %w",
			notSent, requests, n, ctx.Err())
	case n > 0:
		return results, fmt.Errorf("%d of %d sub-resource requests failed (their last known values are kept and retried next poll); first: %w", n, requests, errs.first)
	}
	return results, nil
}

func subresourceURL(sc *gophercloud.ServiceClient, p resourceProvider, name string) string {
	return sc.ServiceURL("resource_providers", p.UUID, name)
}

// pollErrors counts the failed requests of one poll and keeps the first.
type pollErrors struct {
	mu    sync.Mutex
	n     int
	first error
}

func (e *pollErrors) add(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		e.first = err
	}
	e.n++
}

func (e *pollErrors) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// agedRefresh plans, for one sub-resource that can change without moving
// the generation (usages, aggregates), which providers re-read it this
// poll. Those whose value is invalid, of another generation, or would be
// older than maxAge at the next poll (interval away) are due. On top of
// them, the oldest of the others are read early, up to this poll's share
// of n*interval/maxAge: without that, the values of a cold start, all read
// in the same poll, would all fall due together again in one long poll per
// maxAge. Early is always allowed; the due ones keep the bound.
type agedRefresh[T any] struct {
	maxAge, interval time.Duration // maxAge < 0: the generation alone
	due, early       []agedFetch[T]
}

type agedFetch[T any] struct {
	p      resourceProvider
	entry  *providerCache
	target *cached[T]
}

func (r *agedRefresh[T]) consider(p resourceProvider, entry *providerCache, target *cached[T], now time.Time) {
	f := agedFetch[T]{p, entry, target}
	if target.stale(p.Generation, now, r.maxAge, r.interval) {
		r.due = append(r.due, f)
	} else {
		r.early = append(r.early, f)
	}
}

// pick returns the fetches of this poll: the due ones, and the oldest of
// the others up to the poll's share.
func (r *agedRefresh[T]) pick() []agedFetch[T] {
	if r.maxAge <= r.interval {
		return r.due // every value falls due every poll, or none by age
	}
	n := len(r.due) + len(r.early)
	share := int(math.Ceil(float64(n) * float64(r.interval) / float64(r.maxAge)))
	extra := min(share-len(r.due), len(r.early))
	if extra <= 0 {
		return r.due
	}
	sort.Slice(r.early, func(i, j int) bool {
		a, b := r.early[i], r.early[j]
		if !a.target.fetched.Equal(b.target.fetched) {
			return a.target.fetched.Before(b.target.fetched)
		}
		return a.p.UUID < b.p.UUID
	})
	return append(r.due, r.early[:extra]...)
}

// traitsStale reports whether the provider's traits must be read again:
// a generation change (every trait change moves it), a failed read, or
// traits kept from the per-trait lists for another traits_include.
func (c *placementCollector) traitsStale(pcfg *PlacementConfig, entry *providerCache, generation int64, now time.Time, interval time.Duration) bool {
	return entry.traits.stale(generation, now, -1, interval) ||
		entry.traitsFilter != "" && entry.traitsFilter != pcfg.traitsKey()
}

// traitsByList reports whether the traits of due providers are read from
// the per-trait provider lists (GET /traits, then one
// GET /resource_providers?required=TRAIT per trait matching traits_include)
// rather than with one GET per provider: when the server can filter by
// trait (1.18) and that costs less, judged by the last lists. Their
// entries count too: on the real server a provider in a list costs
// 60-100 µs, one sub-resource GET 4-7 ms, so about listEntriesPerRequest
// entries cost one request.
func (c *placementCollector) traitsByList(due int) bool {
	return !c.version.Less(placementRequired) && !c.traitListRefused &&
		due > c.matchingTraits+1+c.traitListEntries/listEntriesPerRequest
}

const listEntriesPerRequest = 64

// markTraitsFailed keeps the providers' last known traits and has them
// read again next poll.
func (c *placementCollector) markTraitsFailed(providers []resourceProvider) {
	for _, p := range providers {
		c.cache[p.UUID].traits.failed = true
	}
}

// traitLists reads which providers have each trait matching
// traits_include, one provider list per trait. Read after the provider
// list, it is exact for the generations that list gave: a trait change
// before the list shows in these lists, and one after it moves the
// generation, so the next poll reads that provider again. (Reading GET
// /traits before the provider list would miss a trait created and given
// to a provider in between.)
type traitLists struct {
	filter  string   // traits_include
	traits  []string // the server's traits matching it
	members []map[string]bool
	errs    []error
}

// listTraits reads GET /traits and keeps the traits matching
// traits_include (an RE2 regex, so Placement's name=startswith: filter
// cannot stand in for it). A server that refuses the request (a policy, a
// proxy that does not route /traits) gives nil and no error: the traits
// are read per provider.
func (c *placementCollector) listTraits(ctx context.Context, sc *gophercloud.ServiceClient, pcfg *PlacementConfig) (*traitLists, error) {
	var body struct {
		Traits *[]string `json:"traits"`
	}
	err := openstack.Get(ctx, sc, placementOp("list_traits"), sc.ServiceURL("traits"), c.headers(), &body)
	if status := openstack.StatusCode(err); status >= 400 && status < 500 && status != http.StatusTooManyRequests {
		c.traitListRefused = true
		level.Info(c.logger).Log("msg", "Placement refuses GET /traits; reading each provider's traits instead, one request per provider", "err", openstack.Describe(err))
		return nil, nil
	}
	if err != nil {
		return nil, errors.New(openstack.Describe(err))
	}
	if body.Traits == nil {
		return nil, errors.New("GET /traits: the response has no traits list")
	}
	l := &traitLists{filter: pcfg.traitsKey()}
	for _, t := range *body.Traits {
		if pcfg.cachesTrait(t) {
			l.traits = append(l.traits, t)
		}
	}
	sort.Strings(l.traits)
	c.matchingTraits = len(l.traits)
	l.members = make([]map[string]bool, len(l.traits))
	l.errs = make([]error, len(l.traits))
	return l, nil
}

// jobs lists the providers of each trait.
func (l *traitLists) jobs(c *placementCollector, sc *gophercloud.ServiceClient) []func(context.Context) error {
	jobs := make([]func(context.Context) error, len(l.traits))
	for i, trait := range l.traits {
		jobs[i] = func(ctx context.Context) error {
			providers, err := c.listProviders(ctx, sc, &PlacementFilter{Required: StringList{trait}}, "list_resource_providers_with_trait")
			if openstack.StatusCode(err) == http.StatusBadRequest {
				// "No such trait": deleted since GET /traits, which
				// Placement allows only once no provider has it.
				providers, err = nil, nil
			}
			if err != nil {
				l.errs[i] = err
				return errors.New(openstack.Describe(err))
			}
			l.members[i] = make(map[string]bool, len(providers))
			for _, p := range providers {
				l.members[i][p.UUID] = true
			}
			return nil
		}
	}
	return jobs
}

// apply stores the traits of the due providers, keyed on the generation
// the provider list gave; if any list failed, they keep their last known
// traits and are read again next poll.
func (l *traitLists) apply(c *placementCollector, due []resourceProvider, now time.Time) {
	for i, err := range l.errs {
		if err != nil || l.members[i] == nil { // failed, or not sent before the poll's timeout
			c.markTraitsFailed(due)
			return
		}
	}
	c.traitListEntries = 0
	for _, members := range l.members {
		c.traitListEntries += len(members)
	}
	for _, p := range due {
		traits := []string{}
		for i, trait := range l.traits {
			if l.members[i][p.UUID] {
				traits = append(traits, trait)
			}
		}
		entry := c.cache[p.UUID]
		entry.traits = cached[[]string]{value: traits, generation: p.Generation, fetched: now, valid: true}
		entry.traitsFilter = l.filter
	}
}

// trackNotFound follows the providers whose sub-resources answer 404. A
// first 404 right after the list is the normal race with a deletion; the
// provider still listed and answering 404 at the next poll is counted (on
// every poll until it recovers) and logged once. It does not fail the poll:
// Placement answered, inconsistently.
func (c *placementCollector) trackNotFound(pcfg *PlacementConfig, providers []resourceProvider, now time.Time) {
	for _, p := range providers {
		entry := c.cache[p.UUID]
		switch {
		case entry.notFoundNow.Swap(false):
			entry.notFound++
			entry.notFoundAt, entry.notFoundGen = now, p.Generation
		case !c.pending(pcfg, entry):
			if entry.notFoundAgain() {
				level.Info(c.logger).Log("msg", "the resource provider's sub-resources are found again", "uuid", p.UUID, "name", p.Name)
			}
			entry.notFound = 0
		}
		if entry.notFoundAgain() {
			c.inconsistent.note(c.logger, reasonSubresourceNotFound, p.UUID,
				"msg", "Placement lists the resource provider, but its sub-resources answer 404 since the previous poll; its details are not exported, and asked for again once per usages_max_age or when its generation moves",
				"uuid", p.UUID, "name", p.Name)
		}
	}
}

// negativeInventory refuses an inventory with a negative number: Placement
// never stores one, and (total - reserved) * allocation_ratio of two
// negatives would be a capacity that does not exist.
func negativeInventory(inventories []classInventory) string {
	for _, ci := range inventories {
		for _, f := range []struct {
			name  string
			value float64
		}{{"total", ci.Total}, {"reserved", ci.Reserved}, {"min_unit", ci.MinUnit}, {"max_unit", ci.MaxUnit}, {"step_size", ci.StepSize}, {"allocation_ratio", ci.AllocationRatio}} {
			if f.value < 0 {
				return fmt.Sprintf("%s %s is %g", ci.class, f.name, f.value)
			}
		}
	}
	return ""
}

// classInventory and classUsage are what the cache keeps of one resource
// class of a provider. Sorted slices of them, with class names, traits and
// aggregate uuids shared between providers (unique.Make), take a fraction
// of the decoded maps and strings: at 10,000 providers with 40 traits each
// the cache went from ~35 MB to ~7 MB.
type classInventory struct {
	class string
	inventory
}

type classUsage struct {
	class string
	used  float64
}

func compactInventories(m map[string]inventory) []classInventory {
	out := make([]classInventory, 0, len(m))
	for class, inv := range m {
		out = append(out, classInventory{unique.Make(class).Value(), inv})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].class < out[j].class })
	return out
}

func compactUsages(m map[string]float64) []classUsage {
	out := make([]classUsage, 0, len(m))
	for class, used := range m {
		out = append(out, classUsage{unique.Make(class).Value(), used})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].class < out[j].class })
	return out
}

// internAll returns the strings include accepts (all when nil), shared.
func internAll(ss []string, include func(string) bool) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if include == nil || include(s) {
			out = append(out, unique.Make(s).Value())
		}
	}
	return slices.Clip(out)
}

// subresourceBody decodes any of the four sub-resource responses.
type subresourceBody struct {
	Generation  *int64               `json:"resource_provider_generation"`
	Inventories map[string]inventory `json:"inventories"`
	Usages      map[string]float64   `json:"usages"`
	Traits      []string             `json:"traits"`
	Aggregates  []string             `json:"aggregates"`
}

// fetchJob returns a job that fetches one sub-resource of entry into
// target, stamped with the time of its request. A provider deleted since the list (404) keeps nothing, and
// trackNotFound follows it up. A value refuse has a reason against is kept
// empty, for the generation it belongs to.
func fetchJob[T any](c *placementCollector, sc *gophercloud.ServiceClient, url, operation string, listedGen int64,
	entry *providerCache, target *cached[T], pick func(*subresourceBody) (T, bool), refuse func(T) string) func(context.Context) error {
	return func(ctx context.Context) error {
		// The age of a value counts from the request: in a long poll,
		// what was read near its end is not due as early as its start.
		now := c.now()
		var body subresourceBody
		err := openstack.Get(ctx, sc, placementOp(operation), url, c.headers(), &body)
		if openstack.StatusCode(err) == http.StatusNotFound {
			*target = cached[T]{}
			entry.notFoundNow.Store(true)
			return nil
		}
		if err != nil {
			target.failed = true
			return errors.New(openstack.Describe(err))
		}
		value, ok := pick(&body)
		if !ok {
			target.failed = true
			return fmt.Errorf("GET %s: unexpected response body", url)
		}
		// Key the cache on the generation the data belongs to: if the
		// provider changed between the list and this request, the next
		// list shows the newer generation and nothing is fetched twice.
		gen := listedGen
		if body.Generation != nil {
			gen = *body.Generation
		}
		if refuse != nil {
			if reason := refuse(value); reason != "" {
				*target = cached[T]{generation: gen, fetched: now, valid: true, refused: reason}
				return nil
			}
		}
		*target = cached[T]{value: value, generation: gen, fetched: now, valid: true}
		return nil
	}
}

func (c *placementCollector) runQuery(ctx context.Context, sc *gophercloud.ServiceClient, q PlacementQuery) (queryResult, error) {
	if err := q.checkServer("placement.queries."+q.Name, c.version); err != nil {
		return queryResult{}, fmt.Errorf("not sent, the server cannot run it: %w", err)
	}
	members, err := c.listProviders(ctx, sc, &q.Filter, "query_resource_providers")
	if err != nil {
		return queryResult{}, errors.New(openstack.Describe(err))
	}
	return queryResult{ok: true, members: members}, nil
}

// logQueryErrors logs a query's failure when it starts or changes, and its
// recovery (see logQueryOutcomes).
func (c *placementCollector) logQueryErrors(queries PlacementQueries, errs []error) {
	outcomes := make([]queryOutcome, len(queries))
	for i, q := range queries {
		outcomes[i] = queryOutcome{q.Name, q.Filter.String(), errs[i]}
	}
	c.queryErrors = logQueryOutcomes(c.logger, c.queryErrors, outcomes)
}
