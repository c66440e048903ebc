package collector

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Which pools can serve a volume type, judged by the exporter itself:
// Cinder Zed's get_pools?volume_type= fails for every type on any cloud
// with a pool of numeric free capacity (the scheduler runs its
// CapacityFilter without a size and hits a TypeError; the API answers 400,
// see e2e/cinder/README.md). So the exporter applies what the scheduler's
// CapabilitiesFilter (cinder/scheduler/filters/capabilities_filter.py)
// applies, the type's extra specs against the pool's capabilities with
// the operators of cinder/scheduler/filters/extra_specs_ops.py, to the
// pools it already read. Capacity is left out on purpose: it depends on
// the volume's size (virtual_free_bytes says how large a volume fits).

// cinderVolumeType is an entry of GET /types as an admin sees it.
type cinderVolumeType struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	ExtraSpecs map[string]string `json:"extra_specs"`
}

// storageProtocolVariants mirrors cinder/common/constants.py: the
// scheduler holds a protocol as the list of its spellings, the API shows
// only the first.
var storageProtocolVariants = [][]string{
	{"iSCSI", "iscsi"},
	{"FC", "fibre_channel", "fc"},
	{"NFS", "nfs"},
	{"NVMe-oF", "NVMeOF", "nvmeof"},
}

// cinderPoolSatisfies mirrors CapabilitiesFilter._satisfies_extra_specs.
func cinderPoolSatisfies(caps capabilities, extraSpecs map[string]string) bool {
	for key, req := range extraSpecs {
		scope := strings.Split(key, ":")
		if len(scope) > 1 && scope[0] != "capabilities" {
			continue // vendor or other scopes are not capabilities
		}
		if scope[0] == "capabilities" {
			scope = scope[1:]
		}
		var capability any = map[string]any(nil)
		for i, name := range scope {
			var next any
			if i == 0 {
				raw, ok := caps[name]
				if !ok || json.Unmarshal(raw, &next) != nil {
					return false
				}
				if name == "storage_protocol" {
					next = protocolVariants(next)
				}
			} else {
				m, ok := capability.(map[string]any)
				if !ok {
					return false
				}
				if next, ok = m[name]; !ok {
					return false
				}
			}
			capability = next
		}
		values, isList := capability.([]any)
		if !isList {
			values = []any{capability}
		}
		if !slices.ContainsFunc(values, func(v any) bool { return extraSpecMatches(v, req) }) {
			return false
		}
	}
	return true
}

func protocolVariants(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	for _, variants := range storageProtocolVariants {
		if slices.Contains(variants, s) {
			out := make([]any, len(variants))
			for i, variant := range variants {
				out[i] = variant
			}
			return out
		}
	}
	return v
}

// extraSpecMatches mirrors extra_specs_ops.match for one capability value
// (decoded JSON) and a requirement such as "<is> True", ">= 10" or
// "<or> a <or> b". Where Python would raise a TypeError (a string
// operator on a number, say) the scheduler fails the request; here the
// pool just does not match.
func extraSpecMatches(value any, req string) bool {
	words := strings.Fields(req)
	op := ""
	if len(words) > 0 {
		op, words = words[0], words[1:]
	}
	method, known := extraSpecOps[op]
	if op != "<or>" && !known {
		s, ok := value.(string)
		return ok && s == req
	}
	if value == nil {
		return false
	}
	if op == "<or>" {
		for len(words) > 0 {
			if s, ok := value.(string); ok && s == words[0] {
				return true
			}
			words = words[1:]
			if len(words) == 0 {
				break
			}
			words = words[1:] // the next "<or>"
		}
		return false
	}
	return len(words) > 0 && method(value, words[0])
}

var extraSpecOps = map[string]func(x any, y string) bool{
	"=":    func(x any, y string) bool { return floatOp(x, y, func(a, b float64) bool { return a >= b }) },
	"==":   func(x any, y string) bool { return floatOp(x, y, func(a, b float64) bool { return a == b }) },
	"!=":   func(x any, y string) bool { return floatOp(x, y, func(a, b float64) bool { return a != b }) },
	">=":   func(x any, y string) bool { return floatOp(x, y, func(a, b float64) bool { return a >= b }) },
	"<=":   func(x any, y string) bool { return floatOp(x, y, func(a, b float64) bool { return a <= b }) },
	"<in>": inOp,
	"<is>": func(x any, y string) bool { return boolFromString(x) == boolFromString(y) },
	"s==":  func(x any, y string) bool { s, ok := x.(string); return ok && s == y },
	"s!=":  func(x any, y string) bool { s, ok := x.(string); return !ok || s != y },
	"s<":   func(x any, y string) bool { s, ok := x.(string); return ok && s < y },
	"s<=":  func(x any, y string) bool { s, ok := x.(string); return ok && s <= y },
	"s>":   func(x any, y string) bool { s, ok := x.(string); return ok && s > y },
	"s>=":  func(x any, y string) bool { s, ok := x.(string); return ok && s >= y },
}

// floatOp compares float(x) with float(y); what Python's float() refuses
// does not match.
func floatOp(x any, y string, cmp func(a, b float64) bool) bool {
	a, ok := pythonFloat(x)
	if !ok {
		return false
	}
	b, ok := pythonFloat(y)
	return ok && cmp(a, b)
}

func pythonFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 64)
		return f, err == nil
	}
	return 0, false
}

// inOp is Python's "y in x": a substring of a string, a key of a mapping.
func inOp(x any, y string) bool {
	switch c := x.(type) {
	case string:
		return strings.Contains(c, y)
	case map[string]any:
		_, ok := c[y]
		return ok
	}
	return false
}

// boolFromString mirrors oslo's strutils.bool_from_string (not strict):
// booleans as they are, anything else by its text.
func boolFromString(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	switch strings.ToLower(strings.TrimSpace(capabilityText(v))) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}
