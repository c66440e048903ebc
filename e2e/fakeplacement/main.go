// Command fakeplacement is a fake Placement for measurements of the exporter
// that the real one cannot give cheaply. Loopback only.
//
//	fakeplacement -stream BYTES   every path but / streams an endless-looking
//	                              provider list of BYTES bytes, as a broken
//	                              proxy or a hostile endpoint could (run.sh)
//	fakeplacement -providers N    a cloud of N compute nodes in the real
//	                              server's body shapes: three inventories,
//	                              usages on every tenth, 40 traits, one
//	                              aggregate (memory.sh)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18999", "address to listen on (keep it on loopback)")
	stream := flag.Int64("stream", 0, "stream a provider list of this many bytes per request")
	providers := flag.Int("providers", 0, "serve a synthetic cloud of this many providers")
	flag.Parse()
	root := func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"versions": [{"id": "v1.0", "max_version": "1.39", "min_version": "1.0", "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]}`)
	}
	switch {
	case *stream > 0:
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				root(w)
				return
			}
			streamList(w, *stream)
		})
	case *providers > 0:
		list := cloudList(*providers)
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			serveCloud(w, r, list, root)
		})
	default:
		log.Fatal("give -stream BYTES or -providers N")
	}
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func streamList(w http.ResponseWriter, size int64) {
	entry := []byte(`{"uuid": "10000000-0000-4000-8000-000000000001", "name": "cn1", "generation": 1},` + strings.Repeat(" ", 900))
	_, _ = io.WriteString(w, `{"resource_providers": [`)
	for n := int64(0); n < size; {
		k, err := w.Write(entry)
		if err != nil {
			return
		}
		n += int64(k)
	}
}

func uuid(i int) string { return fmt.Sprintf("50000000-0000-4000-8000-%012d", i) }

func cloudList(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resource_providers": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		u := uuid(i)
		fmt.Fprintf(&b, `{"uuid": %q, "name": "compute-%05d.example.org", "generation": 4, "links": [{"rel": "self", "href": "/resource_providers/%[1]s"}, {"rel": "inventories", "href": "/resource_providers/%[1]s/inventories"}, {"rel": "usages", "href": "/resource_providers/%[1]s/usages"}, {"rel": "aggregates", "href": "/resource_providers/%[1]s/aggregates"}, {"rel": "traits", "href": "/resource_providers/%[1]s/traits"}, {"rel": "allocations", "href": "/resource_providers/%[1]s/allocations"}], "parent_provider_uuid": null, "root_provider_uuid": %[1]q}`, u, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// traits are what a libvirt compute node reports: mostly standard ones,
// two custom.
var traits = func() string {
	names := []string{"CUSTOM_GOLD", "CUSTOM_RACK_A"}
	for _, t := range []string{"COMPUTE_ACCELERATORS", "COMPUTE_DEVICE_TAGGING", "COMPUTE_GRAPHICS_MODEL_VGA", "COMPUTE_GRAPHICS_MODEL_VIRTIO",
		"COMPUTE_IMAGE_TYPE_AMI", "COMPUTE_IMAGE_TYPE_ISO", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW", "COMPUTE_NET_ATTACH_INTERFACE",
		"COMPUTE_NET_VIF_MODEL_E1000", "COMPUTE_NET_VIF_MODEL_VIRTIO", "COMPUTE_NODE", "COMPUTE_RESCUE_BFV", "COMPUTE_SECURITY_UEFI_SECURE_BOOT",
		"COMPUTE_STORAGE_BUS_SATA", "COMPUTE_STORAGE_BUS_SCSI", "COMPUTE_STORAGE_BUS_VIRTIO", "COMPUTE_TRUSTED_CERTS", "COMPUTE_VOLUME_ATTACH_WITH_TAG",
		"COMPUTE_VOLUME_EXTEND", "COMPUTE_VOLUME_MULTI_ATTACH", "HW_CPU_X86_AVX", "HW_CPU_X86_AVX2", "HW_CPU_X86_AESNI", "HW_CPU_X86_BMI",
		"HW_CPU_X86_BMI2", "HW_CPU_X86_F16C", "HW_CPU_X86_FMA3", "HW_CPU_X86_MMX", "HW_CPU_X86_SSE", "HW_CPU_X86_SSE2", "HW_CPU_X86_SSE41",
		"HW_CPU_X86_SSE42", "HW_CPU_X86_SSSE3", "HW_CPU_X86_SVM", "HW_CPU_X86_CLMUL", "HW_CPU_X86_ABM", "HW_CPU_HYPERTHREADING"} {
		names = append(names, t)
	}
	return `"` + strings.Join(names, `", "`) + `"`
}()

func serveCloud(w http.ResponseWriter, r *http.Request, list []byte, root func(http.ResponseWriter)) {
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case p == "/":
		root(w)
	case p == "/resource_providers":
		_, _ = w.Write(list)
	case strings.HasSuffix(p, "/inventories"):
		_, _ = io.WriteString(w, `{"resource_provider_generation": 4, "inventories": {"DISK_GB": {"total": 1000, "reserved": 10, "min_unit": 1, "max_unit": 1000, "step_size": 1, "allocation_ratio": 1.0}, "MEMORY_MB": {"total": 262144, "reserved": 4096, "min_unit": 1, "max_unit": 262144, "step_size": 1, "allocation_ratio": 1.0}, "VCPU": {"total": 64, "reserved": 0, "min_unit": 1, "max_unit": 64, "step_size": 1, "allocation_ratio": 4.0}}}`)
	case strings.HasSuffix(p, "/usages"):
		if strings.HasSuffix(strings.TrimSuffix(p, "/usages"), "0") {
			_, _ = io.WriteString(w, `{"resource_provider_generation": 4, "usages": {"DISK_GB": 80, "MEMORY_MB": 16384, "VCPU": 8}}`)
		} else {
			_, _ = io.WriteString(w, `{"resource_provider_generation": 4, "usages": {}}`)
		}
	case strings.HasSuffix(p, "/traits"):
		_, _ = io.WriteString(w, `{"traits": [`+traits+`], "resource_provider_generation": 4}`)
	case strings.HasSuffix(p, "/aggregates"):
		_, _ = io.WriteString(w, `{"aggregates": ["20000000-0000-4000-8000-000000000001"], "resource_provider_generation": 4}`)
	case p == "/traits":
		_, _ = io.WriteString(w, `{"traits": [`+traits+`]}`)
	default:
		http.NotFound(w, r)
	}
}
