package openstack

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

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
