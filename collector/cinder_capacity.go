package collector

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// How Cinder's scheduler judges a pool's room for a new volume, mirrored
// from Cinder Zed (21.x) so that the exporter predicts what the scheduler
// decides: PoolState.update_from_volume_capability
// (cinder/scheduler/host_manager.py) reads the reported capabilities with
// these defaults, calculate_max_over_subscription_ratio (cinder/utils.py)
// resolves the ratio, and CapacityFilter.backend_passes
// (cinder/scheduler/filters/capacity_filter.py) accepts a volume when
// calculate_virtual_free_capacity (cinder/utils.py) leaves room for it.

// initialAutoOverSubscription is Cinder's INITIAL_AUTO_MOSR: the ratio
// "auto" gives a pool with nothing provisioned yet.
const initialAutoOverSubscription = 20.0

// cinderAmount is a capacity as the scheduler holds it: a number, or one
// of the strings "infinite" and "unknown", or null.
type cinderAmount struct {
	gib     float64
	special string // "infinite", "unknown", "null", or "" for a number
	// text: the number came as a string ("50.5"), which Cinder passes to
	// float() in some places and compares or subtracts as is in others.
	text bool
}

// cinderPoolCapacity is what the scheduler reads from a pool's
// capabilities, with its defaults for absent keys already applied.
type cinderPoolCapacity struct {
	total, free cinderAmount // absent: 0
	allocated   float64      // absent: 0
	provisioned float64      // absent: allocated
	// provisionedUnusable: provisioned is null (Python's None) or a
	// string, which the scheduler holds but cannot subtract.
	provisionedUnusable bool
	thinSupport         bool // thin_provisioning_support, as Python truth
	// ratio is max_over_subscription_ratio as reported: "" when absent or
	// false in Python's sense (then the scheduler's own applies), "auto",
	// or a number as text.
	ratio    string
	reserved float64 // reserved_percentage, absent: 0
}

// resolvedOverSubscription mirrors calculate_max_over_subscription_ratio:
// the ratio the scheduler applies to the pool, given its own
// max_over_subscription_ratio for pools that report none.
func (p cinderPoolCapacity) resolvedOverSubscription(schedulerDefault string) (float64, error) {
	// The capacity filter does not use the ratio in these cases, and
	// Cinder says 1.0 for them.
	if !p.thinSupport || p.total.special == "infinite" || p.total.special == "unknown" ||
		p.free.special == "infinite" || p.free.special == "unknown" {
		return 1, nil
	}
	ratio := p.ratio
	if ratio == "" {
		ratio = schedulerDefault
	}
	if ratio == "auto" {
		if p.provisionedUnusable || p.total.text || p.free.text {
			return 0, errNotComputable // float(None), or total - free on strings
		}
		if p.provisioned == 0 {
			return initialAutoOverSubscription, nil
		}
		used := p.total.gib - p.free.gib
		return 1 + float64(p.provisioned/(used+1)), nil
	}
	// Python's float() takes surrounding blanks, "inf" and "nan" too; a
	// driver reporting those is broken enough to refuse.
	f, err := strconv.ParseFloat(strings.TrimSpace(ratio), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("max_over_subscription_ratio is neither a number nor auto")
	}
	return f, nil
}

// virtualFree is the largest volume, in GiB, the capacity filter lets onto
// the pool for a volume type without provisioning:type thick, given the
// resolved ratio: calculate_virtual_free_capacity's value where the filter
// computes it, +Inf where the filter accepts any size (free capacity
// "infinite" or "unknown"; total "infinite" or "unknown" without a
// reserve) and 0 where it accepts none (free null, total unusable with a
// reserve, total <= 0, a thin pool with a ratio below 1). ok is false when
// Cinder itself would fail on the values (a null total).
func (p cinderPoolCapacity) virtualFree(ratio float64) (gib float64, ok bool) {
	switch p.free.special {
	case "null":
		return 0, true // "Free capacity not set": the filter's fail-safe
	case "infinite", "unknown":
		return math.Inf(1), true
	}
	switch p.total.special {
	case "infinite", "unknown":
		if p.reserved == 0 {
			return math.Inf(1), true
		}
		return 0, true
	case "null":
		return 0, false
	}
	if p.total.gib <= 0 {
		return 0, true
	}
	if p.provisionedUnusable || (!p.thinSupport && p.free.text) {
		// None or a string in Cinder's arithmetic (thick: free < a float):
		// the filter fails.
		return 0, false
	}
	// The filter assumes a thin volume unless the type says thick, and
	// passes the ratio only for a pool that supports thin provisioning.
	thin := true
	if !p.thinSupport {
		ratio = 1
	}
	if thin && p.thinSupport && ratio < 1 {
		return 0, true // "an invalid maximum over subscription ratio"
	}
	return cinderVirtualFreeCapacity(p.total.gib, p.free.gib, p.provisioned, p.thinSupport, ratio, p.reserved, thin), true
}

// cinderVirtualFreeCapacity mirrors calculate_virtual_free_capacity (via
// calculate_capacity_factors) of cinder/utils.py in Cinder Zed, rounding
// included. Thin: the reserve-less total times the ratio, minus what is
// provisioned. Thick: the same without the ratio, but no more than the
// reported free capacity. For a thin pool with a ratio of at least 1 the
// filter's other test, provisioned/(total available) <= ratio after the
// volume, is implied by this one.
func cinderVirtualFreeCapacity(total, free, provisioned float64, thinSupport bool, ratio, reservedPercentage float64, thin bool) float64 {
	reservedCapacity := math.Floor(float64(total * (reservedPercentage / 100)))
	available := total - reservedCapacity
	var virtualFree float64
	if thin && thinSupport {
		// float64() keeps Go from fusing the multiply and subtract
		// (Python rounds twice).
		virtualFree = float64(available*ratio) - provisioned
	} else {
		virtualFree = available - provisioned
		if free < virtualFree {
			virtualFree = free
		}
	}
	return pythonRound2(virtualFree)
}

// pythonRound2 is Python's round(x, 2): the exact binary value rounded to
// two decimals, ties to even, which is what strconv's formatting does.
func pythonRound2(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return f
}

// capabilityError names a capability the exporter cannot use.
type capabilityError struct {
	field string
	err   error
}

func (e *capabilityError) Error() string { return e.field + ": " + e.err.Error() }

// cinderCapacityOf reads a pool's capabilities as the scheduler does. err
// (a *capabilityError) names the first value Cinder itself could not use
// (a string that is no number, say); the capacity is then not computed.
func cinderCapacityOf(caps capabilities) (p cinderPoolCapacity, err error) {
	if p.total, err = cinderAmountOf(caps, "total_capacity_gb"); err != nil {
		return p, err
	}
	if p.free, err = cinderAmountOf(caps, "free_capacity_gb"); err != nil {
		return p, err
	}
	var allocatedUsable, reservedUsable bool
	if p.allocated, allocatedUsable, err = cinderNumberOf(caps, "allocated_capacity_gb", 0, false); err != nil {
		return p, err
	}
	p.provisionedUnusable = !allocatedUsable
	if _, present := caps["provisioned_capacity_gb"]; present {
		var usable bool
		if p.provisioned, usable, err = cinderNumberOf(caps, "provisioned_capacity_gb", 0, false); err != nil {
			return p, err
		}
		p.provisionedUnusable = !usable
	} else {
		p.provisioned = p.allocated
	}
	// float(reserved_percentage) takes a numeric string.
	if p.reserved, reservedUsable, err = cinderNumberOf(caps, "reserved_percentage", 0, true); err != nil {
		return p, err
	}
	if !reservedUsable {
		return p, errNotComputable // float(None): the filter fails on every pool
	}
	p.thinSupport = pythonTruth(caps["thin_provisioning_support"])
	if raw, ok := caps["max_over_subscription_ratio"]; ok && pythonTruth(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw) // a JSON number: its text
		}
		p.ratio = s
		if p.ratio != "auto" {
			if _, perr := strconv.ParseFloat(strings.TrimSpace(p.ratio), 64); perr != nil {
				return p, &capabilityError{"max_over_subscription_ratio", errors.New("neither a number nor auto")}
			}
		}
	}
	return p, nil
}

func cinderAmountOf(caps capabilities, key string) (cinderAmount, error) {
	raw, present := caps[key]
	if !present {
		return cinderAmount{}, nil
	}
	if string(raw) == "null" {
		return cinderAmount{special: "null"}, nil
	}
	var s string
	isString := json.Unmarshal(raw, &s) == nil
	if isString && (s == "infinite" || s == "unknown") {
		return cinderAmount{special: s}, nil
	}
	v, ok, err := caps.number(key)
	if err != nil || !ok {
		return cinderAmount{}, &capabilityError{key, errNotANumber}
	}
	return cinderAmount{gib: v, text: isString}, nil
}

// cinderNumberOf reads a number the scheduler computes with: absent is
// the given default; null, and a numeric string unless Cinder passes the
// value to float() (stringsOK), are not usable.
func cinderNumberOf(caps capabilities, key string, absent float64, stringsOK bool) (v float64, usable bool, err error) {
	raw, present := caps[key]
	if !present {
		return absent, true, nil
	}
	if string(raw) == "null" {
		return 0, false, nil
	}
	v, ok, err := caps.number(key)
	if err != nil {
		return 0, false, &capabilityError{key, err}
	}
	if !ok || math.IsInf(v, 0) {
		return 0, false, errNotComputable
	}
	var s string
	if !stringsOK && json.Unmarshal(raw, &s) == nil {
		return v, false, nil
	}
	return v, true, nil
}

// errNotComputable: a value the scheduler cannot compute with, though a
// driver may report it ("unknown" allocated capacity, say).
var errNotComputable = errors.New("not a finite number")

// pythonTruth is a JSON value's truth in Python: false, null, 0, "", [] and
// {} are false, everything else (the string "False" too) is true.
func pythonTruth(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}
