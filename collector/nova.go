package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// The Nova collector reads what the scheduler decides with besides
// Placement: which compute services are up and enabled, in which
// availability zone, which compute node (= resource provider) each host
// has, the host aggregates and the flavors. Four listings per poll, pages
// aside, whatever the number of hosts.
func init() {
	registerCollector("nova", false, newNovaCollector, func(c *Config) Schedule {
		return Schedule{Interval: time.Duration(c.Nova.Interval), Timeout: time.Duration(c.Nova.Timeout)}
	})
}

// Microversions of the compute API the collector understands. 2.61 is the
// least it needs: flavors with their extra_specs inline (2.61), hypervisor
// ids that are compute node uuids and service forced_down (2.53), aggregate
// uuids (2.41). It asks for at most 2.87: from 2.88 os-hypervisors/detail
// calls every compute that is up for its uptime, and one hung compute fails
// the whole listing with a 500 after 60 s (seen on the rig:
// testdata/nova/nova-cmp2-hung.json), while nothing the collector reads
// changes after 2.87 (2.88 only drops the resource fields Placement holds).
var (
	novaOldest = openstack.MustMicroversion("2.61")
	novaNewest = openstack.MustMicroversion("2.87")
)

// novaMaxPages bounds one listing: Nova's [api] max_limit (1000 by
// default) per page, so 1000 pages hold a million entries.
const novaMaxPages = 1000

// novaReasonLength bounds disabled_reason as a label value (Nova allows 255
// characters of free text).
const novaReasonLength = 100

var (
	novaUpDesc   = prometheus.NewDesc("openstack_nova_up", "1 if the last poll of the Nova API (services, hypervisors, aggregates, flavors) succeeded, 0 if not.", nil, nil)
	novaVersDesc = prometheus.NewDesc("openstack_nova_api_version_info",
		"Microversion range the Nova API offers, and the microversion the exporter uses.", []string{"min_version", "max_version", "version"}, nil)
	novaServiceLabels    = []string{"host", "availability_zone"}
	novaServiceUpDesc    = newGaugeFamily("openstack_nova_compute_service_up", "1 if Nova reports the host's nova-compute service up (a heartbeat within service_down_time and not forced down), 0 if down.", novaServiceLabels)
	novaServiceEnDesc    = newGaugeFamily("openstack_nova_compute_service_enabled", "1 if the host's nova-compute service is enabled, 0 if disabled: the scheduler places nothing on a disabled host.", novaServiceLabels)
	novaServiceForceDesc = newGaugeFamily("openstack_nova_compute_service_forced_down", "1 if the host's nova-compute service is forced down (os-services force-down), 0 if not.", novaServiceLabels)
	novaServiceSeenDesc  = newGaugeFamily("openstack_nova_compute_service_last_report_timestamp_seconds",
		"Unix time of the nova-compute service's last update (its heartbeat, or a status change).", novaServiceLabels)
	novaDisabledDesc = newGaugeFamily("openstack_nova_compute_service_disabled_info",
		"A disabled nova-compute service and the reason given (cut to 100 characters).", []string{"host", "availability_zone", "disabled_reason"})
	novaHypervisorDesc = newGaugeFamily("openstack_nova_hypervisor_info",
		"A compute node: uuid is its resource provider's uuid in Placement (join with openstack_placement_resource_provider_info on uuid), host its nova-compute service's host.",
		[]string{"uuid", "host", "hypervisor_hostname", "hypervisor_type"})
	novaAggregateDesc = newGaugeFamily("openstack_nova_aggregate_info",
		"A Nova host aggregate; aggregate_uuid is also its uuid in Placement, availability_zone empty when it sets none.", []string{"aggregate_uuid", "name", "availability_zone"})
	novaAggregateHostDesc = newGaugeFamily("openstack_nova_aggregate_host_info",
		"The host is in the Nova aggregate (as Nova lists it; Placement holds its own copy, per resource provider).", []string{"aggregate_uuid", "host"})
	novaFlavorDesc = newGaugeFamily("openstack_nova_flavor_info",
		"A Nova flavor, public or private, and its sizes (a flavor cannot be changed, so the labels never move).",
		[]string{"flavor", "flavor_id", "vcpus", "ram_mb", "disk_gb", "ephemeral_gb", "swap_mb", "is_public", "disabled"})
)

// NovaView is what one Nova poll saw.
type NovaView struct {
	Taken       time.Time
	Services    []NovaService // nova-compute services only
	Hypervisors []NovaHypervisor
	Aggregates  []NovaAggregate
	Flavors     []NovaFlavor
}

// NovaService is one nova-compute service.
type NovaService struct {
	Host, Zone                string
	Up, Enabled, ForcedDown   bool
	DisabledReason, UpdatedAt string
}

// Schedulable: the scheduler's ComputeFilter lets the host through.
func (s NovaService) Schedulable() bool { return s.Up && s.Enabled && !s.ForcedDown }

// NovaHypervisor is one compute node; UUID is its resource provider's.
type NovaHypervisor struct {
	UUID, Hostname, Host, Type string
}

// NovaAggregate is one host aggregate.
type NovaAggregate struct {
	UUID, Name, AvailabilityZone string
	Hosts                        []string
}

// NovaFlavor is one flavor, its extra specs included.
type NovaFlavor struct {
	ID, Name                          string
	VCPUs, RAMMB, DiskGB, EphemeralGB int64
	SwapMB                            int64
	IsPublic, Disabled                bool
	ExtraSpecs                        map[string]string
}

type novaCollector struct {
	logger  log.Logger
	session *openstack.Session
	model   *Model
	now     func() time.Time

	mu      sync.Mutex // guards server and version
	server  *openstack.VersionRange
	version openstack.Microversion
}

func newNovaCollector(deps Deps) (Collector, error) {
	return &novaCollector{logger: deps.Logger, session: deps.Session, model: deps.Model, now: time.Now}, nil
}

func novaOp(name string) openstack.Operation { return openstack.Operation{Service: "nova", Name: name} }

func (c *novaCollector) discover(ctx context.Context, sc *gophercloud.ServiceClient, root string) error {
	r, err := openstack.DiscoverVersions(ctx, sc, novaOp("discover_version"), root, "v2.1")
	if errors.Is(err, openstack.ErrNoSuchVersion) {
		return errors.New("discovering the Nova microversion: the server root lists no v2.1 API; is compute_endpoint_override the Nova URL?")
	}
	if err != nil {
		return fmt.Errorf("discovering the Nova microversion: %w", err)
	}
	chosen, err := r.Negotiate(novaOldest, novaNewest)
	if err != nil {
		return fmt.Errorf("Nova: %w (2.61 for flavors' extra_specs, 2.53 for compute node uuids)", err)
	}
	c.mu.Lock()
	c.server, c.version = &r, chosen
	c.mu.Unlock()
	level.Info(c.logger).Log("msg", "Nova microversions discovered", "min", r.Min, "max", r.Max, "using", chosen)
	return nil
}

func (c *novaCollector) headers() map[string]string {
	return map[string]string{"OpenStack-API-Version": "compute " + c.version.String()}
}

// list reads every page of a listing: the entries under key, following
// the "next" link under key+"_links". The link's query (limit, marker) is
// applied to base: Nova builds links from its own idea of its public URL,
// which need not be the URL the exporter was given.
func novaList[T any](ctx context.Context, c *novaCollector, sc *gophercloud.ServiceClient, op, base, path, query, key string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	for page := 0; ; page++ {
		target := base + path
		if query != "" {
			target += "?" + query
		}
		var body map[string]json.RawMessage
		if err := openstack.Get(ctx, sc, novaOp(op), target, c.headers(), &body); err != nil {
			if openstack.StatusCode(err) == http.StatusNoContent {
				return nil, errors.New("Nova answered 204 No Content: it received no valid token")
			}
			return nil, errors.New(openstack.Describe(err))
		}
		raw, ok := body[key]
		if !ok || bytes.Equal(raw, []byte("null")) {
			return nil, fmt.Errorf("GET %s: the response has no %s list", target, key)
		}
		var items []T
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("GET %s: decoding %s: %w", target, key, err)
		}
		out = append(out, items...)
		next, err := nextPage(body[key+"_links"])
		if err != nil {
			return nil, fmt.Errorf("GET %s: %s_links: %w", target, key, err)
		}
		if next == "" {
			return out, nil
		}
		if seen[next] || len(items) == 0 {
			return nil, fmt.Errorf("GET %s: the next page (%s) was read already or this one is empty: Nova's pagination loops", target, openstack.Truncate(next, 200))
		}
		if page+1 >= novaMaxPages {
			return nil, fmt.Errorf("GET %s%s: more than %d pages", base, path, novaMaxPages)
		}
		seen[next] = true
		query = next
	}
}

// nextPage returns the query of the "next" link, or "" when there is none.
func nextPage(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var links []struct {
		Rel, Href string
	}
	if err := json.Unmarshal(raw, &links); err != nil {
		return "", err
	}
	for _, l := range links {
		if l.Rel != "next" {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil || u.Query().Get("marker") == "" {
			return "", fmt.Errorf("next link %q has no marker", openstack.Truncate(l.Href, 200))
		}
		return u.RawQuery, nil
	}
	return "", nil
}

type novaServiceBody struct {
	Host           string  `json:"host"`
	Zone           string  `json:"zone"`
	Status         string  `json:"status"`
	State          string  `json:"state"`
	ForcedDown     bool    `json:"forced_down"`
	DisabledReason *string `json:"disabled_reason"`
	UpdatedAt      *string `json:"updated_at"`
}

type novaHypervisorBody struct {
	ID       string `json:"id"`
	Hostname string `json:"hypervisor_hostname"`
	Type     string `json:"hypervisor_type"`
	Service  struct {
		Host string `json:"host"`
	} `json:"service"`
}

type novaAggregateBody struct {
	UUID             string   `json:"uuid"`
	Name             string   `json:"name"`
	AvailabilityZone *string  `json:"availability_zone"`
	Hosts            []string `json:"hosts"`
}

type novaFlavorBody struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	VCPUs      int64             `json:"vcpus"`
	RAM        int64             `json:"ram"`
	Disk       int64             `json:"disk"`
	Ephemeral  int64             `json:"OS-FLV-EXT-DATA:ephemeral"`
	Swap       json.RawMessage   `json:"swap"` // "" for none below 2.75
	IsPublic   *bool             `json:"os-flavor-access:is_public"`
	Disabled   bool              `json:"OS-FLV-DISABLED:disabled"`
	ExtraSpecs map[string]string `json:"extra_specs"`
}

func (f *novaFlavorBody) swapMB() (int64, error) {
	s := string(bytes.TrimSpace(f.Swap))
	switch s {
	case "", `""`, "null":
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("flavor %q: swap %s is not a number of MiB", f.Name, openstack.Truncate(s, 40))
	}
	return n, nil
}

// Update polls Nova once.
func (c *novaCollector) Update(ctx context.Context, cfg *Config, ch chan<- prometheus.Metric) error {
	view, err := c.poll(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(novaUpDesc, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(novaUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(novaVersDesc, prometheus.GaugeValue, 1, c.server.Min.String(), c.server.Max.String(), c.version.String())
	emitNova(view, ch)
	if c.model != nil && c.model.wantsNova() {
		c.model.publishNova(view)
	}
	return nil
}

func (c *novaCollector) poll(ctx context.Context) (*NovaView, error) {
	sc, err := c.session.ServiceClient(ctx, "compute")
	if err != nil {
		return nil, err
	}
	// Nova's v2.1 API needs no project in the URL; an old-style catalog
	// entry (.../v2.1/<project>) keeps its own.
	root, base, err := openstack.SplitEndpoint(sc.Endpoint, "v2.1", "")
	if err != nil {
		return nil, fmt.Errorf("nova %w", err)
	}
	if c.server == nil {
		if err := c.discover(ctx, sc, root); err != nil {
			return nil, err
		}
	}
	view, err := c.read(ctx, sc, base)
	if err != nil {
		c.mu.Lock()
		c.server = nil // discover again: the server may have changed
		c.mu.Unlock()
		return nil, err
	}
	return view, nil
}

func (c *novaCollector) read(ctx context.Context, sc *gophercloud.ServiceClient, base string) (*NovaView, error) {
	services, err := novaList[novaServiceBody](ctx, c, sc, "list_services", base, "os-services", "binary=nova-compute", "services")
	if err != nil {
		return nil, fmt.Errorf("listing compute services: %w", err)
	}
	hypervisors, err := novaList[novaHypervisorBody](ctx, c, sc, "list_hypervisors", base, "os-hypervisors/detail", "", "hypervisors")
	if err != nil {
		return nil, fmt.Errorf("listing hypervisors: %w", err)
	}
	aggregates, err := novaList[novaAggregateBody](ctx, c, sc, "list_aggregates", base, "os-aggregates", "", "aggregates")
	if err != nil {
		return nil, fmt.Errorf("listing aggregates: %w", err)
	}
	// is_public=None lists private flavors too (admin only; others get the
	// public ones and those their project may use).
	flavors, err := novaList[novaFlavorBody](ctx, c, sc, "list_flavors", base, "flavors/detail", "is_public=None", "flavors")
	if err != nil {
		return nil, fmt.Errorf("listing flavors: %w", err)
	}

	view := &NovaView{Taken: c.now()}
	for _, s := range services {
		if s.Host == "" {
			return nil, errors.New("listing compute services: a service has no host")
		}
		view.Services = append(view.Services, NovaService{Host: s.Host, Zone: s.Zone, Up: s.State == "up", Enabled: s.Status == "enabled",
			ForcedDown: s.ForcedDown, DisabledReason: deref(s.DisabledReason), UpdatedAt: deref(s.UpdatedAt)})
	}
	for _, h := range hypervisors {
		if !uuidPattern.MatchString(h.ID) {
			return nil, fmt.Errorf("listing hypervisors: %q has id %q, not a compute node uuid", openstack.Truncate(h.Hostname, 100), openstack.Truncate(h.ID, 60))
		}
		view.Hypervisors = append(view.Hypervisors, NovaHypervisor{UUID: h.ID, Hostname: h.Hostname, Host: h.Service.Host, Type: h.Type})
	}
	for _, a := range aggregates {
		if !uuidPattern.MatchString(a.UUID) {
			return nil, fmt.Errorf("listing aggregates: %q has uuid %q", openstack.Truncate(a.Name, 100), openstack.Truncate(a.UUID, 60))
		}
		view.Aggregates = append(view.Aggregates, NovaAggregate{UUID: a.UUID, Name: a.Name, AvailabilityZone: deref(a.AvailabilityZone), Hosts: a.Hosts})
	}
	for _, f := range flavors {
		swap, err := f.swapMB()
		if err != nil {
			return nil, fmt.Errorf("listing flavors: %w", err)
		}
		if f.ExtraSpecs == nil {
			f.ExtraSpecs = map[string]string{}
		}
		view.Flavors = append(view.Flavors, NovaFlavor{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk, EphemeralGB: f.Ephemeral,
			SwapMB: swap, IsPublic: f.IsPublic == nil || *f.IsPublic, Disabled: f.Disabled, ExtraSpecs: f.ExtraSpecs})
	}
	sort.Slice(view.Flavors, func(i, j int) bool { return view.Flavors[i].Name < view.Flavors[j].Name })
	return view, nil
}

// emitNova sends the view's families, each whole before the next.
func emitNova(v *NovaView, ch chan<- prometheus.Metric) {
	for _, s := range v.Services {
		ch <- novaServiceUpDesc.sample(boolFloat(s.Up), s.Host, s.Zone)
	}
	for _, s := range v.Services {
		ch <- novaServiceEnDesc.sample(boolFloat(s.Enabled), s.Host, s.Zone)
	}
	for _, s := range v.Services {
		ch <- novaServiceForceDesc.sample(boolFloat(s.ForcedDown), s.Host, s.Zone)
	}
	for _, s := range v.Services {
		// Nova writes updated_at in UTC without a zone.
		if t, err := time.Parse("2006-01-02T15:04:05.999999", s.UpdatedAt); err == nil {
			ch <- novaServiceSeenDesc.sample(float64(t.UnixMicro())/1e6, s.Host, s.Zone)
		}
	}
	for _, s := range v.Services {
		if !s.Enabled {
			ch <- novaDisabledDesc.sample(1, s.Host, s.Zone, openstack.Truncate(s.DisabledReason, novaReasonLength))
		}
	}
	for _, h := range v.Hypervisors {
		ch <- novaHypervisorDesc.sample(1, h.UUID, h.Host, h.Hostname, h.Type)
	}
	for _, a := range v.Aggregates {
		ch <- novaAggregateDesc.sample(1, a.UUID, a.Name, a.AvailabilityZone)
	}
	for _, a := range v.Aggregates {
		for _, h := range a.Hosts {
			ch <- novaAggregateHostDesc.sample(1, a.UUID, h)
		}
	}
	for _, f := range v.Flavors {
		ch <- novaFlavorDesc.sample(1, f.Name, f.ID, strconv.FormatInt(f.VCPUs, 10), strconv.FormatInt(f.RAMMB, 10), strconv.FormatInt(f.DiskGB, 10),
			strconv.FormatInt(f.EphemeralGB, 10), strconv.FormatInt(f.SwapMB, 10), strconv.FormatBool(f.IsPublic), strconv.FormatBool(f.Disabled))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
