package collector

import (
	"reflect"
	"testing"
	"time"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

func TestCinderConfig(t *testing.T) {
	cfg := mustConfig(t, `
cinder:
  interval: 2m
  max_over_subscription_ratio: auto
  volume_types: [gold, 5f3c2b4e-0000-4000-8000-000000000001]
  missing_pools_retention: 1h
  queries:
    one_pool: {name: "rig-vol1@alpha#a0"}
    other: {name: "rig-vol10@alpha#a0"}
`)
	c := cfg.Cinder
	if time.Duration(c.Interval) != 2*time.Minute || time.Duration(c.Timeout) != 30*time.Second || c.MaxOverSubscriptionRatio != "auto" ||
		time.Duration(c.MissingPoolsRetention) != time.Hour {
		t.Errorf("settings: %+v", c)
	}
	if !reflect.DeepEqual(c.VolumeTypes, VolumeTypeSelection{Names: []string{"gold", "5f3c2b4e-0000-4000-8000-000000000001"}}) {
		t.Errorf("volume types %+v", c.VolumeTypes)
	}
	want := []string{"name=rig-vol1@alpha#a0", "name=rig-vol10@alpha#a0"}
	for i, q := range c.Queries {
		if got := q.Filter.String(); got != want[i] {
			t.Errorf("query %s: %q, want %q", q.Name, got, want[i])
		}
	}
	if err := c.CheckServer(openstack.MustMicroversion("3.28")); err != nil {
		t.Error(err)
	}
	if err := c.CheckServer(openstack.MustMicroversion("3.27")); err == nil ||
		err.Error() != "cinder.queries.one_pool.name: needs Cinder microversion 3.28, the server offers up to 3.27 (below it Cinder silently answers every pool)" {
		t.Errorf("got %v", err)
	}
	if all := mustConfig(t, "cinder: {volume_types: all}\n").Cinder.VolumeTypes; !all.All {
		t.Errorf("all: %+v", all)
	}
	d := DefaultConfig().Cinder
	if d.MaxOverSubscriptionRatio != "20.0" || !d.VolumeTypes.empty() || time.Duration(d.Interval) != time.Minute ||
		time.Duration(d.MissingPoolsRetention) != 24*time.Hour {
		t.Errorf("defaults %+v", d)
	}
}

func TestCinderConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "cinder:\n  detail: true\n",
			`cinder: line 2: unknown key "detail"; allowed keys: interval, max_over_subscription_ratio, missing_pools_retention, queries, timeout, volume_types`},
		{"unknown filter", "cinder:\n  queries:\n    q: {host: x}\n",
			`cinder.queries.q: line 3: unknown key "host"; allowed keys: name, volume_type`},
		{"empty query", "cinder:\n  queries:\n    q: {}\n", `cinder.queries.q: has no filter; give name`},
		{"volume_type query", "cinder:\n  queries:\n    q: {volume_type: gold}\n",
			`cinder.queries.q.volume_type: Cinder's get_pools cannot filter by volume type (its scheduler fails such a request for every type with 400 while any pool reports a numeric free capacity); list the type under cinder.volume_types instead, whose pools the exporter matches itself`},
		{"ratio", "cinder:\n  max_over_subscription_ratio: lots\n",
			`cinder: line 2: max_over_subscription_ratio "lots" must be auto or a number such as 20.0, as in cinder.conf`},
		{"negative ratio", "cinder:\n  max_over_subscription_ratio: -1\n",
			`cinder: line 2: max_over_subscription_ratio "-1" must be auto or a number such as 20.0, as in cinder.conf`},
		{"one type as a scalar", "cinder:\n  volume_types: gold\n",
			`cinder: line 2: volume_types must be all or a list of volume type names or ids (write [gold] for one type)`},
		{"type twice", "cinder:\n  volume_types: [gold, gold]\n", `cinder: line 2: volume type "gold" is listed twice`},
		{"interval", "cinder:\n  interval: 0s\n", `cinder.interval: must be at least 1s (got 0s)`},
		{"retention", "cinder:\n  missing_pools_retention: 1m\n",
			`cinder.missing_pools_retention: must be 0s (off) or at least twice cinder.interval (2m0s), else a vanished pool is forgotten before a poll can report it (got 1m0s)`},
		{"query twice", "cinder:\n  queries:\n    q: {name: a}\n    q: {name: b}\n", `cinder.queries: line 4: query "q" is defined twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}
