package collector

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The fast path (stored bytes, gzip streams concatenated) and the slow path
// (promhttp, any other format) serve the same metrics.
func TestHandlerFormats(t *testing.T) {
	srv := newFixtureServer(t, placementRoot, placementCloud)
	c := newTestPlacement(t, srv)
	p := NewPoller(nopLogger(), NewSafeConfig(mustConfig(t, "placement:\n"+allFormsQueries)), map[string]Collector{"placement": c})
	p.PollOnce(context.Background(), "placement", c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(p, prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "An exporter metric."}))
	h := p.Handler(reg, nopLogger(), 2)

	parse := func(accept, encoding string) (map[string]int, string) {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", accept, rec.Code, rec.Body.String())
		}
		var body io.Reader = rec.Body
		if rec.Header().Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		counts := map[string]int{}
		format := expfmt.ResponseFormat(rec.Header())
		dec := expfmt.NewDecoder(body, format) // the text decoder rejects a family split in two
		for {
			mf, err := decodeFamily(dec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s %s: %v", accept, encoding, err)
			}
			if counts[mf.name] > 0 {
				t.Errorf("%s: family %s split in two", accept, mf.name)
			}
			counts[mf.name] += mf.samples
		}
		return counts, rec.Header().Get("Content-Type")
	}
	plain, ct := parse("", "")
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	gzipped, _ := parse("", "gzip")
	proto, ct := parse("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "gzip")
	if !strings.HasPrefix(ct, "application/vnd.google.protobuf") {
		t.Errorf("content type %q", ct)
	}
	for name, n := range plain {
		if gzipped[name] != n || proto[name] != n {
			t.Errorf("%s: %d plain, %d gzip, %d protobuf samples", name, n, gzipped[name], proto[name])
		}
	}
	if plain["openstack_placement_resource_provider_info"] != 7 || plain["own_metric"] != 1 || plain["openstack_capacity_exporter_collector_success"] != 1 {
		t.Errorf("missing families: %v", plain)
	}
}

type familySummary struct {
	name    string
	samples int
}

func decodeFamily(dec expfmt.Decoder) (familySummary, error) {
	var mf dto.MetricFamily
	if err := dec.Decode(&mf); err != nil {
		return familySummary{}, err
	}
	return familySummary{mf.GetName(), len(mf.GetMetric())}, nil
}
