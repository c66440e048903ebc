package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "good.yml", "placement:\n  interval: 30s\n  queries:\n    gold: {required: CUSTOM_GOLD}\n")
	bad := writeFile(t, "bad.yml", "placement:\n  queries:\n    gold: {required: custom_gold}\n")
	for _, c := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"--config.file", good, "--config.check"}, 0, "configuration file is valid"},
		{[]string{"--config.file", bad, "--config.check"}, 1, "invalid configuration file"},
		// Without a file there is nothing to check: "valid" would mislead.
		{[]string{"--config.check"}, 2, "nothing to check: --config.check needs --config.file"},
	} {
		var out bytes.Buffer
		if code := run(c.args, &out); code != c.code || !strings.Contains(out.String(), c.say) {
			t.Errorf("%v: exit %d, want %d; said %q, want %q", c.args, code, c.code, out.String(), c.say)
		}
	}
}

// A mistyped flag says so and points to --help.
func TestBadFlagHintsAtHelp(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{"--web.listen-adress", ":1"}, &out)
	if want := exporterName + ": error: unknown long flag '--web.listen-adress', try --help\n"; code != 2 || out.String() != want {
		t.Errorf("exit %d, said %q, want %q", code, out.String(), want)
	}
}

// A rejected reload keeps the configuration in force and says why; a good
// one replaces it.
func TestReload(t *testing.T) {
	path := writeFile(t, "config.yml", "placement:\n  interval: 30s\n")
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	safe := collector.NewSafeConfig(cfg)
	r := newReloader(log.NewNopLogger(), path, []*cloud{{config: safe, poller: collector.NewPoller(log.NewNopLogger(), safe, nil)}})

	if err := os.WriteFile(path, []byte("placement:\n  interval: 5x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r.serveHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `placement: line 2: "5x" is not a duration`) {
		t.Errorf("bad reload answered %d %q", rec.Code, rec.Body.String())
	}
	if safe.Get() != cfg || testutil.ToFloat64(r.lastOK) != 0 {
		t.Error("a rejected file must leave the old configuration in force and report the failure")
	}

	if err := os.WriteFile(path, []byte("placement:\n  interval: 45s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	r.serveHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusOK || safe.Get().Placement.Interval.String() != "45s" || testutil.ToFloat64(r.lastOK) != 1 {
		t.Errorf("good reload: %d, interval %s", rec.Code, safe.Get().Placement.Interval)
	}

	rec = httptest.NewRecorder()
	r.serveHTTP(rec, httptest.NewRequest(http.MethodGet, "/-/reload", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", rec.Code)
	}
}

// fakePlacement stands in for the Placement collector so the exporter's own
// metrics can be shown in a golden file.
type fakePlacement struct{}

func (fakePlacement) Update(context.Context, *collector.Config, chan<- prometheus.Metric) error {
	return nil
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/exporter-self.prom")

// The exporter's own metrics (what the dashboards' health panels and the
// alerts use), after one poll and one API request.
func TestExporterSelfMetrics(t *testing.T) {
	safe := collector.NewSafeConfig(collector.DefaultConfig())
	poller := collector.NewPoller(log.NewNopLogger(), safe, map[string]collector.Collector{"placement": fakePlacement{}})
	poller.PollOnce(context.Background(), "placement", fakePlacement{})
	r := newReloader(log.NewNopLogger(), "", []*cloud{{config: safe, poller: poller}})
	api := openstack.NewAPIMetrics()
	reg := prometheus.NewRegistry()
	if err := registerCloud(reg, poller, api); err != nil {
		t.Fatal(err)
	}
	registerOwn(reg, r)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "{}") }))
	defer srv.Close()
	session := openstack.NewSession(&openstack.Cloud{AuthType: openstack.AuthTypeNone, EndpointOverrides: map[string]string{"placement": srv.URL}, TLS: &tls.Config{}}, api, openstack.Limits{RequestTimeout: time.Second})
	sc, err := session.ServiceClient(context.Background(), "placement")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := openstack.Get(context.Background(), sc, openstack.Operation{Service: "placement", Name: "list_resource_providers"}, sc.ServiceURL("resource_providers"), nil, &out); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join("testdata", "exporter-self.prom")
	if *updateGolden {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Durations, timestamps and the Go version vary from run to run: those
	// families are in the golden file for their names, compared by count.
	stable := []string{
		"openstack_capacity_exporter_api_requests_total",
		"openstack_capacity_exporter_collector_poll_interval_seconds",
		"openstack_capacity_exporter_collector_success",
		"openstack_capacity_exporter_config_last_reload_successful",
	}
	if err := testutil.GatherAndCompare(reg, f, stable...); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"openstack_capacity_exporter_build_info", "openstack_capacity_exporter_collector_duration_seconds",
		"openstack_capacity_exporter_collector_last_success_timestamp_seconds", "openstack_capacity_exporter_config_last_reload_success_timestamp_seconds",
		"openstack_capacity_exporter_api_request_duration_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
}
