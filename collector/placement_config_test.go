package collector

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
)

const (
	aggA = "20000000-0000-4000-8000-000000000001"
	aggB = "20000000-0000-4000-8000-000000000002"
)

func TestParseConfigDefaults(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n", "placement:\n", "placement: {}\n"} {
		cfg, err := ParseConfig([]byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		p := cfg.Placement
		if time.Duration(p.Interval) != time.Minute || time.Duration(p.Timeout) != 50*time.Second || p.Concurrency != 8 ||
			time.Duration(p.UsagesMaxAge) != 5*time.Minute || time.Duration(p.AggregatesMaxAge) != 10*time.Minute ||
			p.TraitsInclude.String() != "^CUSTOM_" || !p.Metrics.Usage || !p.Metrics.Tree || p.Scope != nil || len(p.Queries) != 0 {
			t.Errorf("%q: unexpected defaults %+v", text, p)
		}
	}
}

func TestParseConfigExample(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "config", "placement-all-forms.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Placement
	if time.Duration(p.Interval) != 30*time.Second || p.Concurrency != 4 || p.Metrics.Generation || !p.Metrics.Inventory {
		t.Errorf("settings not read: %+v", p)
	}
	if p.Scope == nil || p.Scope.String() != "in_tree=10000000-0000-4000-8000-000000000001" {
		t.Errorf("scope = %v", p.Scope)
	}
	want := map[string]string{
		"by_name":           "name=cn1",
		"member_any":        "member_of=in:" + aggA + "," + aggB,
		"member_both":       "member_of=" + aggA + "&member_of=" + aggB,
		"gold_not_silver":   "required=CUSTOM_GOLD&required=!CUSTOM_SILVER",
		"big_free":          "resources=VCPU:4,MEMORY_MB:2048",
		"not_in_a_or_b":     "member_of=!in:" + aggA + "," + aggB,
		"gold_or_silver":    "required=in:CUSTOM_GOLD,CUSTOM_SILVER",
		"combined":          "member_of=" + aggA + "&required=HW_CPU_X86_AVX2&resources=VCPU:1",
		"gpu_tree":          "in_tree=10000000-0000-4000-8000-000000000004",
		"gold_single_value": "required=CUSTOM_GOLD",
	}
	got := map[string]string{}
	for _, q := range p.Queries {
		got[q.Name] = q.Filter.String()
	}
	for name, filter := range want {
		if got[name] != filter {
			t.Errorf("query %s: got %q, want %q", name, got[name], filter)
		}
	}
	if p.Queries[0].Name != "by_name" || !p.Queries[0].ExportMembers {
		t.Errorf("queries must keep file order and export_members: %+v", p.Queries[0])
	}
}

// Every mistake an operator can make is rejected with a message that names
// the field and says what to write instead.
func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top-level section", "placment: {}\n",
			`config: line 1: unknown key "placment"; allowed keys: capacity, cinder, clouds, manila, nova, placement`},
		{"unknown placement key", "placement:\n  intervall: 30s\n",
			`placement: line 2: unknown key "intervall"; allowed keys: aggregates_max_age, concurrency, interval, metrics, queries, scope, timeout, traits_include, trust_aggregate_generation, usages_max_age`},
		{"bad duration", "placement:\n  interval: 5x\n",
			`placement: line 2: "5x" is not a duration (write e.g. 30s, 5m or 1h)`},
		{"interval too short", "placement:\n  interval: 10ms\n",
			`placement.interval: must be at least 1s (got 10ms)`},
		{"zero timeout", "placement:\n  timeout: 0s\n",
			`placement.timeout: must be positive (got 0s); it bounds a whole poll`},
		{"concurrency", "placement:\n  concurrency: 0\n",
			`placement.concurrency: must be between 1 and 256 (got 0)`},
		{"concurrency not an integer", "placement:\n  concurrency: 2.5\n",
			`placement.concurrency: line 2: 2.5 is not an integer (write a whole number such as 8)`},
		{"concurrency in float notation", "placement:\n  concurrency: 1e1\n",
			`placement.concurrency: line 2: 1e1 is not an integer (write a whole number such as 8)`},
		{"negative max age", "placement:\n  usages_max_age: -1m\n",
			`placement: usages_max_age and aggregates_max_age must not be negative; 0s means refresh on every poll`},
		{"bad trait regex", "placement:\n  traits_include: 'CUSTOM_('\n",
			"placement: line 2: \"CUSTOM_(\" is not a valid regular expression: error parsing regexp: missing closing ): `CUSTOM_(`"},
		{"unknown metric family", "placement:\n  metrics: {usages: false}\n",
			`placement.metrics: line 2: unknown key "usages"; allowed keys: aggregates, generation, inventory, inventory_units, provider_info, traits, tree, usage`},
		{"unknown scope key", "placement:\n  scope: {in_tre: x}\n",
			`placement.scope: line 2: unknown key "in_tre"; allowed keys: in_tree, member_of, name, required, resources, uuid`},
		{"unknown query key", "placement:\n  queries:\n    gpu:\n      require: CUSTOM_GPU\n",
			`placement.queries.gpu: line 4: unknown key "require"; allowed keys: export_members, in_tree, member_of, name, required, resources, uuid`},
		{"empty query", "placement:\n  queries:\n    gpu: {}\n",
			`placement.queries.gpu: has no filter; give at least one of name, uuid, member_of, resources, in_tree, required`},
		{"bad query name", "placement:\n  queries:\n    'gpu hosts': {name: x}\n",
			`placement.queries: line 3: query name "gpu hosts" must start with a letter, digit or _ and contain only letters, digits, _ . : -`},
		{"query defined twice", "placement:\n  queries:\n    gpu: {name: x}\n    gpu: {name: y}\n",
			`placement.queries: line 4: query "gpu" is defined twice`},
		{"malformed uuid", "placement:\n  queries:\n    q: {uuid: not-a-uuid}\n",
			`placement.queries.q.uuid: "not-a-uuid" is not a uuid (like 10000000-0000-4000-8000-000000000001)`},
		{"malformed in_tree", "placement:\n  scope: {in_tree: 1234}\n",
			`placement.scope.in_tree: "1234" is not a uuid (like 10000000-0000-4000-8000-000000000001)`},
		{"two uuids", "placement:\n  queries:\n    q: {uuid: [" + aggA + ", " + aggB + "]}\n",
			`placement.queries.q.uuid: given 2 times; Placement matches one uuid`},
		{"empty name", "placement:\n  queries:\n    q: {name: ''}\n",
			`placement.queries.q.name: must not be empty`},
		{"malformed member_of", "placement:\n  queries:\n    q: {member_of: agg-a}\n",
			`placement.queries.q.member_of[0]: "agg-a": expected an aggregate uuid, in:UUID,UUID, !UUID or !in:UUID,UUID`},
		{"malformed uuid in in:", "placement:\n  queries:\n    q: {member_of: ['in:" + aggA + ",nope']}\n",
			`placement.queries.q.member_of[0]: "in:` + aggA + `,nope": "nope" in the in: list is not an aggregate uuid`},
		{"! inside in:", "placement:\n  queries:\n    q: {member_of: [" + aggA + ", 'in:" + aggA + ",!" + aggB + "']}\n",
			`placement.queries.q.member_of[1]: "in:` + aggA + `,!` + aggB + `": '!' inside in: is not supported by Placement; use !in:A,B to exclude all of them, or a separate member_of entry !B`},
		{"resources repeated", "placement:\n  queries:\n    q: {resources: ['VCPU:1', 'MEMORY_MB:512']}\n",
			`placement.queries.q.resources: given 2 times; Placement silently keeps only the last one; put every class in one value, e.g. VCPU:4,MEMORY_MB:2048`},
		{"resources amount zero", "placement:\n  queries:\n    q: {resources: 'VCPU:0'}\n",
			`placement.queries.q.resources: "VCPU:0": amount "0" of VCPU must be an integer >= 1`},
		{"resources amount not integer", "placement:\n  queries:\n    q: {resources: 'VCPU:1.5'}\n",
			`placement.queries.q.resources: "VCPU:1.5": amount "1.5" of VCPU must be an integer >= 1`},
		{"resources without amount", "placement:\n  queries:\n    q: {resources: 'VCPU'}\n",
			`placement.queries.q.resources: "VCPU": "VCPU" is not CLASS:AMOUNT`},
		{"resources class repeated", "placement:\n  queries:\n    q: {resources: 'VCPU:1,VCPU:2'}\n",
			`placement.queries.q.resources: "VCPU:1,VCPU:2": resource class VCPU is given twice`},
		{"resources lower case", "placement:\n  queries:\n    q: {resources: 'vcpu:1'}\n",
			`placement.queries.q.resources: "vcpu:1": resource class "vcpu" must be upper case letters, digits and _ (e.g. VCPU, CUSTOM_GPU)`},
		{"bad trait", "placement:\n  queries:\n    q: {required: 'custom_gold'}\n",
			`placement.queries.q.required[0]: "custom_gold": trait "custom_gold" must be upper case letters, digits and _ (e.g. HW_CPU_X86_AVX2, CUSTOM_GOLD)`},
		{"! inside required in:", "placement:\n  queries:\n    q: {required: 'in:CUSTOM_A,!CUSTOM_B'}\n",
			`placement.queries.q.required[0]: "in:CUSTOM_A,!CUSTOM_B": '!' inside in: is not supported by Placement; put forbidden traits in a separate required entry`},
		{"!in: for traits", "placement:\n  queries:\n    q: {required: '!in:CUSTOM_A,CUSTOM_B'}\n",
			`placement.queries.q.required[0]: "!in:CUSTOM_A,CUSTOM_B": !in: is not supported by Placement for traits; list each forbidden trait as !TRAIT`},
		{"duplicate yaml key", "placement:\n  interval: 30s\n  interval: 40s\n",
			`placement: line 3: mapping key "interval" already defined at line 2`},
		{"not a mapping", "placement: 5\n",
			`placement: line 1: expected a mapping of keys to values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted, want error %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// YAML decodes 2.5 into an int as 2 without a word: every integer field of
// every section must take only integers.
func TestConfigIntegerFieldsRejectFractions(t *testing.T) {
	var walk func(path string, typ reflect.Type)
	checked := 0
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if reflect.PointerTo(f.Type).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) && f.Type.Kind() != reflect.Struct {
				continue // decodes itself (a Duration is an int64 written "30s")
			}
			switch f.Type.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				checked++
				segments := strings.Split(path+"."+name, ".")[1:]
				var doc strings.Builder
				for depth, seg := range segments {
					doc.WriteString(strings.Repeat("  ", depth) + seg + ":")
					if depth < len(segments)-1 {
						doc.WriteString("\n")
					}
				}
				doc.WriteString(" 2.5\n")
				_, err := ParseConfig([]byte(doc.String()))
				if err == nil || !strings.Contains(err.Error(), "2.5 is not an integer") {
					t.Errorf("%s: 2.5 gives %v, want it rejected as not an integer", strings.Join(segments, "."), err)
				}
			case reflect.Struct, reflect.Pointer:
				walk(path+"."+name, f.Type)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	if checked == 0 {
		t.Fatal("no integer field found: the walk is broken")
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(path, []byte("placement:\n  concurrency: 999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": placement.concurrency:") {
		t.Errorf("got %v", err)
	}
}

// Filters that need a newer microversion than the server offers are refused
// before anything is sent: Placement would answer 400 or, for a repeated
// required below 1.39, silently keep only the last one.
func TestPlacementCheckServer(t *testing.T) {
	for _, tc := range []struct {
		filter, max, want string
	}{
		{"member_of: " + aggA, "1.2", "placement.queries.q: member_of needs Placement microversion 1.3, the server offers up to 1.2"},
		{"member_of: " + aggA, "1.3", ""},
		{"member_of: [" + aggA + ", " + aggB + "]", "1.23", "placement.queries.q: member_of given more than once needs Placement microversion 1.24, the server offers up to 1.23"},
		{"member_of: '!" + aggA + "'", "1.31", "placement.queries.q: member_of with ! needs Placement microversion 1.32, the server offers up to 1.31"},
		{"member_of: '!in:" + aggA + "," + aggB + "'", "1.32", ""},
		{"resources: VCPU:1", "1.3", "placement.queries.q: resources needs Placement microversion 1.4, the server offers up to 1.3"},
		{"in_tree: " + aggA, "1.13", "placement.queries.q: in_tree needs Placement microversion 1.14, the server offers up to 1.13"},
		{"required: CUSTOM_A", "1.17", "placement.queries.q: required needs Placement microversion 1.18, the server offers up to 1.17"},
		{"required: '!CUSTOM_A'", "1.21", "placement.queries.q: required with !TRAIT needs Placement microversion 1.22, the server offers up to 1.21"},
		{"required: [CUSTOM_A, CUSTOM_B]", "1.38", "placement.queries.q: required given more than once needs Placement microversion 1.39, the server offers up to 1.38"},
		{"required: 'in:CUSTOM_A,CUSTOM_B'", "1.38", "placement.queries.q: required=in: needs Placement microversion 1.39, the server offers up to 1.38"},
		{"required: [CUSTOM_A, '!CUSTOM_B']", "1.39", ""},
		{"name: cn1", "1.0", ""},
	} {
		cfg, err := ParseConfig([]byte("placement:\n  queries:\n    q: {" + strings.ReplaceAll(tc.filter, "\n", " ") + "}\n"))
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		err = cfg.Placement.CheckServer(openstack.MustMicroversion(tc.max))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s at %s:\n got: %q\nwant: %q", tc.filter, tc.max, got, tc.want)
		}
	}
}
