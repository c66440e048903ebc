package collector

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

func logfmtTo(w io.Writer) log.Logger { return log.NewLogfmtLogger(log.NewSyncWriter(w)) }

// pollWithTimeout runs Update under the section's timeout, as the Poller does.
func pollWithTimeout(t testing.TB, c Collector, cfg *Config) ([]prometheus.Metric, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Placement.Timeout))
	defer cancel()
	return collect(t, ctx, c, cfg)
}

// filterMetrics keeps the metrics of one family.
func filterMetrics(metrics []prometheus.Metric, name string) prometheus.Collector {
	var out replay
	for _, m := range metrics {
		if strings.Contains(m.Desc().String(), `"`+name+`"`) {
			out = append(out, m)
		}
	}
	return out
}
