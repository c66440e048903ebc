//go:build e2e

// Package e2e runs the built exporter against real Placement and Manila
// servers from Debian's packages, started on loopback by e2e/run.sh.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// token is what the noauth clouds.yaml sends; it must never show up in the
// exporter's logs or metrics.
const token = "admin:0123456789abcdef0123456789abcdef"

var (
	binDir       string
	exporterBin  string
	seedBin      string
	repoRoot     string
	placementURL = envOr("PLACEMENT_ENDPOINT", "http://127.0.0.1:18778")
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	var err error
	repoRoot, err = filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	binDir, err = os.MkdirTemp("", "oce-e2e-bin")
	if err != nil {
		panic(err)
	}
	exporterBin = filepath.Join(binDir, "openstack-capacity-exporter")
	seedBin = filepath.Join(binDir, "placement-seed")
	for target, pkg := range map[string]string{exporterBin: "./cmd/openstack-capacity-exporter", seedBin: "./e2e/placement/seed"} {
		cmd := exec.Command("go", "build", "-o", target, pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = repoRoot, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// exporter is one running exporter process.
type exporter struct {
	t       *testing.T
	cmd     *exec.Cmd
	url     string
	dir     string
	scheme  string
	logMu   sync.Mutex
	logs    bytes.Buffer
	auth    [2]string
	client  *http.Client
	stopped bool
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startExporter writes clouds.yaml and config.yml into a temp dir and
// starts the binary with extra flags.
func startExporter(t *testing.T, clouds, config string, flags ...string) *exporter {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cloudsPath := write("clouds.yaml", clouds)
	configPath := write("config.yml", config)
	addr := freePort(t)
	args := append([]string{"--config.file", configPath, "--os-cloud", "local", "--web.listen-address", addr, "--log.level", "debug"}, flags...)
	e := &exporter{t: t, dir: dir, url: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second}}
	e.cmd = exec.Command(exporterBin, args...)
	e.cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+cloudsPath, "OS_CLOUD=")
	e.cmd.Stdout = syncWriter{&e.logMu, &e.logs}
	e.cmd.Stderr = syncWriter{&e.logMu, &e.logs}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("exporter log:\n%s", e.log())
		}
		if strings.Contains(e.log(), token) {
			t.Errorf("the exporter logged the token")
		}
	})
	return e
}

func (e *exporter) stop() {
	if e.stopped {
		return
	}
	e.stopped = true
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.cmd.Process.Kill()
		e.t.Errorf("exporter did not stop within 10 s of SIGTERM")
	}
}

func (e *exporter) log() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

func (e *exporter) configPath() string { return filepath.Join(e.dir, "config.yml") }

func (e *exporter) get(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		return 0, "", err
	}
	if e.auth[0] != "" {
		req.SetBasicAuth(e.auth[0], e.auth[1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (e *exporter) post(path string) (int, string) {
	resp, err := e.client.Post(e.url+path, "text/plain", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrape fetches /metrics and parses it.
func (e *exporter) scrape() (metrics, error) {
	code, body, err := e.get("/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d: %s", code, body)
	}
	if strings.Contains(body, token) {
		e.t.Errorf("the token appears in /metrics")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	return metrics(families), err
}

type metrics map[string]*dto.MetricFamily

// value returns the sample of family name whose labels include want.
func (m metrics) value(name string, want map[string]string) (float64, bool) {
	mf := m[name]
	if mf == nil {
		return 0, false
	}
	for _, metric := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range metric.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			return metric.GetGauge().GetValue() + metric.GetCounter().GetValue() + metric.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func (m metrics) count(name string) int {
	if mf := m[name]; mf != nil {
		return len(mf.GetMetric())
	}
	return 0
}

// labels is a shorthand for building label matchers: labels("k", "v", ...).
func labels(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// eventually polls cond until it returns "" or the deadline passes, and
// returns how long it took.
func (e *exporter) eventually(within time.Duration, what string, cond func(metrics) string) time.Duration {
	e.t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < within {
		m, err := e.scrape()
		if err != nil {
			last = err.Error()
		} else if last = cond(m); last == "" {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("%s: not within %s: %s", what, within, last)
	return 0
}

// expect returns a condition: the family's sample with these labels equals v.
func expect(name string, lbls map[string]string, v float64) func(metrics) string {
	return func(m metrics) string {
		got, ok := m.value(name, lbls)
		if !ok {
			return fmt.Sprintf("%s%v absent", name, lbls)
		}
		if got != v {
			return fmt.Sprintf("%s%v = %v, want %v", name, lbls, got, v)
		}
		return ""
	}
}

func absent(name string, lbls map[string]string) func(metrics) string {
	return func(m metrics) string {
		if v, ok := m.value(name, lbls); ok {
			return fmt.Sprintf("%s%v still present (%v)", name, lbls, v)
		}
		return ""
	}
}

func all(conds ...func(metrics) string) func(metrics) string {
	return func(m metrics) string {
		for _, c := range conds {
			if msg := c(m); msg != "" {
				return msg
			}
		}
		return ""
	}
}

// run executes a command from the repository root and fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// apiJSON sends one request with the microversion header (version, e.g.
// "placement 1.39") and decodes a successful answer into out (when not
// nil); it logs an error's body and returns the status.
func apiJSON(t *testing.T, base, version, method, path string, body, out any) int {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("OpenStack-API-Version", version)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Logf("%s %s%s: %d %s", method, base, path, resp.StatusCode, b.String())
	} else if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}
