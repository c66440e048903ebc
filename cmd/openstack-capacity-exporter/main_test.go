package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
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
	if code := run([]string{"--config.file", good, "--config.check"}); code != 0 {
		t.Errorf("valid file: exit %d", code)
	}
	if code := run([]string{"--config.file", bad, "--config.check"}); code != 1 {
		t.Errorf("invalid file: exit %d", code)
	}
	if code := run([]string{"--no-such-flag"}); code != 2 {
		t.Errorf("bad flag: exit %d", code)
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
	r := newReloader(log.NewNopLogger(), path, safe, nil, collector.NewPoller(log.NewNopLogger(), safe, nil))

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
