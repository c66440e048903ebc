package openstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/client_golang/prometheus"
)

// APIMetrics counts and times every HTTP request the exporter makes to
// OpenStack, so operators can see what the exporter costs their APIs.
type APIMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewAPIMetrics creates the request metrics; register them with Register.
func NewAPIMetrics() *APIMetrics {
	return &APIMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "openstack_capacity_exporter_api_requests_total",
			Help: "HTTP requests the exporter made to OpenStack APIs, by service, operation and HTTP status code (\"error\" when no response arrived: timeout, refused connection, TLS failure).",
		}, []string{"service", "operation", "status_code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "openstack_capacity_exporter_api_request_duration_seconds",
			Help:    "Latency of HTTP requests the exporter made to OpenStack APIs, until the response headers arrived.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"service", "operation"}),
	}
}

// Register adds the request metrics to reg.
func (m *APIMetrics) Register(reg prometheus.Registerer) error {
	if err := reg.Register(m.requests); err != nil {
		return err
	}
	return reg.Register(m.duration)
}

type requestLabelsKey struct{}

type requestLabels struct{ service, operation string }

// WithOperation tags ctx so that the request made with it is counted under
// service and operation. gophercloud passes the context down to the HTTP
// request, which is how the transport learns what it is carrying.
func WithOperation(ctx context.Context, service, operation string) context.Context {
	return context.WithValue(ctx, requestLabelsKey{}, requestLabels{service, operation})
}

// instrumentedTransport records APIMetrics for every round trip.
type instrumentedTransport struct {
	next    http.RoundTripper
	metrics *APIMetrics
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	labels, _ := req.Context().Value(requestLabelsKey{}).(requestLabels)
	if strings.HasSuffix(req.URL.Path, "/auth/tokens") {
		// Keystone calls happen inside gophercloud (also on re-authentication
		// in the middle of another operation), so recognise them by path.
		labels = requestLabels{"identity", "authenticate"}
	}
	if labels.service == "" {
		labels = requestLabels{"unknown", "unknown"}
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.metrics.duration.WithLabelValues(labels.service, labels.operation).Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.metrics.requests.WithLabelValues(labels.service, labels.operation, code).Inc()
	return resp, err
}

// MaxResponseSizeFlag is the command-line flag that sets
// Limits.MaxResponseBytes; errors name it so that an operator knows the fix.
const MaxResponseSizeFlag = "openstack.max-response-size"

// DefaultMaxResponseBytes fits the provider list of a cloud of about a
// million providers (~780 bytes each at microversion 1.39) and bounds what
// a broken or hostile endpoint can make the exporter hold.
const DefaultMaxResponseBytes = 1 << 30

// maxErrorBodyBytes bounds the body of an error response (status >= 400):
// only its first few hundred characters are ever shown, so reading more
// would only cost memory.
const maxErrorBodyBytes = 64 << 10

// ErrResponseTooLarge fails a request whose body exceeds the limit.
var ErrResponseTooLarge = errors.New("response body too large")

// boundedTransport fails responses larger than maxBytes instead of reading
// them whole; gophercloud reads bodies with no bound of its own.
type boundedTransport struct {
	next     http.RoundTripper
	maxBytes int64
}

func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode >= 400 {
		// Cut silently: gophercloud keeps an error body for the message, and
		// a truncated one still shows its beginning.
		resp.Body = &boundedBody{ReadCloser: resp.Body, remaining: maxErrorBodyBytes}
		return resp, nil
	}
	if resp.ContentLength > t.maxBytes {
		resp.Body.Close()
		return nil, t.tooLarge(fmt.Sprintf("Content-Length %d is", resp.ContentLength))
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, remaining: t.maxBytes, tooLarge: t.tooLarge}

	return resp, nil
}

func (t *boundedTransport) tooLarge(what string) error {
	return fmt.Errorf("%w: %s more than the %s allowed by --%s; raise it if the cloud is really that large",
		ErrResponseTooLarge, what, units.Base2Bytes(t.maxBytes), MaxResponseSizeFlag)
}

// boundedBody reads at most remaining bytes. Past them it returns the
// tooLarge error, or a plain EOF without one (an error body is only cut
// short). The error is made only then: most bodies never need it.
type boundedBody struct {
	io.ReadCloser
	remaining int64
	tooLarge  func(what string) error
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.remaining < 0 {
		return 0, b.overflow()
	}
	// Ask for one byte more than allowed, to tell "exactly the limit" from
	// "more than the limit".
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.remaining {
		n, b.remaining = int(b.remaining), -1
		return n, b.overflow()
	}
	b.remaining -= int64(n)
	return n, err
}

func (b *boundedBody) overflow() error {
	if b.tooLarge == nil {
		return io.EOF
	}
	return b.tooLarge("it is")
}

// checkRedirect follows a redirect only within the endpoint's own scheme,
// host and port. Go drops only Authorization and Cookie on a cross-host
// redirect: gophercloud's X-Auth-Token would be sent to whatever host the
// redirect names, and that host's answer taken for the service's.
func checkRedirect(req *http.Request, via []*http.Request) error {
	from := via[0].URL
	if origin(req.URL) != origin(from) {
		return fmt.Errorf("refused a redirect from %s to %s: it leaves the endpoint's host, and the request carries the OpenStack token; point the catalog entry or the endpoint override at the final URL",
			from.Redacted(), req.URL.Redacted())
	}
	if len(via) >= 10 {
		return fmt.Errorf("stopped after 10 redirects, starting at %s", from.Redacted())
	}
	return nil
}

// origin is scheme://host:port with the default port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}
