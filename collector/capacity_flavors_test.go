package collector

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// novaQuery renders a shape as Nova Zed's scheduler sends it for a boot
// with no zone (ResourceRequest.to_querystring at limit 1000): the
// cross-check's rendering, so the oracle holds that to Nova's too.
func novaQuery(shape slots.Shape) string {
	shape.RootForbidden = []string{capacityDisabledTrait}
	v := placementCandidatesQuery(shape)
	v.Set("limit", "1000")
	return v.Encode()
}

func rigFlavors(t *testing.T) *NovaView {
	t.Helper()
	srv := newFixtureServer(t, novaRig)
	model := NewModel()
	model.novaPolled.Store(true)
	model.WantNova()
	if _, err := pollNova(t, newTestNova(t, srv.URL+"/v2.1", model), mustConfig(t, "")); err != nil {
		t.Fatal(err)
	}
	return model.Nova(context.Background())
}

// Every rig flavor translates to the very query Nova's own scheduler code
// builds for it (e2e/nova/record/flavor_requests.py ran
// ResourceRequest.from_request_spec on the rig's flavors).
func TestFlavorTranslationMatchesNova(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "nova", "flavor-requests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var oracle map[string]string
	if err := json.Unmarshal(data, &oracle); err != nil {
		t.Fatal(err)
	}
	flavors := rigFlavors(t).Flavors
	if len(flavors) != len(oracle) {
		t.Fatalf("%d flavors, %d in the oracle", len(flavors), len(oracle))
	}
	for _, f := range flavors {
		req := translateFlavor(f)
		if req.Unsupported != "" || len(req.Shapes) == 0 {
			t.Errorf("%s: unsupported %q", f.Name, req.Unsupported)
			continue
		}
		if got, want := novaQuery(req.Shapes[0]), oracle[f.ID]; got != want {
			t.Errorf("%s:\n got %s\nwant %s", f.Name, got, want)
		}
	}
	// rig.dedicated (hw:cpu_policy=dedicated, no explicit PCPU) also gets
	// Nova's fallback query with VCPU; rig.pinned asks resources:PCPU=2
	// itself, so its fallback is the same query and is not repeated.
	for _, f := range flavors {
		req := translateFlavor(f)
		switch f.Name {
		case "rig.dedicated":
			if len(req.Shapes) != 2 || novaQuery(req.Shapes[1]) != "limit=1000&resources=DISK_GB%3A40%2CMEMORY_MB%3A8192%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED" {
				t.Errorf("rig.dedicated fallback: %+v", req.Shapes)
			}
		default:
			if len(req.Shapes) != 1 {
				t.Errorf("%s: %d queries", f.Name, len(req.Shapes))
			}
		}
	}
}

// The translation rules beyond the rig's flavors (facts file, section 1).
func TestFlavorTranslation(t *testing.T) {
	base := NovaFlavor{Name: "f", VCPUs: 4, RAMMB: 4096, DiskGB: 10}
	with := func(specs map[string]string, mod ...func(*NovaFlavor)) NovaFlavor {
		f := base
		f.ExtraSpecs = specs
		for _, m := range mod {
			m(&f)
		}
		return f
	}
	for _, tc := range []struct {
		name   string
		flavor NovaFlavor
		want   string // the first query, or "unsupported: reason"
	}{
		{"plain", with(nil), "limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"swap 1 MiB costs 1 GiB", with(nil, func(f *NovaFlavor) { f.SwapMB = 1 }), "limit=1000&resources=DISK_GB%3A11%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"swap 1025 MiB costs 2 GiB", with(nil, func(f *NovaFlavor) { f.SwapMB = 1025 }), "limit=1000&resources=DISK_GB%3A12%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"no disk at all", with(nil, func(f *NovaFlavor) { f.DiskGB = 0 }), "limit=1000&resources=MEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"Ironic: =0 strips the classes", with(map[string]string{"resources:VCPU": "0", "resources:MEMORY_MB": "0", "resources:DISK_GB": "0", "resources:CUSTOM_BAREMETAL_GOLD": "1"}),
			"limit=1000&resources=CUSTOM_BAREMETAL_GOLD%3A1&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"override", with(map[string]string{"resources:VCPU": "2", "resources:VGPU": "1"}), "limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CVCPU%3A2%2CVGPU%3A1&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"bad amounts and classes are skipped", with(map[string]string{"resources:VCPU": "-1", "resources:MEMORY_MB": "2.5", "resources:NOT_A_CLASS": "3"}),
			"limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"traits", with(map[string]string{"trait:CUSTOM_GOLD": "required", "trait:CUSTOM_SILVER": "forbidden", "trait:CUSTOM_X": "preferred"}),
			"limit=1000&required=CUSTOM_GOLD%2C%21CUSTOM_SILVER&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"dedicated, emulator threads, isolate", with(map[string]string{"hw:cpu_policy": "dedicated", "hw:emulator_threads_policy": "isolate", "hw:cpu_thread_policy": "isolate"}),
			"limit=1000&required=%21HW_CPU_HYPERTHREADING&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CPCPU%3A5&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"mixed by dedicated mask", with(map[string]string{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "^0"}),
			"limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CPCPU%3A3%2CVCPU%3A1&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"mixed by realtime mask", with(map[string]string{"hw:cpu_policy": "mixed", "hw:cpu_realtime": "yes", "hw:cpu_realtime_mask": "2-3"}),
			"limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CPCPU%3A2%2CVCPU%3A2&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"memory encryption, pmem, TPM, secure boot, PCI socket", with(map[string]string{"hw:mem_encryption": "True", "hw:pmem": "4GB,4GB", "hw:tpm_version": "2.0",
			"os:secure_boot": "required", "hw:pci_numa_affinity_policy": "socket"}),
			"limit=1000&required=COMPUTE_SECURITY_TPM_2_0%2CCOMPUTE_SECURITY_UEFI_SECURE_BOOT%2CCOMPUTE_SOCKET_PCI_NUMA_AFFINITY&resources=CUSTOM_PMEM_NAMESPACE_4GB%3A2%2CDISK_GB%3A10%2CMEMORY_MB%3A4096%2CMEM_ENCRYPTION_CONTEXT%3A1%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"NUMA and huge pages ask Placement nothing", with(map[string]string{"hw:numa_nodes": "2", "hw:mem_page_size": "large", "aggregate_instance_extra_specs:ssd": "true"}),
			"limit=1000&resources=DISK_GB%3A10%2CMEMORY_MB%3A4096%2CVCPU%3A4&root_required=%21COMPUTE_STATUS_DISABLED"},
		{"numbered groups", with(map[string]string{"resources1:VGPU": "1"}), "unsupported: " + unsupportedNumberedGroups},
		{"numbered traits", with(map[string]string{"trait2:CUSTOM_X": "required"}), "unsupported: " + unsupportedNumberedGroups},
		{"Cyborg", with(map[string]string{"accel:device_profile": "fpga"}), "unsupported: " + unsupportedAccelerator},
		{"ephemeral encryption", with(map[string]string{"hw:ephemeral_encryption": "true"}), "unsupported: " + unsupportedEphemeralEnc},
		{"bad mask", with(map[string]string{"hw:cpu_policy": "mixed", "hw:cpu_dedicated_mask": "x-y"}), "unsupported: " + unsupportedCPUMask},
		{"nothing left", with(map[string]string{"resources:VCPU": "0", "resources:MEMORY_MB": "0"}, func(f *NovaFlavor) { f.DiskGB = 0 }), "unsupported: " + unsupportedNoResources},
		{"disabled", with(nil, func(f *NovaFlavor) { f.Disabled = true }), "unsupported: " + unsupportedDisabled},
	} {
		req := translateFlavor(tc.flavor)
		got := "unsupported: " + req.Unsupported
		if req.Unsupported == "" {
			got = novaQuery(req.Shapes[0])
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

const capacityNovaConfig = `capacity:
  flavors: ^rig\\.
`

// Nova flavors without the Nova collector: refused when the collectors are
// checked (start-up, reload), and every count says so.
func TestCapacityNovaFlavorsNeedNova(t *testing.T) {
	cfg := mustConfig(t, capacityNovaConfig)
	collectors, err := New([]string{"placement", "capacity"}, Deps{Logger: nopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	capacity := collectors["capacity"].(*capacityCollector)
	if err := capacity.CheckConfig(cfg); err == nil || !strings.Contains(err.Error(), "enable --collector.nova too") {
		t.Errorf("CheckConfig: %v", err)
	}
	if err := capacity.CheckConfig(mustConfig(t, "")); err != nil {
		t.Errorf("without Nova flavors: %v", err)
	}
	if _, err := ParseConfig([]byte("capacity: {flavors: ''}\n")); err == nil || !strings.HasPrefix(err.Error(), "capacity.flavors: an empty expression matches every flavor") {
		t.Errorf("empty expression: %v", err)
	}
	if got := strings.Join(mustConfig(t, "capacity: {flavors: .}\n").Placement.keepTraits, ","); got != "COMPUTE_STATUS_DISABLED,MISC_SHARES_VIA_AGGREGATE" {
		t.Errorf("traits kept for Nova flavors alone: %s", got)
	}
}

// The rig's Nova flavors counted on its recorded Placement, per zone as
// Nova asks for one. Only rig-cmp1 is schedulable (rig-cmp2 disabled,
// rig-cmp3 forced down), so every count is rig-cmp1's. Worked out by hand
// for rig.small (1 VCPU, 2048 MB, 20 GB) on rig-cmp1 (VCPU 16 x 16.0,
// memory (65536 - 512) x 1.5 = 97536 MB, disk 1000 GB; 2 x rig.small
// allocated): total min(256, 47, 50) = 47; free min(254, 45, 48) = 45; if
// rig-cmp1, rig-az1's only host, fails, its 2 instances fit nowhere: -2.
func TestCapacityNovaFlavorsOnTheRig(t *testing.T) {
	cfg := mustConfig(t, "capacity: {flavors: '^rig[.]'}\n")
	view, nova := rigViewsWith(t, cfg)
	// One flavor beside the rig's that asks for a numbered group, which the
	// exporter does not count but names.
	nova.Flavors = append(nova.Flavors, NovaFlavor{ID: "rig-vgpu", Name: "rig.vgpu", VCPUs: 2, RAMMB: 2048, DiskGB: 20, IsPublic: true,
		ExtraSpecs: map[string]string{"resources1:VGPU": "1"}})
	model := NewModel()
	model.novaPolled.Store(true)
	model.publishPlacement(view)
	model.publishNova(nova)
	c := &capacityCollector{model: model, now: func() time.Time { return time.Unix(1e9+3, 0) }}
	metrics, err := poll(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := exposition(t, metrics)
	for _, want := range []string{
		`openstack_capacity_availability_zone_flavor_free_slots{availability_zone="rig-az1",flavor="rig.small"} 45`,
		`openstack_capacity_availability_zone_flavor_total_slots{availability_zone="rig-az1",flavor="rig.small"} 47`,
		`openstack_capacity_availability_zone_flavor_host_loss_headroom_slots{availability_zone="rig-az1",flavor="rig.small"} -2`,
		`openstack_capacity_availability_zone_flavor_free_slots{availability_zone="nova",flavor="rig.small"} 0`,
		`openstack_capacity_availability_zone_flavor_host_loss_headroom_slots{availability_zone="nova",flavor="rig.small"} 0`,
		`openstack_capacity_flavor_unsupported_info{flavor="rig.vgpu",reason="numbered_request_groups"} 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("want %s", want)
		}
	}
	assertGolden(t, metrics, "capacity-nova-rig")
}
