package collector

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// cloudCollector sends what a cloud would: two label-less and labelled
// families, and one family only the cloud "b" has.
type cloudCollector struct{ cloud string }

var (
	testUpDesc    = prometheus.NewDesc("test_up", "Whether the service answered.", nil, nil)
	testPoolsFam  = newGaugeFamily("test_pool_free_bytes", "Free bytes of the pool.", []string{"pool", "host"})
	testOnlyBDesc = prometheus.NewDesc("test_only_b", "A family one cloud has.", nil, nil)
)

func (c cloudCollector) Update(_ context.Context, _ *Config, ch chan<- prometheus.Metric) error {
	ch <- prometheus.MustNewConstMetric(testUpDesc, prometheus.GaugeValue, 1)
	for i := range 3 {
		ch <- testPoolsFam.sample(float64(i*100), fmt.Sprintf("%s-pool%d", c.cloud, i), "host\"1\"")
	}
	if c.cloud == "b" {
		ch <- prometheus.MustNewConstMetric(testOnlyBDesc, prometheus.GaugeValue, 7)
	}
	return nil
}

func cloudPollers(t *testing.T, withProto bool) []*Poller {
	t.Helper()
	var out []*Poller
	for _, name := range []string{"a", "b"} {
		p := NewCloudPoller(nopLogger(), NewSafeConfig(DefaultConfig()), map[string]Collector{"fake": cloudCollector{name}}, name)
		p.protoWanted.Store(withProto)
		p.PollOnce(context.Background(), "fake", cloudCollector{name})
		out = append(out, p)
	}
	return out
}

// With several clouds /metrics is one valid exposition: every family once
// (expfmt's parser rejects a family given twice), each sample with its
// cloud's label, the exporter's own metrics first.
func TestMultiCloudMetricsMergeFamilies(t *testing.T) {
	own := prometheus.NewRegistry()
	own.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "own_metric", Help: "The exporter's own."}))
	h := MultiHandler(cloudPollers(t, false), own, nopLogger())
	for _, encoding := range []string{"gzip", ""} {
		resp, body := scrape(t, h, "", encoding)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("content type %q", ct)
		}
		families := decodeAll(t, body, expfmt.ResponseFormat(resp.Header))
		want := `own_metric 0
test_only_b{cloud="b"} 7
test_pool_free_bytes{cloud="a",host="host\"1\"",pool="a-pool0"} 0
test_pool_free_bytes{cloud="a",host="host\"1\"",pool="a-pool1"} 100
test_pool_free_bytes{cloud="a",host="host\"1\"",pool="a-pool2"} 200
test_pool_free_bytes{cloud="b",host="host\"1\"",pool="b-pool0"} 0
test_pool_free_bytes{cloud="b",host="host\"1\"",pool="b-pool1"} 100
test_pool_free_bytes{cloud="b",host="host\"1\"",pool="b-pool2"} 200
test_up{cloud="a"} 1
test_up{cloud="b"} 1`
		if got := samples(families); got != want {
			t.Errorf("%s: samples\n%s\nwant\n%s", encoding, got, want)
		}
		if !strings.HasPrefix(string(body), "# HELP own_metric") {
			t.Errorf("%s: the exporter's own metrics do not come first:\n%.200s", encoding, body)
		}
	}
}

// Prometheus asks for protobuf with text as a fallback: it gets the merged
// text. A client that takes no text gets the merge converted; each cloud's
// own snapshot (/probe) serves the protobuf its polls wrote.
func TestMultiCloudFormats(t *testing.T) {
	ps := cloudPollers(t, true)
	h := MultiHandler(ps, prometheus.NewRegistry(), nopLogger())
	resp, _ := scrape(t, h, acceptNativeHistos, "gzip")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("protobuf with a text fallback: content type %q, want text", ct)
	}
	resp, body := scrape(t, h, acceptProtobuf, "gzip")
	fams := decodeAll(t, body, expfmt.ResponseFormat(resp.Header))
	if n := len(fams["test_pool_free_bytes"].GetMetric()); n != 6 || len(fams) != 3 {
		t.Errorf("protobuf only: %d families, %d pool samples; want 3 and 6", len(fams), n)
	}
	probe := ps[1].ProbeHandler(prometheus.NewRegistry(), nopLogger())
	resp, body = scrape(t, probe, acceptProtobuf, "gzip")
	fams = decodeAll(t, body, expfmt.ResponseFormat(resp.Header))
	got := fams["test_only_b"].GetMetric()
	if len(got) != 1 || len(got[0].GetLabel()) != 1 || got[0].GetLabel()[0].GetName() != "cloud" || got[0].GetLabel()[0].GetValue() != "b" {
		t.Errorf("probe of b in protobuf: %v", got)
	}
	if n := len(fams["test_pool_free_bytes"].GetMetric()); n != 3 {
		t.Errorf("probe of b: %d pool samples, want b's 3", n)
	}
}

// samples lists families as sorted "name{labels} value" lines.
func samples(families map[string]*dto.MetricFamily) string {
	var lines []string
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			ls := model.LabelSet{}
			for _, lp := range m.GetLabel() {
				ls[model.LabelName(lp.GetName())] = model.LabelValue(lp.GetValue())
			}
			labels := ""
			if len(ls) > 0 {
				labels = ls.String()
				labels = strings.ReplaceAll(labels, ", ", ",")
			}
			lines = append(lines, fmt.Sprintf("%s%s %v", name, labels, m.GetGauge().GetValue()))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Each cloud takes the top-level sections it does not give itself; a
// section it gives replaces the top-level one whole.
func TestCloudsInheritTopLevelSections(t *testing.T) {
	cfg := mustConfig(t, `
placement:
  interval: 2m
  concurrency: 4
manila:
  interval: 90s
clouds:
  region-one: {}
  region-two:
    placement: {interval: 5m}
  region-three:
`)
	if got := strings.Join(cfg.Clouds.Names(), ","); got != "region-one,region-two,region-three" {
		t.Fatalf("clouds %s, want the file's order", got)
	}
	for i, want := range []struct {
		interval    string
		concurrency int
		manila      string
	}{{"2m0s", 4, "1m30s"}, {"5m0s", 8, "1m30s"}, {"2m0s", 4, "1m30s"}} {
		c := cfg.Clouds.List[i].Config
		if got := c.Placement.Interval.String(); got != want.interval || c.Placement.Concurrency != want.concurrency || c.Manila.Interval.String() != want.manila {
			t.Errorf("%s: placement interval %s concurrency %d, manila interval %s; want %+v",
				cfg.Clouds.List[i].Name, got, c.Placement.Concurrency, c.Manila.Interval, want)
		}
		if len(c.Clouds.List) != 0 {
			t.Errorf("%s: a cloud's configuration lists clouds", cfg.Clouds.List[i].Name)
		}
	}
	if len(DefaultConfig().Clouds.List) != 0 {
		t.Error("the defaults list clouds")
	}
}

func TestCloudsErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"clouds: [a, b]\n", "clouds: line 1: expected a mapping of clouds.yaml entry names to their sections"},
		{"clouds: {}\n", "clouds: line 1: lists no cloud; remove the section"},
		{"clouds:\n  a: 5\n", "clouds.a: line 2: expected a mapping of sections"},
		{"clouds:\n  a:\n    clouds: {b: {}}\n", "clouds.a: line 3: a cloud cannot list clouds"},
		{"clouds:\n  a:\n    placment: {}\n", `clouds.a: config: line 3: unknown key "placment"`},
		{"clouds:\n  a:\n    placement: {interval: 5x}\n", `clouds.a: placement: line 3: "5x" is not a duration`},
		// An error in a top-level section is named once, not per cloud.
		{"placement: {concurrency: 0}\nclouds:\n  a: {}\n", "placement.concurrency: must be between 1 and 256"},
		{"clouds:\n  a: {}\n  a: {}\n", "clouds.a: line 3: listed twice"},
		{"clouds:\n  \"\": {}\n", "clouds: line 2: a cloud needs the name of its clouds.yaml entry"},
	} {
		_, err := ParseConfig([]byte(c.text))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}
