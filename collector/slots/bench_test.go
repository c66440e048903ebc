package slots

import (
	"fmt"
	"testing"
)

// BenchmarkCount10k: one shape over 10,000 compute nodes (three classes
// each, a tenth of them with a GPU child), as the capacity collector counts
// each shape on every interval.
func BenchmarkCount10k(b *testing.B) {
	var providers []Provider
	for i := range 10000 {
		root := fmt.Sprintf("cn-%05d", i)
		providers = append(providers, Provider{UUID: root, Root: root, Traits: map[string]bool{"CUSTOM_FAST": i%2 == 0},
			Inventories: []Inventory{inv("VCPU", 64, float64(i%64)), inv("MEMORY_MB", 262144, 4096), inv("DISK_GB", 2000, 100)}})
		if i%10 == 0 {
			providers = append(providers, Provider{UUID: root + "-gpu", Root: root, Traits: map[string]bool{"CUSTOM_GPU": true},
				Inventories: []Inventory{inv("VGPU", 4, 1)}})
		}
	}
	shape := Shape{Resources: map[string]float64{"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 40}, Required: []string{"CUSTOM_FAST"},
		RootForbidden: []string{"COMPUTE_STATUS_DISABLED"}}
	b.ReportAllocs()
	for b.Loop() {
		Count(providers, shape)
	}
}
