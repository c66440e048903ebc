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
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the exporter's own metrics from reg, gathered and
// encoded per scrape, followed by the collectors' snapshots. A snapshot is
// stored in the text format (what Prometheus scrapes unless told otherwise);
// once a scrape has asked for protobuf, every poll writes that too, and a
// client that prefers protobuf but takes text gets text until then. Any
// other format is converted once, on the first scrape of a snapshot that
// asks for it. Either way a scrape writes stored gzip streams, which may be
// concatenated, and decompresses them only for a client that does not take
// gzip. At most maxRequests scrapes run at once (0: no limit); past that the
// answer is 503.
func (p *Poller) Handler(reg prometheus.Gatherer, logger log.Logger, maxRequests int) http.Handler {
	var inFlight chan struct{}
	if maxRequests > 0 {
		inFlight = make(chan struct{}, maxRequests)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight != nil {
			select {
			case inFlight <- struct{}{}:
				defer func() { <-inFlight }()
			default:
				http.Error(w, fmt.Sprintf("Too many concurrent scrapes (limit %d), try again later.", maxRequests), http.StatusServiceUnavailable)
				return
			}
		}
		format := negotiate(r.Header)
		snapshots := p.latest()
		if format.FormatType() == expfmt.TypeProtoDelim {
			p.protoWanted.Store(true)
			if acceptsText(r.Header) && !allHaveProto(snapshots) {
				// Until the next poll writes protobuf, text, which the
				// client takes too: converting the snapshot would cost
				// seconds and tens of MB at 10,000 providers.
				format = expfmt.NewFormat(expfmt.TypeTextPlain)
			}
		}
		families, err := reg.Gather()
		if err != nil {
			level.Error(logger).Log("msg", "gathering the exporter's own metrics", "err", err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				level.Error(logger).Log("msg", "encoding metric family", "family", mf.GetName(), "err", err)
			}
		}
		h := w.Header()
		h.Set("Content-Type", string(format))
		h.Add("Vary", "Accept")
		h.Add("Vary", "Accept-Encoding")
		out := body{w: w, gzip: acceptsGzip(r)}
		if out.gzip {
			h.Set("Content-Encoding", "gzip")
		}
		out.writePlain(buf.Bytes())
		for _, s := range snapshots {
			if format.FormatType() == expfmt.TypeTextPlain {
				out.writeGzipped(s.gzipped)
			} else {
				out.writeGzipped(s.encoded(format, logger))
			}
		}
		// The format's end, once for the whole response: OpenMetrics' "# EOF".
		buf.Reset()
		if closer, ok := enc.(expfmt.Closer); ok {
			_ = closer.Close()
		}
		out.writePlain(buf.Bytes())
	})
}

// body writes a response from plain and gzip-compressed pieces, compressed
// or not as the client asked. After a failed write (the client went away) it
// writes nothing more.
type body struct {
	w       io.Writer
	gzip    bool
	written bool // a gzip body needs one member, even if empty
	err     error
}

func (b *body) writePlain(p []byte) {
	if b.err != nil || len(p) == 0 && b.written {
		return
	}
	b.written = true
	if !b.gzip {
		_, b.err = b.w.Write(p)
		return
	}
	zw := gzip.NewWriter(b.w)
	if _, b.err = zw.Write(p); b.err == nil {
		b.err = zw.Close()
	}
}

func (b *body) writeGzipped(p []byte) {
	if b.err != nil || len(p) == 0 {
		return
	}
	b.written = true
	if b.gzip {
		_, b.err = b.w.Write(p)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		b.err = err
		return
	}
	_, b.err = io.Copy(b.w, zr)
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

func allHaveProto(snapshots []*snapshot) bool {
	for _, s := range snapshots {
		if s.proto == nil {
			return false
		}
	}
	return true
}
