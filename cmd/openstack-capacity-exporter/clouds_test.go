package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// cloudValue sends one gauge whose value tells the clouds apart.
type cloudValue float64

var cloudValueDesc = prometheus.NewDesc("test_cloud_value", "Which cloud answered.", nil, nil)

func (v cloudValue) Update(_ context.Context, _ *collector.Config, ch chan<- prometheus.Metric) error {
	ch <- prometheus.MustNewConstMetric(cloudValueDesc, prometheus.GaugeValue, float64(v))
	return nil
}

// twoClouds is the exporter's HTTP side polling clouds "one" and "two"
// with the configuration file at the returned path.
func twoClouds(t *testing.T) (http.Handler, *reloader, string) {
	t.Helper()
	path := writeFile(t, "config.yml", "clouds:\n  one: {}\n  two:\n    placement: {interval: 2m}\n")
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var clouds []*cloud
	for i, entry := range cfg.Clouds.List {
		fake := cloudValue(i + 1)
		c, err := wireCloud(log.NewNopLogger(), entry.Name, entry.Config, map[string]collector.Collector{"placement": fake}, openstack.NewAPIMetrics(), reg)
		if err != nil {
			t.Fatal(err)
		}
		c.poller.PollOnce(context.Background(), "placement", fake)
		clouds = append(clouds, c)
	}
	r := newReloader(log.NewNopLogger(), path, clouds)
	registerOwn(reg, r)
	mux, err := newMux(webOptions{metricsPath: "/metrics"}, log.NewNopLogger(), clouds, r, reg)
	if err != nil {
		t.Fatal(err)
	}
	return mux, r, path
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// /metrics serves every cloud with its label, the per-cloud meta-metrics
// too; /probe one cloud; an unknown or missing cloud is a 400 that names
// the clouds, never an empty 200.
func TestSeveralClouds(t *testing.T) {
	h, _, _ := twoClouds(t)
	code, body := get(t, h, "/metrics")
	for _, want := range []string{
		"test_cloud_value{cloud=\"one\"} 1\n",
		"test_cloud_value{cloud=\"two\"} 2\n",
		`openstack_capacity_exporter_collector_success{cloud="one",collector="placement"} 1`,
		`openstack_capacity_exporter_collector_poll_interval_seconds{cloud="two",collector="placement"} 120`,
		`openstack_capacity_exporter_config_last_reload_successful 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q:\n%s", code, want, body)
		}
	}
	if n := strings.Count(body, "# HELP test_cloud_value "); n != 1 {
		t.Errorf("/metrics has test_cloud_value's HELP %d times", n)
	}

	code, body = get(t, h, "/probe?cloud=two")
	if code != http.StatusOK || !strings.Contains(body, "test_cloud_value{cloud=\"two\"} 2\n") || strings.Contains(body, `cloud="one"`) ||
		!strings.Contains(body, `openstack_capacity_exporter_collector_success{cloud="two",collector="placement"} 1`) {
		t.Errorf("/probe?cloud=two answered %d:\n%s", code, body)
	}
	if strings.Contains(body, "config_last_reload") || strings.Contains(body, "go_goroutines") {
		t.Errorf("/probe serves the process's own metrics, which /metrics has:\n%s", body)
	}
	for path, want := range map[string]string{
		"/probe?cloud=three": `Unknown cloud "three": use /probe?cloud=NAME with one of: one, two.`,
		"/probe":             "Missing parameter cloud: use /probe?cloud=NAME with one of: one, two.",
	} {
		if code, body := get(t, h, path); code != http.StatusBadRequest || strings.TrimSpace(body) != want {
			t.Errorf("%s: %d %q, want 400 %q", path, code, body, want)
		}
	}
	code, body = get(t, h, "/-/ready")
	if code != http.StatusOK {
		t.Errorf("/-/ready: %d %s", code, body)
	}
	code, body = get(t, h, "/")
	if code != http.StatusOK || !strings.Contains(body, "<th>cloud</th>") || !strings.Contains(body, "<td>two</td>") {
		t.Errorf("landing page (%d) does not show the clouds:\n%s", code, body)
	}
}

// A reload may change each cloud's sections but not which clouds are
// polled: those have credentials and pollers made at start-up.
func TestReloadKeepsTheClouds(t *testing.T) {
	_, r, path := twoClouds(t)
	if err := os.WriteFile(path, []byte("clouds:\n  one: {}\n  three: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := r.reload()
	if err == nil || err.Error() != "clouds: the clouds polled cannot change on reload (polling [one, two], the file lists [one, three]); restart the exporter to add or remove one" {
		t.Errorf("reload adding a cloud: %v", err)
	}
	if got := r.clouds[1].config.Get().Placement.Interval.String(); got != "2m0s" {
		t.Errorf("after the rejected reload two's interval is %s", got)
	}
	if err := os.WriteFile(path, []byte("placement: {interval: 30s}\nclouds:\n  one: {}\n  two: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.clouds {
		if got := c.config.Get().Placement.Interval.String(); got != "30s" {
			t.Errorf("after the reload %s's interval is %s, want the new top-level 30s", c.name, got)
		}
	}
}

// One cloud: /probe says to scrape /metrics.
func TestProbeWithOneCloud(t *testing.T) {
	e := newTestExporter(t, webOptions{}, nil)
	if resp, body := e.do(t, http.MethodGet, "/probe?cloud=x"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "scrape /metrics") {
		t.Errorf("/probe with one cloud: %d %q", resp.StatusCode, body)
	}
}

// A cloud missing from clouds.yaml stops the start-up, naming it.
func TestCloudMissingFromCloudsYAML(t *testing.T) {
	clouds := writeFile(t, "clouds.yaml", "clouds:\n  one:\n    auth_type: none\n    placement_endpoint_override: http://127.0.0.1:1/\n")
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	config := writeFile(t, "config.yml", "clouds:\n  one: {}\n  tow: {}\n")
	var out strings.Builder
	if code := run([]string{"--config.file", config, "--web.listen-address", "127.0.0.1:0"}, &out); code != 1 || !strings.Contains(out.String(), "clouds.tow") {
		t.Errorf("exit %d, said %q", code, out.String())
	}
}
