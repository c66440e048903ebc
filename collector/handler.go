package collector

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the exporter's own metrics from reg, followed by
// the pre-encoded snapshots. For the text format (what Prometheus scrapes
// unless told otherwise) a scrape writes stored bytes; gzip streams may be
// concatenated, so the stored compressed snapshot is sent as is. Any other
// format goes through promhttp with the families decoded from the snapshot.
func (p *Poller) Handler(reg prometheus.Gatherer, logger log.Logger, maxInFlight int) http.Handler {
	slow := promhttp.HandlerFor(prometheus.Gatherers{reg, p}, promhttp.HandlerOpts{
		ErrorLog:            promhttpLogger{logger},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxInFlight,
	})
	inFlight := make(chan struct{}, maxInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.Negotiate(r.Header)
		if format.FormatType() != expfmt.TypeTextPlain {
			slow.ServeHTTP(w, r)
			return
		}
		select {
		case inFlight <- struct{}{}:
			defer func() { <-inFlight }()
		default:
			http.Error(w, "Too many concurrent scrapes.", http.StatusServiceUnavailable)
			return
		}
		families, err := reg.Gather()
		if err != nil {
			level.Error(logger).Log("msg", "gathering the exporter's own metrics", "err", err)
		}
		var own bytes.Buffer
		enc := expfmt.NewEncoder(&own, format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				level.Error(logger).Log("msg", "encoding metric family", "family", mf.GetName(), "err", err)
			}
		}
		w.Header().Set("Content-Type", string(format))
		gz := acceptsGzip(r)
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write(own.Bytes())
			if err := zw.Close(); err != nil {
				return
			}
		} else {
			_, _ = w.Write(own.Bytes())
		}
		for _, s := range p.latest() {
			if gz {
				_, _ = w.Write(s.gzipped)
			} else {
				_, _ = io.Copy(w, s.text())
			}
		}
	})
}

// ReadyHandler serves /-/ready: 503 until every collector has finished its
// first poll, then 200 whether or not that poll succeeded, because /metrics
// then reports the failure truthfully and a readiness gate that held back
// scrapes would hide it. The body names the collectors whose last poll
// failed, with the error.
func (p *Poller) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var pending, failed []string
		for _, st := range p.State() {
			switch {
			case !st.Polled:
				pending = append(pending, st.Name)
			case !st.Success:
				failed = append(failed, st.Name+": "+st.LastError)
			}
		}
		if len(pending) > 0 {
			http.Error(w, "Not ready: waiting for the first poll of "+strings.Join(pending, ", ")+".", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(failed) == 0 {
			fmt.Fprintln(w, "Ready.")
			return
		}
		fmt.Fprintln(w, "Ready. The last poll of these collectors failed ("+Namespace+"_collector_success 0):")
		for _, f := range failed {
			fmt.Fprintln(w, f)
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}

// promhttpLogger adapts go-kit/log to promhttp's error log.
type promhttpLogger struct{ logger log.Logger }

func (l promhttpLogger) Println(v ...any) { level.Error(l.logger).Log("msg", fmt.Sprint(v...)) }
