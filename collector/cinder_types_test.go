package collector

import (
	"encoding/json"
	"testing"
)

// extra_specs_ops.match (cinder/scheduler/filters/extra_specs_ops.py, Zed),
// case by case: the capability as a driver reports it (JSON), the
// requirement as a volume type's extra spec writes it.
func TestCinderExtraSpecMatches(t *testing.T) {
	for _, tc := range []struct {
		value, req string
		want       bool
	}{
		{`"alpha"`, "alpha", true}, // no operator: string equality
		{`"alpha"`, "alph", false},
		{`10`, "10", false},             // Python: 10 == "10" is False
		{`true`, "True", false},         // likewise for a bool
		{`true`, "<is> True", true},     // bool_from_string on both sides
		{`"true"`, "<is> True", true},   // ... a string capability too
		{`false`, "<is> True", false},   //
		{`"yes"`, "<is> False", false},  //
		{`12`, ">= 10", true},           // float(x) >= float(y)
		{`"12"`, ">= 10", true},         //
		{`9.5`, "= 10", false},          // "=" means >=
		{`10`, "== 10.0", true},         //
		{`10`, "!= 10", false},          //
		{`"abc"`, ">= 10", false},       // float("abc"): ValueError, no match
		{`"iSCSI"`, "<in> SCSI", true},  // substring
		{`"NFS"`, "<in> SCSI", false},   //
		{`"b"`, "<or> a <or> b", true},  //
		{`"c"`, "<or> a <or> b", false}, //
		{`"abc"`, "s== abc", true},      // string comparisons
		{`"abd"`, "s> abc", true},       //
		{`10`, "s== 10", false},         // not a string: no match
		{`null`, "<is> True", false},    // None matches no operator
		{`"x y"`, "x y", true},          // an unknown first word: the whole text is compared
		{`"ceph"`, "<or> ceph", true},   //
		{`"a"`, ">= ", false},           // an operator without an operand
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.value), &v); err != nil {
			t.Fatal(err)
		}
		if got := extraSpecMatches(v, tc.req); got != tc.want {
			t.Errorf("match(%s, %q) = %v, want %v", tc.value, tc.req, got, tc.want)
		}
	}
}

// CapabilitiesFilter._satisfies_extra_specs: every unscoped or
// capabilities: key must match, other scopes are ignored, lists match
// when any element does, and a protocol matches any of its spellings.
func TestCinderPoolSatisfies(t *testing.T) {
	var caps capabilities
	if err := json.Unmarshal([]byte(`{"volume_backend_name": "alpha", "pool_name": "a1", "thin_provisioning_support": true,
		"storage_protocol": "iSCSI", "multiattach": false, "nested": {"tier": "gold"}, "modes": ["ro", "rw"]}`), &caps); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		specs map[string]string
		want  bool
	}{
		{nil, true},
		{map[string]string{"volume_backend_name": "alpha"}, true},
		{map[string]string{"volume_backend_name": "alpha", "pool_name": "a0"}, false},
		{map[string]string{"capabilities:pool_name": "a1"}, true},
		{map[string]string{"provisioning:type": "thick", "RESKEY:availability_zones": "az9"}, true}, // other scopes: ignored
		{map[string]string{"thin_provisioning_support": "<is> True"}, true},
		{map[string]string{"multiattach": "<is> True"}, false},
		{map[string]string{"storage_protocol": "iscsi"}, true}, // a variant of iSCSI
		{map[string]string{"storage_protocol": "FC"}, false},
		{map[string]string{"capabilities:nested:tier": "gold"}, true},
		{map[string]string{"capabilities:nested:tier:x": "gold"}, false},
		{map[string]string{"modes": "rw"}, true},
		{map[string]string{"QoS_support": "<is> True"}, false}, // not reported: no match
	} {
		if got := cinderPoolSatisfies(caps, tc.specs); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.specs, got, tc.want)
		}
	}
}
