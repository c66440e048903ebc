package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// conversions holds a snapshot's metrics in the formats other than text that
// scrapers asked for. Each is converted on the first scrape of the snapshot
// that asks for it and kept gzip-compressed, so later scrapes copy bytes as
// the text format does; decoding the whole snapshot per scrape cost 2.4 s
// and 1.8 GB at 10,000 providers.
type conversions struct {
	mu       sync.Mutex
	byFormat map[expfmt.Format]*conversion
}

type conversion struct {
	once    sync.Once
	gzipped []byte
}

// encoded returns the snapshot's metrics in format, gzip-compressed, without
// the format's end (OpenMetrics' "# EOF"): the response ends once, after all
// snapshots. Concurrent scrapes of one snapshot wait for one conversion.
func (s *snapshot) encoded(format expfmt.Format, logger log.Logger) []byte {
	if format.FormatType() == expfmt.TypeProtoDelim && s.proto != nil {
		return s.proto // written by the poll itself
	}
	s.converted.mu.Lock()
	c := s.converted.byFormat[format]
	if c == nil {
		if s.converted.byFormat == nil {
			s.converted.byFormat = map[expfmt.Format]*conversion{}
		}
		c = &conversion{}
		s.converted.byFormat[format] = c
	}
	s.converted.mu.Unlock()
	c.once.Do(func() { c.gzipped = convert(s.text(), format, logger) })
	return c.gzipped
}

// convert re-encodes a text exposition in format one family at a time, so
// that only one family is ever held decoded. The text holds each family
// whole, starting with its HELP or TYPE line; a family is parsed alone,
// encoded and dropped before the next is read.
func convert(text io.Reader, format expfmt.Format, logger log.Logger) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed) // as the snapshot itself
	enc := expfmt.NewEncoder(zw, format)               // never closed: see encoded
	var chunk bytes.Buffer
	var current string
	flush := func() {
		if chunk.Len() == 0 {
			return
		}
		parser := expfmt.NewTextParser(model.LegacyValidation)
		families, err := parser.TextToMetricFamilies(&chunk)
		chunk.Reset()
		if err != nil {
			level.Error(logger).Log("msg", "cannot parse a metric family of the snapshot; it is not served in this format", "family", current, "format", format, "err", err)
			return
		}
		names := make([]string, 0, len(families))
		for name := range families {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := enc.Encode(families[name]); err != nil {
				level.Error(logger).Log("msg", "cannot encode metric family", "family", name, "format", format, "err", err)
			}
		}
	}
	r := bufio.NewReaderSize(text, 64<<10)
	lineStart := true
	for {
		piece, err := r.ReadSlice('\n')
		if lineStart {
			if name, ok := metadataName(piece); ok && name != current {
				flush()
				current = name
			}
		}
		chunk.Write(piece)
		lineStart = err == nil
		if err == bufio.ErrBufferFull {
			continue // a line longer than the buffer: the rest follows
		}
		if err != nil {
			if err != io.EOF {
				level.Error(logger).Log("msg", "cannot read the snapshot", "err", err)
			}
			break
		}
	}
	flush()
	_ = zw.Close()
	return out.Bytes()
}

// metadataName returns the family named by a "# HELP" or "# TYPE" line.
func metadataName(line []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("# HELP "))
	if !ok {
		if rest, ok = bytes.CutPrefix(line, []byte("# TYPE ")); !ok {
			return "", false
		}
	}
	if i := bytes.IndexAny(rest, " \n"); i >= 0 {
		rest = rest[:i]
	}
	return string(rest), true
}

// negotiate picks the response format from the client's Accept header: the
// text format whenever the client takes it at all, because the snapshots are
// stored in it (Prometheus asks for OpenMetrics first and text second unless
// told otherwise); protobuf when preferred to text (Prometheus with native
// histograms or scrape_protocols); OpenMetrics only for a client that does
// not take text.
func negotiate(h http.Header) expfmt.Format {
	format := expfmt.NegotiateAccept(h, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() != expfmt.TypeTextPlain || acceptsText(h) {
		return format
	}
	return expfmt.NegotiateAccept(h, expfmt.DefaultOpenMetricsAcceptedFormats()...)
}

// acceptsText reports whether an Accept header admits text/plain; without
// one, NegotiateAccept's fallback to text applies.
func acceptsText(h http.Header) bool {
	for _, clause := range strings.Split(h.Get("Accept"), ",") {
		params := strings.Split(clause, ";")
		switch strings.ToLower(strings.TrimSpace(params[0])) {
		case "text/plain", "text/*", "*/*":
		default:
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			if k, v, ok := strings.Cut(p, "="); ok && strings.TrimSpace(k) == "q" {
				q, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}
