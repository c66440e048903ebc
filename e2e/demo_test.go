//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoSettings reads demo/lib.sh's settings as the scripts see them.
func demoSettings(t *testing.T) map[string]string {
	t.Helper()
	out := run(t, "bash", "-c", `source demo/lib.sh && set | grep -E '^DEMO_[A-Z_]+='`)
	settings := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		settings[k] = strings.Trim(v, "'")
	}
	return settings
}

// demoProcesses lists the processes the demo's pid files name, with their
// command lines (to tell a recycled pid from ours).
func demoProcesses(t *testing.T, stateDir string) map[string]string {
	t.Helper()
	procs := map[string]string{}
	_ = filepath.WalkDir(stateDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".pid")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		pid := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
		if cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil {
			procs[pid] = string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
		return nil
	})
	return procs
}

// TestDemo: demo/up.sh brings up Placement, Manila, the exporter and
// Prometheus with the rules; the URLs it prints answer as it says; and
// demo/down.sh leaves nothing of it running.
func TestDemo(t *testing.T) {
	settings := demoSettings(t)
	stateDir := settings["DEMO_STATE_DIR"]
	downRan := false
	down := func() (string, time.Duration) {
		downRan = true
		start := time.Now()
		out := run(t, "demo/down.sh")
		return out, time.Since(start)
	}
	t.Cleanup(func() {
		if !downRan {
			_, _ = exec.Command(filepath.Join(repoRoot, "demo", "down.sh")).CombinedOutput()
		}
	})

	start := time.Now()
	up := exec.Command("demo/up.sh")
	up.Dir = repoRoot
	var stdout, stderr bytes.Buffer
	up.Stdout, up.Stderr = &stdout, &stderr
	if err := up.Run(); err != nil {
		t.Fatalf("demo/up.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	tookUp := time.Since(start)
	t.Logf("demo/up.sh took %s; its progress:\n%s", tookUp.Round(time.Second), grepLines(stderr.String(), "^demo: "))

	// The URLs it prints, by name ("  exporter:    http://…/").
	printed := stdout.String()
	urls := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(printed))
	line := regexp.MustCompile(`^  ([A-Za-z]+):\s+(http://\S+)`)
	for scanner.Scan() {
		if m := line.FindStringSubmatch(scanner.Text()); m != nil {
			urls[m[1]] = m[2]
		}
	}
	for _, name := range []string{"exporter", "metrics", "Prometheus", "targets", "alerts"} {
		if urls[name] == "" {
			t.Fatalf("demo/up.sh printed no %s URL:\n%s", name, printed)
		}
	}
	if !strings.Contains(printed, "demo/down.sh") {
		t.Errorf("demo/up.sh does not say how to stop it:\n%s", printed)
	}

	get := func(t *testing.T, url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body.String())
		}
		return body.String()
	}

	t.Run("exporter", func(t *testing.T) {
		if page := get(t, urls["exporter"]); !strings.Contains(page, "placement") || !strings.Contains(page, "manila") {
			t.Errorf("landing page names neither collector:\n%s", page)
		}
		e := &exporter{t: t, url: strings.TrimSuffix(urls["exporter"], "/"), client: &http.Client{Timeout: 10 * time.Second}}
		if !strings.HasPrefix(urls["metrics"], e.url) {
			t.Errorf("metrics URL %s is not the exporter's %s", urls["metrics"], e.url)
		}
		m, err := e.scrape()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []func(metrics) string{
			expect("openstack_placement_up", nil, 1),
			expect("openstack_manila_up", nil, 1),
			expect("openstack_placement_resource_providers", nil, 7),
			expect("openstack_manila_pools", labels("host", "rig-node1", "backend", "alpha"), 3),
		} {
			if msg := c(m); msg != "" {
				t.Error(msg)
			}
		}
		// Every query of examples/config.yml runs on the demo cloud and
		// matches something: the example is not a list of failing queries.
		for _, family := range []string{"openstack_placement_query_success", "openstack_manila_query_success"} {
			if m.count(family) == 0 {
				t.Errorf("%s: no queries (examples/config.yml has some)", family)
			}
			for _, metric := range m[family].GetMetric() {
				query := metric.GetLabel()[0].GetValue()
				if metric.GetGauge().GetValue() != 1 {
					t.Errorf("%s{query=%q} = %v", family, query, metric.GetGauge().GetValue())
				}
				matched := strings.Replace(family, "_success", "_resource_providers", 1)
				if strings.Contains(family, "manila") {
					matched = "openstack_manila_query_pools"
				}
				if v, _ := m.value(matched, labels("query", query)); v == 0 {
					t.Errorf("%s{query=%q} = 0: the example query matches nothing on the demo cloud", matched, query)
				}
			}
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		base, err := url.Parse(urls["Prometheus"])
		if err != nil {
			t.Fatal(err)
		}
		prom := &promServer{t: t, url: base.Scheme + "://" + base.Host}
		var targets struct {
			Data struct {
				ActiveTargets []struct {
					Labels    map[string]string `json:"labels"`
					Health    string            `json:"health"`
					ScrapeURL string            `json:"scrapeUrl"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(get(t, prom.url+"/api/v1/targets")), &targets); err != nil {
			t.Fatal(err)
		}
		if n := len(targets.Data.ActiveTargets); n != 1 {
			t.Fatalf("%d targets, want the exporter only: %+v", n, targets.Data.ActiveTargets)
		}
		if tg := targets.Data.ActiveTargets[0]; tg.Health != "up" || tg.ScrapeURL != urls["metrics"] {
			t.Errorf("target %s is %s, want %s up", tg.ScrapeURL, tg.Health, urls["metrics"])
		}
		// The exporter's samples are stored, and every rule of the file is loaded.
		if r := prom.query(`openstack_placement_up == 1 and on (instance) openstack_manila_up == 1`); len(r.Data.Result) != 1 {
			t.Errorf("Prometheus has no openstack_placement_up 1 with openstack_manila_up 1: %+v", r)
		}
		var rules struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name   string `json:"name"`
						Health string `json:"health"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(get(t, prom.url+"/api/v1/rules")), &rules); err != nil {
			t.Fatal(err)
		}
		loaded := 0
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				loaded++
				if r.Health == "err" {
					t.Errorf("rule %s fails to evaluate", r.Name)
				}
			}
		}
		// The copy Prometheus loaded: the repository's may change meanwhile.
		file, err := os.ReadFile(filepath.Join(stateDir, "prometheus", "openstack-capacity.rules.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if want := len(regexp.MustCompile(`(?m)^\s+- (alert|record):`).FindAll(file, -1)); loaded != want {
			t.Errorf("Prometheus loaded %d rules, the rule file has %d", loaded, want)
		}
		// The web UI answers, and the alerts page lists the rule file's alerts.
		for _, page := range []string{"Prometheus", "targets"} {
			if body := get(t, urls[page]); !strings.Contains(body, "<title>Prometheus") {
				t.Errorf("%s page %s: %.300s", page, urls[page], body)
			}
		}
		if body := get(t, urls["alerts"]); !strings.Contains(body, "OpenStackPlacementAPIDown") {
			t.Errorf("alerts page %s does not list OpenStackPlacementAPIDown: %.300s", urls["alerts"], body)
		}
	})

	// Everything the pid files name, and every port, before stopping.
	procs := demoProcesses(t, stateDir)
	var ports []string
	for k, v := range settings {
		if strings.HasSuffix(k, "_PORT") {
			ports = append(ports, v)
		}
	}
	if len(procs) < 5 || len(ports) < 8 {
		t.Errorf("found %d processes and %d ports of the demo; the test no longer sees what it runs", len(procs), len(ports))
	}
	out, tookDown := down()
	t.Logf("demo/down.sh took %s", tookDown.Round(time.Second))
	if !strings.Contains(out, "stopped") {
		t.Errorf("demo/down.sh said:\n%s", out)
	}
	for pid, cmdline := range procs {
		if now, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && string(bytes.ReplaceAll(now, []byte{0}, []byte{' '})) == cmdline {
			t.Errorf("still running after demo/down.sh: %s %s", pid, cmdline)
		}
	}
	for _, port := range ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Errorf("127.0.0.1:%s still answers after demo/down.sh", port)
		}
	}
	// A second down.sh is harmless.
	run(t, "demo/down.sh")
	t.Logf("up %s + down %s = %s", tookUp.Round(time.Second), tookDown.Round(time.Second), fmt.Sprint((tookUp + tookDown).Round(time.Second)))
}

// grepLines keeps the lines of text matching pattern.
func grepLines(text, pattern string) string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
