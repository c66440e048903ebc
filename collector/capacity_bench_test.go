package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// bigCloud is 10,000 compute nodes in 50 aggregates, 5 of them
// availability zones (2,000 hosts each), every host's nova-compute up, and
// 10 Nova flavors: the scale issue 8 measures, seen by the capacity and
// drift collectors.
func bigCloud() (*PlacementView, *NovaView) {
	view := &PlacementView{Taken: time.Unix(1e9, 0), Traits: func(string) bool { return true }}
	nova := &NovaView{Taken: time.Unix(1e9, 0)}
	agg := func(i int) string { return fmt.Sprintf("20000000-0000-4000-8000-%012d", i) }
	for a := range 50 {
		na := NovaAggregate{UUID: agg(a), Name: fmt.Sprintf("agg-%02d", a)}
		if a < 5 {
			na.AvailabilityZone = fmt.Sprintf("az%d", a)
		}
		nova.Aggregates = append(nova.Aggregates, na)
	}
	for i := range 10000 {
		uuid := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		host := fmt.Sprintf("cmp%05d", i)
		zone, other := i%5, 5+i%45
		view.Providers = append(view.Providers, slots.Provider{UUID: uuid, Root: uuid,
			Traits:     map[string]bool{"CUSTOM_FAST": i%2 == 0},
			Aggregates: map[string]bool{agg(zone): true, agg(other): true},
			Inventories: []slots.Inventory{
				{Class: "VCPU", Total: 64, MaxUnit: 64, MinUnit: 1, StepSize: 1, AllocationRatio: 4, Used: float64(i % 64)},
				{Class: "MEMORY_MB", Total: 262144, Reserved: 4096, MaxUnit: 262144, MinUnit: 1, StepSize: 1, AllocationRatio: 1, Used: 8192},
				{Class: "DISK_GB", Total: 2000, MaxUnit: 2000, MinUnit: 1, StepSize: 1, AllocationRatio: 1, Used: 100},
			}})
		nova.Services = append(nova.Services, NovaService{Host: host, Zone: fmt.Sprintf("az%d", zone), Up: true, Enabled: true})
		nova.Hypervisors = append(nova.Hypervisors, NovaHypervisor{UUID: uuid, Host: host, Hostname: host, Type: "QEMU"})
		nova.Aggregates[zone].Hosts = append(nova.Aggregates[zone].Hosts, host)
		nova.Aggregates[other].Hosts = append(nova.Aggregates[other].Hosts, host)
	}
	for f := range 10 {
		fl := NovaFlavor{ID: fmt.Sprint(f), Name: fmt.Sprintf("m1.f%d", f), VCPUs: int64(1 + f), RAMMB: int64(2048 * (1 + f)), DiskGB: int64(20 * (1 + f))}
		if f%3 == 0 {
			fl.ExtraSpecs = map[string]string{"trait:CUSTOM_FAST": "required"}
		}
		nova.Flavors = append(nova.Flavors, fl)
	}
	return view, nova
}

func benchUpdate(b *testing.B, c Collector, cfg *Config) {
	b.ReportAllocs()
	for b.Loop() {
		ch := make(chan prometheus.Metric, 1024)
		done := make(chan int)
		go func() {
			n := 0
			for range ch {
				n++
			}
			done <- n
		}()
		if err := c.Update(context.Background(), cfg, ch); err != nil {
			b.Fatal(err)
		}
		close(ch)
		b.ReportMetric(float64(<-done), "series")
	}
}

// BenchmarkCapacity10k: one capacity interval at 10,000 hosts: 10 Nova
// flavors counted cloud-wide, in each of 50 aggregates and 5 zones, and
// their host-loss headroom.
func BenchmarkCapacity10k(b *testing.B) {
	view, nova := bigCloud()
	model := NewModel()
	model.novaPolled.Store(true)
	model.publishPlacement(view)
	model.publishNova(nova)
	cfg, err := ParseConfig([]byte("capacity: {flavors: '^m1[.]'}\n"))
	if err != nil {
		b.Fatal(err)
	}
	benchUpdate(b, &capacityCollector{model: model, now: time.Now}, cfg)
}

// BenchmarkDrift10k: the drift checks at 10,000 hosts (none found).
func BenchmarkDrift10k(b *testing.B) {
	view, nova := bigCloud()
	model := NewModel()
	model.novaPolled.Store(true)
	model.publishPlacement(view)
	model.publishNova(nova)
	benchUpdate(b, &driftCollector{model: model, now: time.Now}, DefaultConfig())
}
