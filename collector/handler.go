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
	return NewScrapeLimiter(maxRequests).Limit(p.handler(reg, logger))
}

func (p *Poller) handler(reg prometheus.Gatherer, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		serveMetrics(w, r, reg, logger, format, func(out *body) {
			for _, s := range snapshots {
				if format.FormatType() == expfmt.TypeTextPlain {
					out.writeGzipped(s.gzipped)
				} else {
					out.writeGzipped(s.encoded(format, logger))
				}
			}
		})
	})
}

// ProbeHandler is Handler without its own limit, for one of several
// clouds (/probe?cloud=NAME), behind the ScrapeLimiter of all endpoints.
func (p *Poller) ProbeHandler(reg prometheus.Gatherer, logger log.Logger) http.Handler {
	return p.handler(reg, logger)
}

// MultiHandler serves /metrics of a process that polls several clouds:
// their snapshots as one exposition, each family once with every cloud's
// samples (they differ by the cloud label), after the exporter's own
// metrics from reg. The pieces are the snapshots' stored gzip members, so a
// scrape copies bytes as with one cloud. The merge exists in text only: a
// client that asks for protobuf and takes text gets text (Prometheus always
// does); one that takes no text gets a conversion per scrape, and should
// scrape each cloud's /probe instead, which serves every format as stored.
func MultiHandler(pollers []*Poller, reg prometheus.Gatherer, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := negotiate(r.Header)
		if format.FormatType() == expfmt.TypeProtoDelim && acceptsText(r.Header) {
			format = expfmt.NewFormat(expfmt.TypeTextPlain)
		}
		pieces := mergeFamilies(pollers)
		serveMetrics(w, r, reg, logger, format, func(out *body) {
			if format.FormatType() == expfmt.TypeTextPlain {
				for _, piece := range pieces {
					out.writeGzipped(piece)
				}
				return
			}
			out.writeGzipped(convert(io.MultiReader(gunzipAll(pieces)...), format, logger))
		})
	})
}

// mergeFamilies lists the gzip members of the pollers' latest snapshots in
// the order of one exposition: a family's header (from the first snapshot
// that has it), then its samples from every snapshot that has it. Families
// come in the order they are first met, cloud by cloud.
func mergeFamilies(pollers []*Poller) [][]byte {
	type merged struct {
		header  []byte
		samples [][]byte
	}
	byName := map[string]*merged{}
	var order []string
	for _, p := range pollers {
		for _, s := range p.latest() {
			for _, span := range s.spans {
				m := byName[span.name]
				if m == nil {
					m = &merged{header: s.gzipped[span.header[0]:span.header[1]]}
					byName[span.name] = m
					order = append(order, span.name)
				}
				m.samples = append(m.samples, s.gzipped[span.samples[0]:span.samples[1]])
			}
		}
	}
	var pieces [][]byte
	for _, name := range order {
		m := byName[name]
		pieces = append(pieces, m.header)
		pieces = append(pieces, m.samples...)
	}
	return pieces
}

func gunzipAll(pieces [][]byte) []io.Reader {
	readers := make([]io.Reader, 0, len(pieces))
	for _, piece := range pieces {
		zr, err := gzip.NewReader(bytes.NewReader(piece))
		if err != nil {
			panic(err) // the pieces were compressed by snapshotEncoder
		}
		readers = append(readers, zr)
	}
	return readers
}

// serveMetrics writes the exposition in format: the exporter's own metrics
// from reg, then what writeSnapshots writes, then the format's end.
func serveMetrics(w http.ResponseWriter, r *http.Request, reg prometheus.Gatherer, logger log.Logger, format expfmt.Format, writeSnapshots func(*body)) {
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
	writeSnapshots(&out)
	// The format's end, once for the whole response: OpenMetrics' "# EOF".
	buf.Reset()
	if closer, ok := enc.(expfmt.Closer); ok {
		_ = closer.Close()
	}
	out.writePlain(buf.Bytes())
}

// ScrapeLimiter bounds the scrapes served at once, over every endpoint it
// wraps (/metrics and each cloud's /probe): past the bound the answer is
// 503, as node_exporter's --web.max-requests does.
type ScrapeLimiter struct {
	max      int
	inFlight chan struct{}
}

// NewScrapeLimiter allows max scrapes at once; 0 means no limit.
func NewScrapeLimiter(max int) *ScrapeLimiter {
	l := &ScrapeLimiter{max: max}
	if max > 0 {
		l.inFlight = make(chan struct{}, max)
	}
	return l
}

// Limit wraps h.
func (l *ScrapeLimiter) Limit(h http.Handler) http.Handler {
	if l.inFlight == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case l.inFlight <- struct{}{}:
			defer func() { <-l.inFlight }()
		default:
			http.Error(w, fmt.Sprintf("Too many concurrent scrapes (limit %d), try again later.", l.max), http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
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
func ReadyHandler(pollers ...*Poller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var pending, failed []string
		for _, p := range pollers {
			for _, st := range p.State() {
				name := st.Name
				if st.Cloud != "" {
					name = st.Cloud + "/" + name
				}
				switch {
				case !st.Polled:
					pending = append(pending, name)
				case !st.Success:
					failed = append(failed, name+": "+st.LastError)
				}
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
