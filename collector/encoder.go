package collector

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A poll's metrics are written to the snapshot as they arrive, one family
// after another, straight into the compressed text: at 10,000 providers a
// poll sends ~250,000 samples, and holding them all (as prometheus.Metric
// values, then as gathered families) until the end was what made a poll's
// memory peak at ~290 MB of heap. The price is a rule for collectors: send
// all the samples of a family together (a family that comes back after
// another one started is dropped and logged, see snapshotEncoder.add).

// family describes a gauge family whose samples the encoder writes without
// going through client_golang's data model: the per-provider families, where
// that model cost most. Its Desc serves the registry paths (tests, promhttp)
// that need a prometheus.Metric.
type family struct {
	name, help string
	labelNames []string
	sorted     []int // indexes of labelNames in name order, as client_golang writes labels
	desc       *prometheus.Desc
}

func newGaugeFamily(name, help string, labelNames []string) *family {
	sorted := make([]int, len(labelNames))
	for i := range sorted {
		sorted[i] = i
	}
	sort.Slice(sorted, func(i, j int) bool { return labelNames[sorted[i]] < labelNames[sorted[j]] })
	return &family{name: name, help: help, labelNames: labelNames, sorted: sorted, desc: prometheus.NewDesc(name, help, labelNames, nil)}
}

// sample is one sample of a family: a prometheus.Metric with two small
// allocations instead of a ConstMetric's several per label. labelValues are
// in the order of the family's labelNames.
type sample struct {
	fam         *family
	value       float64
	labelValues []string
}

// sample builds one sample; the label values must match the family's labels.
func (f *family) sample(value float64, labelValues ...string) prometheus.Metric {
	if len(labelValues) != len(f.labelNames) {
		panic(fmt.Sprintf("%s: %d label values for %d labels", f.name, len(labelValues), len(f.labelNames)))
	}
	return &sample{fam: f, value: value, labelValues: labelValues}
}

func (s *sample) Desc() *prometheus.Desc { return s.fam.desc }

// Write fills m as prometheus.MustNewConstMetric would (label pairs sorted
// by name), for the registry paths.
func (s *sample) Write(m *dto.Metric) error {
	pairs := make([]*dto.LabelPair, len(s.labelValues))
	for i, v := range s.labelValues {
		if !utf8.ValidString(v) {
			return fmt.Errorf("label %s: value %q is not valid UTF-8", s.fam.labelNames[i], v)
		}
		pairs[i] = &dto.LabelPair{Name: proto.String(s.fam.labelNames[i]), Value: proto.String(v)}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].GetName() < pairs[j].GetName() })
	m.Label = pairs
	m.Gauge = &dto.Gauge{Value: proto.Float64(s.value)}
	return nil
}

// familyHeader is what the text format says of a family before its samples.
type familyHeader struct {
	name, help, typ string
}

// headers caches the header of each Desc seen: Descs are package-level and
// few, and a prometheus.Desc tells its name and help only through a registry.
var headers sync.Map // *prometheus.Desc -> familyHeader

func headerOf(m prometheus.Metric) (familyHeader, error) {
	if s, ok := m.(*sample); ok {
		return familyHeader{s.fam.name, s.fam.help, "gauge"}, nil
	}
	if h, ok := headers.Load(m.Desc()); ok {
		return h.(familyHeader), nil
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(metricList{m}); err != nil {
		return familyHeader{}, err
	}
	families, err := reg.Gather()
	if err != nil {
		return familyHeader{}, err
	}
	if len(families) != 1 {
		return familyHeader{}, errors.New("the metric gathers to no family")
	}
	mf := families[0]
	h := familyHeader{mf.GetName(), mf.GetHelp(), strings.ToLower(mf.GetType().String())}
	headers.Store(m.Desc(), h)
	return h, nil
}

// metricList is a fixed list of metrics as a collector.
type metricList []prometheus.Metric

func (l metricList) Describe(chan<- *prometheus.Desc) {}
func (l metricList) Collect(ch chan<- prometheus.Metric) {
	for _, m := range l {
		ch <- m
	}
}

// snapshotEncoder writes metrics in the text exposition format into a gzip
// stream as they arrive. What it refuses (a duplicate series, a family sent
// in two parts, invalid UTF-8) is dropped and logged once per family and
// reason; the rest is served.
type snapshotEncoder struct {
	logger log.Logger
	buf    bytes.Buffer
	zw     *gzip.Writer
	// proto, when not nil, also gets the delimited protobuf encoding (see
	// protoEncoder).
	proto *protoEncoder

	// cloud, when not empty, is the pre-encoded cloud label every sample
	// gets (one process polling several clouds); spans then records where
	// each family's header and samples are, each its own gzip member, so
	// that several clouds' snapshots can be served as one exposition with
	// each family once (see mergeFamilies).
	cloud     cloudLabel
	spans     []familySpan
	memberOff int // where the open gzip member starts

	current  *prometheus.Desc
	done     map[*prometheus.Desc]bool // families already written
	series   map[uint64]struct{}       // label sets of the current family
	seed     maphash.Seed
	line     []byte
	dm       dto.Metric
	problems map[string]bool
	samples  int
}

// newSnapshotEncoder writes text, and protobuf too when withProto.
func newSnapshotEncoder(logger log.Logger, withProto bool) *snapshotEncoder {
	return newCloudSnapshotEncoder(logger, withProto, "")
}

// newCloudSnapshotEncoder is newSnapshotEncoder for one of several clouds:
// every sample gets cloud="<cloud>" and the families are kept mergeable.
func newCloudSnapshotEncoder(logger log.Logger, withProto bool, cloud string) *snapshotEncoder {
	e := &snapshotEncoder{logger: logger, done: map[*prometheus.Desc]bool{}, series: map[uint64]struct{}{},
		seed: maphash.MakeSeed(), problems: map[string]bool{}, cloud: newCloudLabel(cloud)}
	// BestSpeed: the snapshot is compressed once per poll, but polls of a
	// large cloud should stay cheap too; the ratio is still ~20:1.
	e.zw, _ = gzip.NewWriterLevel(&e.buf, gzip.BestSpeed)
	if withProto {
		e.proto = newProtoEncoder()
	}
	return e
}

// add writes one metric.
func (e *snapshotEncoder) add(m prometheus.Metric) {
	desc := m.Desc()
	if desc != e.current {
		if e.done[desc] {
			e.problem(desc, "sent in two parts; the collector must send a family's samples together, the second part is dropped")
			return
		}
		if e.current != nil {
			e.done[e.current] = true
		}
		h, err := headerOf(m)
		if err != nil {
			e.problem(desc, err.Error())
			e.done[desc] = true
			return
		}
		e.current = desc
		clear(e.series)
		if e.proto != nil {
			e.proto.startFamily(h)
		}
		e.line = e.line[:0]
		e.line = append(e.line, "# HELP "...)
		e.line = append(e.line, h.name...)
		e.line = append(e.line, ' ')
		e.line = appendEscaped(e.line, h.help, false)
		e.line = append(e.line, "\n# TYPE "...)
		e.line = append(e.line, h.name...)
		e.line = append(e.line, ' ')
		e.line = append(e.line, h.typ...)
		e.line = append(e.line, '\n')
		if e.cloud.name != "" {
			e.startMember(h.name)
			_, _ = e.zw.Write(e.line)
			e.startMember("")
		} else {
			_, _ = e.zw.Write(e.line)
		}
	}
	var err error
	if s, ok := m.(*sample); ok {
		err = e.appendSample(s.fam.name, s.fam.labelNames, s.labelValues, s.fam.sorted, s.value)
	} else {
		err = e.appendMetric(m)
	}
	if err != nil {
		e.problem(desc, err.Error())
		return
	}
	_, _ = e.zw.Write(e.line)
	e.samples++
}

func (e *snapshotEncoder) appendMetric(m prometheus.Metric) error {
	e.dm.Reset()
	if err := m.Write(&e.dm); err != nil {
		return err
	}
	var value float64
	switch {
	case e.dm.Gauge != nil:
		value = e.dm.Gauge.GetValue()
	case e.dm.Counter != nil:
		value = e.dm.Counter.GetValue()
	case e.dm.Untyped != nil:
		value = e.dm.Untyped.GetValue()
	default:
		return errors.New("only gauges, counters and untyped metrics can be part of a snapshot")
	}
	h, _ := headerOf(m)
	names := make([]string, len(e.dm.Label))
	values := make([]string, len(e.dm.Label))
	for i, lp := range e.dm.Label {
		names[i], values[i] = lp.GetName(), lp.GetValue()
	}
	return e.appendSample(h.name, names, values, nil, value)
}

// appendSample puts one sample line into e.line, or says why it cannot.
// order, when not nil, is the order in which to write the labels.
func (e *snapshotEncoder) appendSample(name string, labelNames, labelValues []string, order []int, value float64) error {
	var h maphash.Hash
	h.SetSeed(e.seed)
	for _, v := range labelValues {
		if !utf8.ValidString(v) {
			return fmt.Errorf("a label value is not valid UTF-8: %q", v)
		}
		_, _ = h.WriteString(v)
		_ = h.WriteByte(0xff) // not in UTF-8: separates the values
	}
	key := h.Sum64()
	if _, dup := e.series[key]; dup {
		return errors.New("a series was sent twice (same labels); the repeat is dropped")
	}
	e.series[key] = struct{}{}

	e.line = append(e.line[:0], name...)
	if len(labelNames) > 0 || e.cloud.name != "" {
		e.line = append(e.line, '{')
		e.line = append(e.line, e.cloud.text...)
		for k := range labelNames {
			i := k
			if order != nil {
				i = order[k]
			}
			if k > 0 || e.cloud.name != "" {
				e.line = append(e.line, ',')
			}
			e.line = append(e.line, labelNames[i]...)
			e.line = append(e.line, `="`...)
			e.line = appendEscaped(e.line, labelValues[i], true)
			e.line = append(e.line, '"')
		}
		e.line = append(e.line, '}')
	}
	e.line = append(e.line, ' ')
	e.line = appendFloat(e.line, value)
	e.line = append(e.line, '\n')
	if e.proto != nil {
		e.proto.sample(e.cloud.proto, labelNames, labelValues, order, value)
	}
	return nil
}

// cloudLabel is the cloud label, encoded once for both formats.
type cloudLabel struct {
	name  string
	text  []byte // cloud="name"
	proto []byte // the LabelPair field of a Metric message
}

func newCloudLabel(cloud string) cloudLabel {
	if cloud == "" {
		return cloudLabel{}
	}
	l := cloudLabel{name: cloud}
	l.text = append([]byte(`cloud="`), appendEscaped(nil, cloud, true)...)
	l.text = append(l.text, '"')
	size := protowire.SizeTag(pbLabelName) + protowire.SizeBytes(len("cloud")) +
		protowire.SizeTag(pbLabelValue) + protowire.SizeBytes(len(cloud))
	l.proto = protowire.AppendTag(nil, pbMetricLabel, protowire.BytesType)
	l.proto = protowire.AppendVarint(l.proto, uint64(size))
	l.proto = protowire.AppendTag(l.proto, pbLabelName, protowire.BytesType)
	l.proto = protowire.AppendString(l.proto, "cloud")
	l.proto = protowire.AppendTag(l.proto, pbLabelValue, protowire.BytesType)
	l.proto = protowire.AppendString(l.proto, cloud)
	return l
}

// familySpan locates one family in a snapshot's text: header and samples
// are each a complete gzip member of it.
type familySpan struct {
	name            string
	header, samples [2]int // [start, end) offsets
}

// startMember ends the open gzip member and starts the next: the header of
// family name when name is not empty, else the samples of the family whose
// header was just written.
func (e *snapshotEncoder) startMember(name string) {
	e.endMember()
	if name != "" {
		e.spans = append(e.spans, familySpan{name: name})
	}
}

// endMember closes the open member and records where it ends.
func (e *snapshotEncoder) endMember() {
	if len(e.spans) == 0 {
		return // nothing written yet
	}
	_ = e.zw.Close()
	span := &e.spans[len(e.spans)-1]
	if span.header[1] == 0 {
		span.header = [2]int{e.memberOff, e.buf.Len()}
	} else {
		span.samples = [2]int{e.memberOff, e.buf.Len()}
	}
	e.memberOff = e.buf.Len()
	e.zw.Reset(&e.buf)
}

func (e *snapshotEncoder) problem(desc *prometheus.Desc, msg string) {
	key := desc.String() + msg
	if e.problems[key] {
		return
	}
	e.problems[key] = true
	level.Error(e.logger).Log("msg", "some metrics of the poll were inconsistent and are not served", "metric", desc.String(), "err", msg)
}

// finish closes the streams and returns the compressed text exposition,
// and the compressed protobuf one when asked for.
func (e *snapshotEncoder) finish() (text, proto []byte) {
	if e.cloud.name != "" {
		e.endMember() // leaves a writer that nothing is written to
	} else {
		_ = e.zw.Close()
	}
	if e.proto != nil {
		proto = e.proto.finish()
	}
	return slices.Clip(e.buf.Bytes()), proto
}

// protoEncoder writes the delimited protobuf format (what Prometheus asks
// for with native histograms or scrape_protocols) straight from the
// samples, one MetricFamily message at a time: converting the text
// snapshot afterwards cost 1.4-2.5 s and 60-70 MB of RSS per poll at 10,000
// providers. A message is preceded by its length, so a family's metrics are
// kept until it ends, but compressed (a 30,000-sample family is ~4 MB of
// protobuf, ~0.4 MB compressed) and then copied into the output.
type protoEncoder struct {
	buf    bytes.Buffer
	zw     *gzip.Writer
	header []byte // the current family's name, help and type fields
	size   int    // bytes of its metric fields so far
	held   bytes.Buffer
	hw     *flate.Writer // compresses into held
	hr     io.ReadCloser // reads held back
	metric []byte        // scratch for one Metric message
	typ    dto.MetricType
	open   bool
}

func newProtoEncoder() *protoEncoder {
	p := &protoEncoder{}
	p.zw, _ = gzip.NewWriterLevel(&p.buf, gzip.BestSpeed)
	p.hw, _ = flate.NewWriter(&p.held, flate.BestSpeed)
	p.hr = flate.NewReader(&p.held)
	return p
}

// Field numbers of io.prometheus.client's metrics.proto.
const (
	pbFamilyName, pbFamilyHelp, pbFamilyType, pbFamilyMetric = 1, 2, 3, 4
	pbMetricLabel, pbMetricGauge, pbMetricCounter            = 1, 2, 3
	pbMetricUntyped                                          = 5
	pbLabelName, pbLabelValue                                = 1, 2
	pbValue                                                  = 1
)

func (p *protoEncoder) startFamily(h familyHeader) {
	p.flush()
	p.open, p.size = true, 0
	p.held.Reset()
	p.hw.Reset(&p.held)
	p.header = protowire.AppendTag(p.header[:0], pbFamilyName, protowire.BytesType)
	p.header = protowire.AppendString(p.header, h.name)
	if h.help != "" {
		p.header = protowire.AppendTag(p.header, pbFamilyHelp, protowire.BytesType)
		p.header = protowire.AppendString(p.header, h.help)
	}
	p.typ = protoType(h.typ)
	p.header = protowire.AppendTag(p.header, pbFamilyType, protowire.VarintType)
	p.header = protowire.AppendVarint(p.header, uint64(p.typ))
}

func protoType(typ string) dto.MetricType {
	switch typ {
	case "counter":
		return dto.MetricType_COUNTER
	case "gauge":
		return dto.MetricType_GAUGE
	}
	return dto.MetricType_UNTYPED
}

// sample writes one metric; lead, when not empty, is an encoded label pair
// written before the others (the cloud label).
func (p *protoEncoder) sample(lead []byte, labelNames, labelValues []string, order []int, value float64) {
	m := append(p.metric[:0], lead...)
	for k := range labelNames {
		i := k
		if order != nil {
			i = order[k]
		}
		size := protowire.SizeTag(pbLabelName) + protowire.SizeBytes(len(labelNames[i])) +
			protowire.SizeTag(pbLabelValue) + protowire.SizeBytes(len(labelValues[i]))
		m = protowire.AppendTag(m, pbMetricLabel, protowire.BytesType)
		m = protowire.AppendVarint(m, uint64(size))
		m = protowire.AppendTag(m, pbLabelName, protowire.BytesType)
		m = protowire.AppendString(m, labelNames[i])
		m = protowire.AppendTag(m, pbLabelValue, protowire.BytesType)
		m = protowire.AppendString(m, labelValues[i])
	}
	field := pbMetricUntyped
	switch p.typ {
	case dto.MetricType_GAUGE:
		field = pbMetricGauge
	case dto.MetricType_COUNTER:
		field = pbMetricCounter
	}
	m = protowire.AppendTag(m, protowire.Number(field), protowire.BytesType)
	m = protowire.AppendVarint(m, uint64(protowire.SizeTag(pbValue)+protowire.SizeFixed64()))
	m = protowire.AppendTag(m, pbValue, protowire.Fixed64Type)
	m = protowire.AppendFixed64(m, math.Float64bits(value))
	// The metric field: tag and length before the message just built.
	var prefix [binary.MaxVarintLen64 + 1]byte
	tag := protowire.AppendVarint(protowire.AppendTag(prefix[:0], pbFamilyMetric, protowire.BytesType), uint64(len(m)))
	_, _ = p.hw.Write(tag)
	_, _ = p.hw.Write(m)
	p.size += len(tag) + len(m)
	p.metric = m
}

func (p *protoEncoder) flush() {
	if !p.open {
		return
	}
	p.open = false
	_ = p.hw.Close()
	var size [binary.MaxVarintLen64]byte
	_, _ = p.zw.Write(protowire.AppendVarint(size[:0], uint64(len(p.header)+p.size)))
	_, _ = p.zw.Write(p.header)
	_ = p.hr.(flate.Resetter).Reset(&p.held, nil)
	_, _ = io.Copy(p.zw, p.hr)
}

func (p *protoEncoder) finish() []byte {
	p.flush()
	_ = p.zw.Close()
	return slices.Clip(p.buf.Bytes())
}

// appendEscaped escapes as the text format wants: backslash and newline
// always, the double quote inside label values.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats as expfmt does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// text returns the snapshot's text exposition, decompressed.
func (s *snapshot) text() io.Reader {
	zr, err := gzip.NewReader(bytes.NewReader(s.gzipped))
	if err != nil {
		panic(err) // the snapshot was compressed by snapshotEncoder
	}
	return zr
}
