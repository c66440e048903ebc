package collector

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// The scheduler's view of a pool, case by case, as Cinder Zed computes it:
// the ratio by calculate_max_over_subscription_ratio (cinder/utils.py), the
// room for a new volume by CapacityFilter.backend_passes
// (cinder/scheduler/filters/capacity_filter.py) around
// calculate_virtual_free_capacity (cinder/utils.py), from capabilities read
// with PoolState.update_from_volume_capability's defaults
// (cinder/scheduler/host_manager.py). Each expected value is worked out by
// hand from that code in the comment beside it.
func TestCinderVirtualFree(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name      string
		caps      string
		scheduler string // the scheduler's own max_over_subscription_ratio
		ratio     float64
		free      float64 // GiB
	}{
		// thin: (2000 - floor(2000*0)) * 20 - 3000; free is not looked at.
		{"thin", `{"total_capacity_gb": 2000, "free_capacity_gb": 500, "provisioned_capacity_gb": 3000, "reserved_percentage": 0, "max_over_subscription_ratio": "20.0", "thin_provisioning_support": true}`, "20.0", 20, 37000},
		// thin with a reserve: (1000 - floor(1000*0.15)) * 2.5 - 100.
		{"thin reserved", `{"total_capacity_gb": 1000, "free_capacity_gb": 10, "provisioned_capacity_gb": 100, "reserved_percentage": 15, "max_over_subscription_ratio": 2.5, "thin_provisioning_support": true}`, "20.0", 2.5, 2025},
		// thick: min(free 900, 1000 - floor(1000*0.05) - 100); the ratio is 1 without thin support.
		{"thick reserved", `{"total_capacity_gb": 1000, "free_capacity_gb": 900, "provisioned_capacity_gb": 100, "reserved_percentage": 5, "max_over_subscription_ratio": 1.0, "thin_provisioning_support": false}`, "20.0", 1, 850},
		// thick, free smaller than what the totals leave: min(0, 50.5 - 50).
		{"thick free smaller", `{"total_capacity_gb": "50.5", "free_capacity_gb": 0, "provisioned_capacity_gb": 50, "reserved_percentage": 0, "thin_provisioning_support": false}`, "20.0", 1, 0},
		// reserved capacity is floored: min(1000, 333 - floor(33.3) - 0).
		{"reserve floored", `{"total_capacity_gb": 333, "free_capacity_gb": 1000, "reserved_percentage": 10}`, "20.0", 1, 300},
		// provisioned defaults to allocated: min(100, 100 - 30).
		{"provisioned from allocated", `{"total_capacity_gb": 100, "free_capacity_gb": 100, "allocated_capacity_gb": 30}`, "20.0", 1, 70},
		// over-provisioned thick: 100 - 150 = -50 < free 50, exported as is.
		{"over-provisioned", `{"total_capacity_gb": 100, "free_capacity_gb": 50, "provisioned_capacity_gb": 150}`, "20.0", 1, -50},
		// "infinite" free: the filter accepts any size; the ratio is 1.0.
		{"infinite", `{"total_capacity_gb": "infinite", "free_capacity_gb": "infinite", "reserved_percentage": 0, "max_over_subscription_ratio": 1.5, "thin_provisioning_support": true}`, "20.0", 1, inf},
		// "unknown" free: likewise.
		{"unknown", `{"total_capacity_gb": "unknown", "free_capacity_gb": "unknown", "reserved_percentage": 0}`, "20.0", 1, inf},
		// numeric free, "infinite" total, no reserve: accepted.
		{"infinite total", `{"total_capacity_gb": "infinite", "free_capacity_gb": 10, "reserved_percentage": 0, "thin_provisioning_support": true}`, "20.0", 1, inf},
		// "unknown" total with a reserve: the reserve cannot be computed, nothing is accepted.
		{"unknown total reserved", `{"total_capacity_gb": "unknown", "free_capacity_gb": 10, "reserved_percentage": 5}`, "20.0", 1, 0},
		// auto: 1 + 400 / (500 - 250 + 1); (500 - floor(50)) * ratio - 400, rounded to 2 decimals.
		{"auto", `{"total_capacity_gb": 500, "free_capacity_gb": 250, "provisioned_capacity_gb": 400, "reserved_percentage": 10, "max_over_subscription_ratio": "auto", "thin_provisioning_support": true, "thick_provisioning_support": true}`, "20.0", 1 + 400.0/251, 767.13},
		// auto with nothing provisioned: INITIAL_AUTO_MOSR, 20.
		{"auto empty", `{"total_capacity_gb": 100, "free_capacity_gb": 100, "max_over_subscription_ratio": "auto", "thin_provisioning_support": true}`, "20.0", 20, 2000},
		// no ratio reported: the scheduler's own (here auto) applies: 1 + 10 / (100 - 60 + 1).
		{"scheduler's auto", `{"total_capacity_gb": 100, "free_capacity_gb": 60, "provisioned_capacity_gb": 10, "thin_provisioning_support": true}`, "auto", 1 + 10.0/41, 114.39},
		// a reported 0 is false in Python: the scheduler's 3.0 applies. 100 * 3 - 0.
		{"ratio 0 falls back", `{"total_capacity_gb": 100, "free_capacity_gb": 100, "max_over_subscription_ratio": 0, "thin_provisioning_support": true}`, "3.0", 3, 300},
		// a thin pool with a ratio below 1 is filtered out.
		{"ratio below 1", `{"total_capacity_gb": 100, "free_capacity_gb": 100, "max_over_subscription_ratio": "0.5", "thin_provisioning_support": true}`, "20.0", 0.5, 0},
		// total 0 (also: absent): "Insufficient free space", nothing accepted.
		{"total zero", `{"free_capacity_gb": 100}`, "20.0", 1, 0},
		// free null: the filter's fail-safe refuses.
		{"free null", `{"total_capacity_gb": 100, "free_capacity_gb": null}`, "20.0", 1, 0},
		// provisioned null (as the rig's infinite pool reports it): not needed when free is infinite.
		{"infinite, provisioned null", `{"total_capacity_gb": "infinite", "free_capacity_gb": "infinite", "provisioned_capacity_gb": null, "allocated_capacity_gb": 0, "max_over_subscription_ratio": 1.5, "thin_provisioning_support": true}`, "20.0", 1, inf},
		// a numeric-string free capacity on a thin pool is not looked at: 10 * 2 - 0.
		{"thin, free a string", `{"total_capacity_gb": "10", "free_capacity_gb": "5", "max_over_subscription_ratio": 2, "thin_provisioning_support": true}`, "20.0", 2, 20},
		// the string "False" is true in Python: thin support.
		{"truthy string", `{"total_capacity_gb": 10, "free_capacity_gb": 1, "max_over_subscription_ratio": 2, "thin_provisioning_support": "False"}`, "20.0", 2, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var caps capabilities
			if err := json.Unmarshal([]byte(tc.caps), &caps); err != nil {
				t.Fatal(err)
			}
			p, err := cinderCapacityOf(caps)
			if err != nil {
				t.Fatal(err)
			}
			ratio, err := p.resolvedOverSubscription(tc.scheduler)
			if err != nil || math.Abs(ratio-tc.ratio) > 1e-12 {
				t.Errorf("ratio %v (%v), want %v", ratio, err, tc.ratio)
			}
			free, ok := p.virtualFree(ratio)
			if !ok || free != tc.free {
				t.Errorf("virtual free %v (ok %v), want %v", free, ok, tc.free)
			}
		})
	}
}

// Values Cinder itself cannot compute with give no virtual free capacity.
func TestCinderVirtualFreeNotComputable(t *testing.T) {
	for _, text := range []string{
		`{"total_capacity_gb": null, "free_capacity_gb": 10}`,
		// None in the arithmetic: Cinder's filter raises a TypeError.
		`{"total_capacity_gb": 10, "free_capacity_gb": 10, "provisioned_capacity_gb": null}`,
		// a string in the arithmetic: 10.0 - "1" and "5" < 10.0 raise a TypeError too.
		`{"total_capacity_gb": 10, "free_capacity_gb": 10, "provisioned_capacity_gb": "1"}`,
		`{"total_capacity_gb": 10, "free_capacity_gb": "5"}`,
	} {
		var caps capabilities
		if err := json.Unmarshal([]byte(text), &caps); err != nil {
			t.Fatal(err)
		}
		p, err := cinderCapacityOf(caps)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := p.virtualFree(1); ok {
			t.Errorf("%s: %v, want none", text, v)
		}
	}
	for text, field := range map[string]string{
		`{"total_capacity_gb": "lots"}`:                    "total_capacity_gb",
		`{"total_capacity_gb": 1, "free_capacity_gb": []}`: "free_capacity_gb",
		`{"max_over_subscription_ratio": "high"}`:          "max_over_subscription_ratio",
		`{"reserved_percentage": "x"}`:                     "reserved_percentage",
	} {
		var caps capabilities
		if err := json.Unmarshal([]byte(text), &caps); err != nil {
			t.Fatal(err)
		}
		_, err := cinderCapacityOf(caps)
		ce, ok := err.(*capabilityError)
		if !ok || ce.field != field {
			t.Errorf("%s: error %v, want one naming %s", text, err, field)
		}
	}
}

// Python's round(x, 2) rounds the exact binary value, ties to even.
func TestPythonRound2(t *testing.T) {
	for in, want := range map[float64]float64{0.125: 0.12, 0.375: 0.38, 2.675: 2.67, 767.1314741035856: 767.13, -50: -50, 1.005: 1, 0.615: 0.61} {
		if got := pythonRound2(in); got != want {
			t.Errorf("round(%v, 2) = %v, want %v", in, got, want)
		}
	}
}

// auto with a null provisioned capacity, and a null reserve, are what
// Cinder cannot compute (float(None)): no ratio, no virtual free capacity.
func TestCinderNoneIsNotComputable(t *testing.T) {
	for _, text := range []string{
		`{"total_capacity_gb": 10, "free_capacity_gb": 5, "provisioned_capacity_gb": null, "max_over_subscription_ratio": "auto", "thin_provisioning_support": true}`,
		`{"total_capacity_gb": 10, "free_capacity_gb": 5, "reserved_percentage": null}`,
		`{"total_capacity_gb": "10", "free_capacity_gb": 5, "provisioned_capacity_gb": 1, "max_over_subscription_ratio": "auto", "thin_provisioning_support": true}`,
	} {
		var caps capabilities
		if err := json.Unmarshal([]byte(text), &caps); err != nil {
			t.Fatal(err)
		}
		p, err := cinderCapacityOf(caps)
		if err == nil {
			_, err = p.resolvedOverSubscription("20.0")
		}
		if !errors.Is(err, errNotComputable) {
			t.Errorf("%s: %v, want not computable", text, err)
		}
	}
}
