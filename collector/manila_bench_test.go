package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// syntheticManila serves n pools on one host and two back ends, in the body
// shape the real server records (testdata/manila/examples.json).
func syntheticManila(b *testing.B, n int) (*httptest.Server, *atomic.Int64) {
	var detail, list bytes.Buffer
	detail.WriteString(`{"pools": [`)
	list.WriteString(`{"pools": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			detail.WriteString(", ")
			list.WriteString(", ")
		}
		backend := []string{"alpha", "beta"}[i%2]
		fmt.Fprintf(&list, `{"name": "rig-node1@%s#p%d", "host": "rig-node1", "backend": %q, "pool": "p%d"}`, backend, i, backend, i)
		fmt.Fprintf(&detail, `{"name": "rig-node1@%s#p%d", "host": "rig-node1", "backend": %q, "pool": "p%d", "capabilities": {"pool_name": "p%d", "total_capacity_gb": 1000, "free_capacity_gb": "%d.5", "reserved_percentage": 5, "reserved_snapshot_percentage": 0, "reserved_share_extend_percentage": 0, "allocated_capacity_gb": 100, "provisioned_capacity_gb": 300, "thin_provisioning": true, "max_over_subscription_ratio": "20.0", "share_backend_name": %q, "storage_protocol": "NFS_CIFS", "vendor_name": "Acceptance rig", "driver_version": "1.0", "timestamp": "2026-11-22T10:30:18.431738", "driver_handles_share_servers": false, "snapshot_support": true, "create_share_from_snapshot_support": true, "revert_to_snapshot_support": true, "mount_snapshot_support": true, "dedupe": false, "compression": false, "replication_type": null, "replication_domain": null, "sg_consistent_snapshot_support": "pool", "ipv4_support": true, "ipv6_support": false}}`,
			backend, i, backend, i, i, i%900, backend)
	}
	detail.WriteString(`]}`)
	list.WriteString(`]}`)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch {
		case r.URL.Path == "/":
			w.WriteHeader(http.StatusMultipleChoices)
			fmt.Fprint(w, `{"versions": [{"id": "v2.0", "status": "CURRENT", "version": "2.73", "min_version": "2.0"}]}`)
		case strings.HasSuffix(r.URL.Path, "/pools/detail"):
			_, _ = w.Write(detail.Bytes())
		default:
			_, _ = w.Write(list.Bytes())
		}
	}))
	b.Cleanup(srv.Close)
	return srv, &requests
}

// BenchmarkManilaPoll: 1,000 pools with detail and two queries: three
// requests per poll, snapshot built and encoded as the Poller does.
func BenchmarkManilaPoll(b *testing.B) {
	srv, requests := syntheticManila(b, 1000)
	c, err := newManilaCollector(Deps{Logger: nopLogger(), Session: testSession(map[string]string{"shared_file_system": srv.URL + "/v2/" + manilaProject}, 30*time.Second)})
	if err != nil {
		b.Fatal(err)
	}
	p := NewPoller(nopLogger(), NewSafeConfig(mustConfig(b, "manila:\n  queries:\n    alpha: {backend: alpha}\n    node1: {host: rig-node1, exact: true}\n")), map[string]Collector{"manila": c})
	p.PollOnce(context.Background(), "manila", c)
	for b.Loop() {
		requests.Store(0)
		p.PollOnce(context.Background(), "manila", c)
		if !p.snapshots["manila"].success {
			b.Fatal("poll failed")
		}
		b.ReportMetric(float64(requests.Load()), "requests/poll")
	}
	b.ReportMetric(float64(len(p.snapshots["manila"].gzipped)), "gzip-bytes")
}
