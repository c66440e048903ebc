package collector

import (
	"math"
	"testing"
	"time"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func TestManilaConfig(t *testing.T) {
	cfg := mustConfig(t, `
manila:
  interval: 2m
  detail: false
  scope: {host: "rig-node", backend: alpha}
  queries:
    node1_exact: {host: rig-node1, exact: true}
    node1_prefix: {host: rig-node1}
    alpha_gold: {share_type: gold, pool: "a[0-9]+"}
    already_anchored: {name: "rig-node1@alpha#a0$", exact: true}
    lookahead: {pool: "a(?=1)"}
`)
	m := cfg.Manila
	if time.Duration(m.Interval) != 2*time.Minute || time.Duration(m.Timeout) != 30*time.Second || m.Detail {
		t.Errorf("settings: %+v", m)
	}
	if got := m.Scope.String(); got != "backend=alpha&host=rig-node" {
		t.Errorf("scope %q", got)
	}
	want := []string{"host=rig-node1$", "host=rig-node1", "pool=a[0-9]+&share_type=gold", "name=rig-node1@alpha#a0$", "pool=a(?=1)"}
	for i, q := range m.Queries {
		if got := q.Filter.String(); got != want[i] {
			t.Errorf("query %s: %q, want %q", q.Name, got, want[i])
		}
	}
	if err := m.CheckServer(openstack.MustMicroversion("2.22")); err == nil ||
		err.Error() != "manila.queries.alpha_gold.share_type: needs Manila microversion 2.23, the server offers up to 2.22 (below it Manila silently answers an empty list)" {
		t.Errorf("got %v", err)
	}
	if err := m.CheckServer(openstack.MustMicroversion("2.23")); err != nil {
		t.Error(err)
	}
	if d := DefaultConfig().Manila; !d.Detail || time.Duration(d.Interval) != time.Minute || time.Duration(d.MissingPoolsRetention) != 24*time.Hour {
		t.Errorf("defaults %+v", d)
	}
	if off := mustConfig(t, "manila:\n  missing_pools_retention: 0s\n").Manila; off.MissingPoolsRetention != 0 {
		t.Errorf("0s gives %s", off.MissingPoolsRetention)
	}
}

func TestManilaConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "manila:\n  detial: true\n",
			`manila: line 2: unknown key "detial"; allowed keys: detail, interval, missing_pools_retention, queries, scope, timeout`},
		{"unknown filter", "manila:\n  queries:\n    q: {Host: x}\n",
			`manila.queries.q: line 3: unknown key "Host"; allowed keys: backend, exact, host, name, pool, share_type`},
		{"limit is no filter", "manila:\n  scope: {limit: 10}\n",
			`manila.scope: line 2: unknown key "limit"; allowed keys: backend, exact, host, name, pool, share_type`},
		{"empty query", "manila:\n  queries:\n    q: {exact: true}\n",
			`manila.queries.q: has no filter; give at least one of host, backend, pool, name, share_type`},
		{"unbalanced paren", "manila:\n  queries:\n    q: {pool: '('}\n",
			`manila.queries.q.pool: "(" is not a valid regular expression (Manila would answer 500): missing closing )`},
		{"nothing to repeat", "manila:\n  scope: {host: '*node'}\n",
			`manila.scope.host: "*node" is not a valid regular expression (Manila would answer 500): missing argument to repetition operator`},
		{"bad range", "manila:\n  queries:\n    q: {backend: '[z-a]'}\n",
			`manila.queries.q.backend: "[z-a]" is not a valid regular expression (Manila would answer 500): invalid character class range`},
		{"unclosed bracket", "manila:\n  queries:\n    q: {name: 'a[bc'}\n",
			`manila.queries.q.name: "a[bc" is not a valid regular expression (Manila would answer 500): missing closing ]`},
		{"trailing backslash", "manila:\n  queries:\n    q: {host: 'node\\'}\n",
			`manila.queries.q.host: "node\\" is not a valid regular expression (Manila would answer 500): trailing backslash at end of expression`},
		{"interval", "manila:\n  interval: 0s\n", `manila.interval: must be at least 1s (got 0s)`},
		{"retention below twice the interval", "manila:\n  interval: 5m\n  missing_pools_retention: 9m\n",
			`manila.missing_pools_retention: must be 0s (off) or at least twice manila.interval (10m0s), else a vanished pool is forgotten before a poll can report it (got 9m0s)`},
		{"negative retention", "manila:\n  missing_pools_retention: -1h\n",
			`manila.missing_pools_retention: must be 0s (off) or at least twice manila.interval (2m0s), else a vanished pool is forgotten before a poll can report it (got -1h0m0s)`},
		{"retention not a duration", "manila:\n  missing_pools_retention: 1d\n",
			`manila: line 2: "1d" is not a duration (write e.g. 30s, 5m or 1h)`},
		{"query twice", "manila:\n  queries:\n    q: {host: a}\n    q: {host: b}\n", `manila.queries: line 4: query "q" is defined twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestManilaCapabilityValues(t *testing.T) {
	caps := capabilities{
		"n": []byte(`100`), "f": []byte(`50.5`), "s": []byte(`"100.5"`), "inf": []byte(`"infinite"`), "Inf": []byte(`"Infinite"`),
		"unknown": []byte(`"unknown"`), "null": []byte(`null`), "junk": []byte(`"lots"`), "list": []byte(`[true, false]`),
		"bool": []byte(`false`), "ts": []byte(`"2026-11-22T10:30:18.431738"`),
	}
	for key, want := range map[string]float64{"n": 100, "f": 50.5, "s": 100.5} {
		if v, ok, err := caps.number(key); !ok || err != nil || v != want {
			t.Errorf("%s: %v %v %v", key, v, ok, err)
		}
	}
	for _, key := range []string{"inf", "Inf"} {
		if v, ok, err := caps.number(key); !ok || err != nil || v <= 1e308 {
			t.Errorf("%s: %v %v %v", key, v, ok, err)
		}
	}
	for _, key := range []string{"unknown", "null", "absent"} {
		if v, ok, err := caps.number(key); ok || err != nil {
			t.Errorf("%s: %v %v must be absent, not an error", key, v, err)
		}
	}
	for _, key := range []string{"junk", "list", "bool"} {
		if v, ok, err := caps.number(key); ok || err == nil {
			t.Errorf("%s: %v must be absent and an error", key, v)
		}
	}
	if caps.text("list") != "true,false" || caps.text("bool") != "false" || caps.text("s") != "100.5" || caps.text("absent") != "" || caps.text("null") != "" {
		t.Errorf("text: %q %q %q", caps.text("list"), caps.text("bool"), caps.text("s"))
	}
	if ts, ok, err := caps.timestamp("ts"); !ok || err != nil || math.Abs(ts-1795343418.431738) > 1e-6 {
		t.Errorf("timestamp %v %v %v", ts, ok, err)
	}
	if _, ok, err := caps.timestamp("junk"); ok || err == nil {
		t.Errorf("timestamp junk: %v %v", ok, err)
	}
	if _, ok, err := caps.timestamp("absent"); ok || err != nil {
		t.Errorf("timestamp absent: %v %v", ok, err)
	}
}
