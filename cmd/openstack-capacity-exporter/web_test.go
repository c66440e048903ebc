package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

// testExporter is the exporter's HTTP side with a fake collector and a
// configuration file that a test may rewrite.
type testExporter struct {
	handler    http.Handler
	config     *collector.SafeConfig
	configPath string
	poller     *collector.Poller
}

func newTestExporter(t *testing.T, o webOptions, collectors map[string]collector.Collector) *testExporter {
	t.Helper()
	if o.metricsPath == "" {
		o.metricsPath = "/metrics"
	}
	path := writeFile(t, "config.yml", "placement:\n  interval: 30s\n")
	cfg, err := collector.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	safe := collector.NewSafeConfig(cfg)
	poller := collector.NewPoller(log.NewNopLogger(), safe, collectors)
	clouds := []*cloud{{config: safe, collectors: collectors, poller: poller}}
	r := newReloader(log.NewNopLogger(), path, clouds)
	reg := prometheus.NewRegistry()
	if err := registerCloud(reg, poller, openstack.NewAPIMetrics()); err != nil {
		t.Fatal(err)
	}
	registerOwn(reg, r)
	mux, err := newMux(o, log.NewNopLogger(), clouds, r, reg)
	if err != nil {
		t.Fatal(err)
	}
	return &testExporter{handler: mux, config: safe, configPath: path, poller: poller}
}

func (e *testExporter) do(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// Like Prometheus, /-/reload is off unless --web.enable-lifecycle is given
// and then takes POST only; SIGHUP (reloader.reload) works either way.
func TestReloadEndpointNeedsLifecycleFlag(t *testing.T) {
	e := newTestExporter(t, webOptions{}, nil)
	if err := os.WriteFile(e.configPath, []byte("placement:\n  interval: 45s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodGet} {
		resp, body := e.do(t, method, "/-/reload")
		if resp.StatusCode != http.StatusForbidden || body != "Lifecycle API is not enabled.\n" {
			t.Errorf("%s without the flag: %d %q", method, resp.StatusCode, body)
		}
	}
	if got := e.config.Get().Placement.Interval.String(); got != "30s" {
		t.Errorf("reloaded without the flag: interval %s", got)
	}

	e = newTestExporter(t, webOptions{enableLifecycle: true}, nil)
	if err := os.WriteFile(e.configPath, []byte("placement:\n  interval: 45s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodPut, http.MethodGet, http.MethodDelete} {
		resp, body := e.do(t, method, "/-/reload")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost || !strings.Contains(body, "POST") {
			t.Errorf("%s with the flag: %d, Allow %q, %q", method, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
	if got := e.config.Get().Placement.Interval.String(); got != "30s" {
		t.Errorf("reloaded by a refused method: interval %s", got)
	}
	if resp, body := e.do(t, http.MethodPost, "/-/reload"); resp.StatusCode != http.StatusOK || e.config.Get().Placement.Interval.String() != "45s" {
		t.Errorf("POST with the flag: %d %q, interval %s", resp.StatusCode, body, e.config.Get().Placement.Interval)
	}
}

type failingCollector struct{ err error }

func (f failingCollector) Update(context.Context, *collector.Config, chan<- prometheus.Metric) error {
	return f.err
}

// /-/ready: 503 until every enabled collector has finished its first poll,
// then 200 even if that poll failed (/metrics then tells the truth, and
// holding back scrapes would hide it); the body says which collector failed
// and why.
func TestReadyAfterFirstPollEvenIfItFailed(t *testing.T) {
	manila := failingCollector{errors.New("connection refused")}
	e := newTestExporter(t, webOptions{}, map[string]collector.Collector{"placement": fakePlacement{}, "manila": manila})
	if resp, body := e.do(t, http.MethodGet, "/-/ready"); resp.StatusCode != http.StatusServiceUnavailable ||
		body != "Not ready: waiting for the first poll of manila, placement.\n" {
		t.Errorf("before any poll: %d %q", resp.StatusCode, body)
	}
	e.poller.PollOnce(context.Background(), "placement", fakePlacement{})
	if resp, body := e.do(t, http.MethodGet, "/-/ready"); resp.StatusCode != http.StatusServiceUnavailable ||
		body != "Not ready: waiting for the first poll of manila.\n" {
		t.Errorf("before manila's first poll: %d %q", resp.StatusCode, body)
	}
	e.poller.PollOnce(context.Background(), "manila", manila)
	want := "Ready. The last poll of these collectors failed (openstack_capacity_exporter_collector_success 0):\nmanila: connection refused\n"
	if resp, body := e.do(t, http.MethodGet, "/-/ready"); resp.StatusCode != http.StatusOK || body != want {
		t.Errorf("after a failed first poll: %d %q, want %q", resp.StatusCode, body, want)
	}
	e = newTestExporter(t, webOptions{}, map[string]collector.Collector{"placement": fakePlacement{}})
	e.poller.PollOnce(context.Background(), "placement", fakePlacement{})
	if resp, body := e.do(t, http.MethodGet, "/-/ready"); resp.StatusCode != http.StatusOK || body != "Ready.\n" {
		t.Errorf("after a good first poll: %d %q", resp.StatusCode, body)
	}
}

// The landing page shows each collector's last poll, escaped, and links
// pprof only when --web.enable-pprof serves it.
func TestLandingPage(t *testing.T) {
	manila := failingCollector{errors.New(`<script>alert(1)</script> connection refused`)}
	e := newTestExporter(t, webOptions{}, map[string]collector.Collector{"placement": fakePlacement{}, "manila": manila})
	_, body := e.do(t, http.MethodGet, "/")
	for _, want := range []string{
		`<tr><td>manila</td><td colspan="5">waiting for the first poll</td></tr>`,
		`<tr><td>placement</td><td colspan="5">waiting for the first poll</td></tr>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("before any poll: no %s in\n%s", want, body)
		}
	}

	e.poller.PollOnce(context.Background(), "placement", fakePlacement{})
	e.poller.PollOnce(context.Background(), "manila", manila)
	e.poller.PollOnce(context.Background(), "manila", manila)
	resp, body := e.do(t, http.MethodGet, "/")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	state := e.poller.State()
	for _, want := range []string{
		`<a href="/metrics">Metrics</a>`,
		fmt.Sprintf(`<tr><td>manila</td><td>%s</td><td>failed (2 in a row)</td><td>%s</td><td>never</td><td>&lt;script&gt;alert(1)&lt;/script&gt; connection refused</td></tr>`,
			stamp(state[0].LastPoll), state[0].Duration.Round(time.Millisecond)),
		fmt.Sprintf(`<tr><td>placement</td><td>%s</td><td>ok</td><td>%s</td><td>%s</td><td></td></tr>`,
			stamp(state[1].LastPoll), state[1].Duration.Round(time.Millisecond), stamp(state[1].LastSuccess)),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "debug/pprof") {
		t.Errorf("unescaped error text or pprof links without --web.enable-pprof:\n%s", body)
	}
	if resp, _ := e.do(t, http.MethodGet, "/debug/pprof/heap"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("pprof without --web.enable-pprof: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, http.MethodGet, "/nothing-here"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}

	e = newTestExporter(t, webOptions{enablePprof: true}, map[string]collector.Collector{"placement": fakePlacement{}})
	if _, body := e.do(t, http.MethodGet, "/"); !strings.Contains(body, `href="/debug/pprof/heap"`) {
		t.Errorf("no pprof link with --web.enable-pprof:\n%s", body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
		if resp, body := e.do(t, http.MethodGet, path); resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s with --web.enable-pprof: %d", path, resp.StatusCode)
		}
	}
}

// stalledWriter is a client that does not read: a scrape writing to it
// stays in flight until released.
type stalledWriter struct {
	*httptest.ResponseRecorder
	writing chan struct{}
	release chan struct{}
}

func (w stalledWriter) Write(p []byte) (int, error) {
	select {
	case w.writing <- struct{}{}:
	default:
	}
	<-w.release
	return w.ResponseRecorder.Write(p)
}

// --web.max-requests reaches /metrics: with 1, a second scrape while one is
// in flight is refused; with 0 it is served.
func TestMaxRequestsFlag(t *testing.T) {
	var out bytes.Buffer
	good := writeFile(t, "good.yml", "placement:\n  interval: 30s\n")
	if code := run([]string{"--web.max-requests=3", "--config.file", good, "--config.check"}, &out); code != 0 {
		t.Fatalf("--web.max-requests: exit %d: %s", code, out.String())
	}
	for _, c := range []struct{ limit, second int }{{1, http.StatusServiceUnavailable}, {0, http.StatusOK}} {
		e := newTestExporter(t, webOptions{maxRequests: c.limit}, nil)
		stalled := stalledWriter{httptest.NewRecorder(), make(chan struct{}, 1), make(chan struct{})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.handler.ServeHTTP(stalled, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		}()
		<-stalled.writing
		resp, body := e.do(t, http.MethodGet, "/metrics")
		close(stalled.release)
		<-done
		if resp.StatusCode != c.second {
			t.Errorf("limit %d: second scrape %d %q", c.limit, resp.StatusCode, body)
		}
		if stalled.Code != http.StatusOK {
			t.Errorf("limit %d: first scrape %d", c.limit, stalled.Code)
		}
	}
}
