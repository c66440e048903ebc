package collector

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// A Nova flavor becomes the Placement request Nova Zed's scheduler builds
// for a plain boot from an image (nova/scheduler/utils.py
// ResourceRequest.from_request_spec with enable_pinning_translate, no image
// properties, no ports with resource requests, no availability zone given):
// the unsuffixed group only. What Placement cannot be asked in one group,
// or what needs data the exporter does not have, makes the flavor
// unsupported with a reason rather than a wrong count.

// Reasons a Nova flavor is not counted.
const (
	unsupportedNumberedGroups = "numbered_request_groups" // resourcesN:/traitN: need separate providers per group
	unsupportedAccelerator    = "accelerator_device_profile"
	unsupportedEphemeralEnc   = "ephemeral_encryption"
	unsupportedCPUMask        = "unparsable_cpu_mask"
	unsupportedTraitNotRead   = "trait_not_read" // the Placement collector keeps the trait only if traits_include matches it
	unsupportedNameTaken      = "name_of_a_virtual_flavor"
	unsupportedNoResources    = "no_resources" // every class stripped (=0): Placement would be asked for nothing
	unsupportedDisabled       = "disabled"     // OS-FLV-DISABLED: Nova refuses to boot it
)

// novaExtraSpecKey is Nova's XS_KEYPAT: resources or trait, an optional
// group suffix, the class or trait name.
var novaExtraSpecKey = regexp.MustCompile(`^(resources|trait)([a-zA-Z0-9_-]{1,64})?:(.*)$`)

// novaStandardClasses are os_resource_classes.STANDARDS of Zed's
// os-resource-classes (1.1.0): Nova skips any other class that is not
// CUSTOM_.
var novaStandardClasses = map[string]bool{
	"VCPU": true, "MEMORY_MB": true, "DISK_GB": true, "PCI_DEVICE": true, "SRIOV_NET_VF": true, "NUMA_SOCKET": true,
	"NUMA_CORE": true, "NUMA_THREAD": true, "NUMA_MEMORY_MB": true, "IPV4_ADDRESS": true, "VGPU": true,
	"VGPU_DISPLAY_HEAD": true, "NET_BW_EGR_KILOBIT_PER_SEC": true, "NET_BW_IGR_KILOBIT_PER_SEC": true, "PCPU": true,
	"MEM_ENCRYPTION_CONTEXT": true, "FPGA": true, "PGPU": true, "NET_PACKET_RATE_KILOPACKET_PER_SEC": true,
	"NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC": true, "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC": true,
}

// flavorRequest is what one flavor asks of Placement: Shapes[0] the query
// Nova sends, Shapes[1] (hw:cpu_policy=dedicated only) its fallback query
// with VCPU in place of PCPU, which Zed sends too unless
// [workarounds] disable_fallback_pcpu_query is set.
type flavorRequest struct {
	Name        string
	Shapes      []slots.Shape
	Unsupported string
}

// translateFlavor builds flavor f's request.
func translateFlavor(f NovaFlavor) flavorRequest {
	req := flavorRequest{Name: f.Name}
	if f.Disabled {
		req.Unsupported = unsupportedDisabled
		return req
	}
	primary, pinned, reason := flavorShape(f, true)
	if reason != "" {
		req.Unsupported = reason
		return req
	}
	req.Shapes = []slots.Shape{primary}
	if pinned {
		fallback, _, _ := flavorShape(f, false)
		if !maps.Equal(fallback.Resources, primary.Resources) || !slices.Equal(fallback.Required, primary.Required) || !slices.Equal(fallback.Forbidden, primary.Forbidden) {
			req.Shapes = append(req.Shapes, fallback)
		}
	}
	return req
}

// flavorShape follows from_request_spec's order; pinned reports that
// hw:cpu_policy=dedicated asked for pinning (the fallback query follows).
func flavorShape(f NovaFlavor, translatePinning bool) (shape slots.Shape, pinned bool, unsupported string) {
	res := map[string]int64{}
	traits := map[string]string{}
	specs := f.ExtraSpecs
	for _, key := range slices.Sorted(maps.Keys(specs)) {
		m := novaExtraSpecKey.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		if m[2] != "" {
			return shape, false, unsupportedNumberedGroups
		}
		value := strings.TrimSpace(specs[key])
		switch m[1] {
		case "resources":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || !(strings.HasPrefix(m[3], "CUSTOM_") || novaStandardClasses[m[3]]) {
				continue // Nova logs and skips it
			}
			res[m[3]] = n
		case "trait":
			if value == "required" || value == "forbidden" {
				traits[m[3]] = value
			}
		}
	}
	if _, ok := specs["accel:device_profile"]; ok {
		return shape, false, unsupportedAccelerator
	}
	if isTrue(specs["hw:ephemeral_encryption"]) {
		return shape, false, unsupportedEphemeralEnc
	}
	if translatePinning {
		policy := specs["hw:cpu_policy"]
		switch policy {
		case "dedicated":
			pinned = true
			res["PCPU"] = f.VCPUs
		case "mixed":
			pcpus, err := mixedPCPUs(f)
			if err != nil {
				return shape, false, unsupportedCPUMask
			}
			res["VCPU"], res["PCPU"] = f.VCPUs-pcpus, pcpus
		}
		if (policy == "dedicated" || policy == "mixed") && specs["hw:emulator_threads_policy"] == "isolate" {
			res["PCPU"]++
		}
		switch specs["hw:cpu_thread_policy"] {
		case "isolate":
			traits["HW_CPU_HYPERTHREADING"] = "forbidden"
		case "require":
			traits["HW_CPU_HYPERTHREADING"] = "required"
		}
	}
	if _, vcpu := res["VCPU"]; !vcpu {
		if _, pcpu := res["PCPU"]; !pcpu {
			res["VCPU"] = f.VCPUs
		}
	}
	if _, ok := res["MEMORY_MB"]; !ok {
		res["MEMORY_MB"] = f.RAMMB
	}
	if _, ok := res["DISK_GB"]; !ok {
		// A boot from an image: the root disk is local. Booted from a
		// volume, Nova leaves root_gb out (is_bfv), which the count cannot
		// know.
		if disk := f.DiskGB + f.EphemeralGB + (f.SwapMB+1023)/1024; disk > 0 {
			res["DISK_GB"] = disk
		}
	}
	if isTrue(specs["hw:mem_encryption"]) {
		res["MEM_ENCRYPTION_CONTEXT"] = 1
	}
	if pmem := specs["hw:pmem"]; pmem != "" {
		for _, label := range strings.Split(pmem, ",") {
			res[normalizeClass("PMEM_NAMESPACE_"+strings.TrimSpace(label))]++
		}
	}
	switch specs["hw:tpm_version"] {
	case "1.2":
		traits["COMPUTE_SECURITY_TPM_1_2"] = "required"
	case "2.0":
		traits["COMPUTE_SECURITY_TPM_2_0"] = "required"
	}
	if specs["hw:pci_numa_affinity_policy"] == "socket" {
		traits["COMPUTE_SOCKET_PCI_NUMA_AFFINITY"] = "required"
	}
	if specs["os:secure_boot"] == "required" {
		traits["COMPUTE_SECURITY_UEFI_SECURE_BOOT"] = "required"
	}
	shape.Resources = map[string]float64{}
	for class, n := range res {
		if n > 0 { // strip_zeros: "=0" removes the class
			shape.Resources[class] = float64(n)
		}
	}
	if len(shape.Resources) == 0 {
		return shape, false, unsupportedNoResources
	}
	for _, t := range slices.Sorted(maps.Keys(traits)) {
		if traits[t] == "required" {
			shape.Required = append(shape.Required, t)
		} else {
			shape.Forbidden = append(shape.Forbidden, t)
		}
	}
	return shape, pinned, ""
}

// normalizeClass is os_resource_classes.normalize_name: upper case, every
// other character _, CUSTOM_ in front.
func normalizeClass(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "CUSTOM_" + b.String()
}

// isTrue is oslo's strict bool parsing, as Nova reads hw:* flags.
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

// mixedPCPUs is how many PCPUs a mixed-policy flavor asks for: the
// dedicated mask's CPUs, or else the realtime mask's.
func mixedPCPUs(f NovaFlavor) (int64, error) {
	mask := f.ExtraSpecs["hw:cpu_dedicated_mask"]
	if mask == "" && isTrue(f.ExtraSpecs["hw:cpu_realtime"]) {
		mask = f.ExtraSpecs["hw:cpu_realtime_mask"]
	}
	if mask == "" {
		return 0, nil
	}
	cpus, err := cpuMask(mask, f.VCPUs)
	return int64(len(cpus)), err
}

// cpuMask reads a Nova CPU mask over CPUs 0..vcpus-1: "0-3,^2,5"; a mask
// starting with ^ excludes from all of them (hardware.py parse_cpu_spec).
func cpuMask(mask string, vcpus int64) (map[int64]bool, error) {
	mask = strings.TrimSpace(mask)
	if strings.HasPrefix(mask, "^") {
		mask = fmt.Sprintf("0-%d,%s", vcpus-1, mask)
	}
	include, exclude := map[int64]bool{}, map[int64]bool{}
	for _, part := range strings.Split(mask, ",") {
		part = strings.TrimSpace(part)
		set := include
		if rest, ok := strings.CutPrefix(part, "^"); ok {
			set, part = exclude, rest
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		for cpu := a; cpu <= b; cpu++ {
			set[cpu] = true
		}
	}
	for cpu := range exclude {
		delete(include, cpu)
	}
	return include, nil
}
