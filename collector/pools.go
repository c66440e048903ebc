package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// What the scheduler-stats pool collectors (Manila, Cinder) share: a pool's
// identity, the loosely typed capabilities drivers report, the repair of
// duplicate pools, the per-back-end counts and the named queries.

const gib = 1 << 30 // Manila's and Cinder's "GB" are GiB

var poolLabels = []string{"name", "host", "backend", "pool"}

// The reasons of the pool collectors' inconsistencies_total.
const (
	reasonUnparsableValue = "unparsable_value"
	reasonDuplicatePool   = "duplicate_pool"
)

// apiVersions is what a pool collector learned of its server's
// microversions; reloads read it (CheckConfig) while polls write it.
type apiVersions struct {
	mu      sync.Mutex // guards server and version
	server  *openstack.VersionRange
	version openstack.Microversion
}

// discover reads the version document at root, keeps the range of the API
// whose id starts with prefix and picks the highest microversion both the
// server and the exporter (oldest..newest) know. service and override
// name the service and its endpoint override in the errors.
func (a *apiVersions) discover(ctx context.Context, logger log.Logger, sc *gophercloud.ServiceClient, op openstack.Operation, root, prefix string,
	oldest, newest openstack.Microversion, service, override string) error {
	r, err := openstack.DiscoverVersions(ctx, sc, op, root, prefix)
	if errors.Is(err, openstack.ErrNoSuchVersion) {
		return fmt.Errorf("discovering the %s microversion: the server root lists no %s API; is %s the %s URL?", service, prefix, override, service)
	}
	if err != nil {
		return fmt.Errorf("discovering the %s microversion: %w", service, err)
	}
	chosen, err := r.Negotiate(oldest, newest)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.server, a.version = &r, chosen
	a.mu.Unlock()
	level.Info(logger).Log("msg", service+" microversions discovered", "min", r.Min, "max", r.Max, "using", chosen)
	return nil
}

// forget makes the next poll discover again: the server may have changed.
func (a *apiVersions) forget() {
	a.mu.Lock()
	a.server = nil
	a.mu.Unlock()
}

// known returns the microversion in use, if the server is known yet.
func (a *apiVersions) known() (openstack.Microversion, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version, a.server != nil
}

// poolID is a pool's identity: its unique name ("host@backend#pool") and
// the parts the labels show.
type poolID struct {
	Name    string `json:"name"`
	Host    string `json:"host"`
	Backend string `json:"backend"`
	Pool    string `json:"pool"`
}

func (p poolID) labels() []string { return []string{p.Name, p.Host, p.Backend, p.Pool} }

// uniquePools keeps the first entry of each pool name: the name is unique in
// the scheduler, so a repeat would be a duplicate series. Each repeat is
// counted as duplicate_pool.
func uniquePools[T any](pools []T, id func(*T) poolID, in *inconsistencies, logger log.Logger, service string) []T {
	seen := make(map[string]bool, len(pools))
	unique := pools[:0:0]
	for i := range pools {
		name := id(&pools[i]).Name
		if seen[name] {
			in.note(logger, reasonDuplicatePool, name, "msg", service+" listed a pool twice; keeping the first", "pool", name)
			continue
		}
		seen[name] = true
		unique = append(unique, pools[i])
	}
	return unique
}

// emitPoolCounts sends the number of pools per host and back end, sorted.
func emitPoolCounts(desc *prometheus.Desc, ids []poolID, ch chan<- prometheus.Metric) {
	type hostBackend struct{ host, backend string }
	counts := map[hostBackend]int{}
	for _, p := range ids {
		counts[hostBackend{p.Host, p.Backend}]++
	}
	keys := make([]hostBackend, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].host+"@"+keys[i].backend < keys[j].host+"@"+keys[j].backend })
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[k]), k.host, k.backend)
	}
}

// poolQuery is one named filter query of a pools API, ready to run.
type poolQuery struct {
	name, filter string
	// check reports why the server cannot run the query (it is then not sent).
	check func() error
	// count runs it and returns how many pools matched.
	count func(ctx context.Context) (int, error)
}

// runPoolQueries runs the queries, at most 4 at a time (Manila's and
// Cinder's APIs often run one worker), and sends each one's success and, if
// it succeeded, its count. last holds the previous poll's failures, so a
// failure repeating itself is logged once; the returned map is this poll's.
func runPoolQueries(ctx context.Context, logger log.Logger, last map[string]string, queries []poolQuery, successDesc, poolsDesc *prometheus.Desc, ch chan<- prometheus.Metric) map[string]string {
	counts := make([]int, len(queries))
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, q := range queries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := q.check(); err != nil {
				errs[i] = errors.New("not sent, the server cannot run it: " + err.Error())
				return
			}
			counts[i], errs[i] = q.count(ctx)
		}()
	}
	wg.Wait()
	outcomes := make([]queryOutcome, len(queries))
	for i, q := range queries {
		outcomes[i] = queryOutcome{q.name, q.filter, errs[i]}
	}
	failures := logQueryOutcomes(logger, last, outcomes)
	for i, q := range queries {
		ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, boolToFloat(errs[i] == nil), q.name)
	}
	for i, q := range queries {
		if errs[i] == nil {
			ch <- prometheus.MustNewConstMetric(poolsDesc, prometheus.GaugeValue, float64(counts[i]), q.name)
		}
	}
	return failures
}

// queryOutcome is how one named query's run ended.
type queryOutcome struct {
	name, filter string
	err          error
}

// logQueryOutcomes logs a query's failure when it starts or changes, and its
// recovery, at error and info level; a repeat of the same failure (the same
// message in last) only at debug. It returns this run's failures, by name.
func logQueryOutcomes(logger log.Logger, last map[string]string, outcomes []queryOutcome) map[string]string {
	failures := map[string]string{}
	for _, o := range outcomes {
		if o.err == nil {
			if _, failed := last[o.name]; failed {
				level.Info(logger).Log("msg", "query succeeds again", "query", o.name)
			}
			continue
		}
		msg := o.err.Error()
		failures[o.name] = msg
		lvl := level.Error
		if last[o.name] == msg {
			lvl = level.Debug
		}
		lvl(logger).Log("msg", "query failed", "query", o.name, "filter", o.filter, "err", msg)
	}
	return failures
}

// capabilities reads the loosely typed values drivers report.
type capabilities map[string]json.RawMessage

// errNotANumber: a capability that should be a number is something else.
var errNotANumber = errors.New(`neither a number nor "infinite" or "unknown"`)

// number reads a number that may arrive as a JSON number or a string;
// "infinite" is +Inf; "unknown", "", null or absent is absent (ok false, no
// error); anything else is absent too, with an error to report.
func (c capabilities) number(key string) (v float64, ok bool, err error) {
	raw, present := c[key]
	if !present || string(raw) == "null" {
		return 0, false, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false, errNotANumber
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "infinite":
		return math.Inf(1), true, nil
	case "unknown", "":
		return 0, false, nil
	}
	f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false, errNotANumber
	}
	return f, true, nil
}

// text renders a capability for a label: strings as they are, booleans as
// true/false, lists (thin_provisioning may be [true, false]) comma-joined.
func (c capabilities) text(key string) string {
	raw, ok := c[key]
	if !ok {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return capabilityText(v)
}

func capabilityText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			parts[i] = capabilityText(item)
		}
		return strings.Join(parts, ",")
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// timestamp reads a service's report time: UTC, no zone suffix. Absent or
// null is absent; anything unreadable is absent with an error.
func (c capabilities) timestamp(key string) (v float64, ok bool, err error) {
	raw, present := c[key]
	if !present || string(raw) == "null" {
		return 0, false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false, errors.New("not a string")
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return float64(t.UnixNano()) / 1e9, true, nil
		}
	}
	return 0, false, errors.New("not a time like 2026-11-22T10:30:18.431738")
}
