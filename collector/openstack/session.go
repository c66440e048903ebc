package openstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// Session is one authenticated connection to a cloud, shared by the
// collectors. Authentication and catalog look-ups happen on first use and
// are retried on the next use after a failure, so an exporter started while
// Keystone is down recovers by itself.
type Session struct {
	cloud      *Cloud
	httpClient http.Client

	mu       sync.Mutex
	provider *gophercloud.ProviderClient
	clients  map[string]*gophercloud.ServiceClient
}

// Limits bound what a single request to OpenStack may cost.
type Limits struct {
	// RequestTimeout bounds every HTTP request, reading its body included.
	RequestTimeout time.Duration
	// MaxResponseBytes bounds every response body; a larger one fails the
	// request (ErrResponseTooLarge). 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// NewSession prepares a session; it does no network I/O.
func NewSession(cloud *Cloud, metrics *APIMetrics, limits Limits) *Session {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = cloud.TLS
	// The collectors fetch sub-resources concurrently; keep those
	// connections alive between polls instead of re-handshaking.
	transport.MaxIdleConnsPerHost = 64
	maxBytes := limits.MaxResponseBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	return &Session{
		cloud: cloud,
		httpClient: http.Client{
			// Bound outside the instrumentation, so that a refused body
			// still counts under the status the server sent.
			Transport:     &boundedTransport{next: &instrumentedTransport{next: transport, metrics: metrics}, maxBytes: maxBytes},
			CheckRedirect: checkRedirect,
			Timeout:       limits.RequestTimeout,
		},
		clients: map[string]*gophercloud.ServiceClient{},
	}
}

// ServiceClient returns the client for the first of serviceTypes the cloud
// offers: from its endpoint override, else from the Keystone catalog.
// serviceTypes are written as in the catalog ("shared-file-system").
func (s *Session) ServiceClient(ctx context.Context, serviceTypes ...string) (*gophercloud.ServiceClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.Join(serviceTypes, ",")
	if sc, ok := s.clients[key]; ok {
		return sc, nil
	}
	provider, err := s.providerLocked(ctx)
	if err != nil {
		return nil, err
	}
	for _, serviceType := range serviceTypes {
		if override, ok := s.cloud.EndpointOverrides[strings.ReplaceAll(serviceType, "-", "_")]; ok {
			sc := &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: gophercloud.NormalizeURL(override), Type: serviceType}
			s.clients[key] = sc
			return sc, nil
		}
	}
	if s.cloud.Keystoneless() {
		return nil, fmt.Errorf("auth_type %s and no endpoint override for %s: add %s_endpoint_override to the cloud in clouds.yaml",
			s.cloud.AuthType, strings.Join(serviceTypes, " or "), strings.ReplaceAll(serviceTypes[0], "-", "_"))
	}
	var lastErr error
	for _, serviceType := range serviceTypes {
		eo := s.cloud.Endpoint
		eo.Type = serviceType
		if eo.Availability == "" {
			eo.Availability = gophercloud.AvailabilityPublic
		}
		url, err := provider.EndpointLocator(eo)
		if err != nil {
			lastErr = err
			continue
		}
		sc := &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: gophercloud.NormalizeURL(url), Type: serviceType}
		s.clients[key] = sc
		return sc, nil
	}
	return nil, fmt.Errorf("no %s endpoint in the catalog: %w", strings.Join(serviceTypes, " or "), lastErr)
}

func (s *Session) providerLocked(ctx context.Context) (*gophercloud.ProviderClient, error) {
	if s.provider != nil {
		return s.provider, nil
	}
	if s.cloud.Keystoneless() {
		provider := &gophercloud.ProviderClient{HTTPClient: s.httpClient}
		provider.UseTokenLock()
		if s.cloud.StaticToken != "" {
			provider.SetToken(s.cloud.StaticToken)
		}
		s.provider = provider
		return provider, nil
	}
	provider, err := gcopenstack.NewClient(s.cloud.Keystone.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("auth_url: %w", err)
	}
	provider.HTTPClient = s.httpClient
	if err := gcopenstack.Authenticate(ctx, provider, s.cloud.Keystone); err != nil {
		return nil, fmt.Errorf("keystone authentication failed: %s", Describe(err))
	}
	s.provider = provider
	return provider, nil
}

// ProjectID is the project the session's token is scoped to: from Keystone's
// token, or for admin_token the part after ':' of a noauth "user:project"
// token. It is "" when unknown.
func (s *Session) ProjectID() string {
	if s.cloud.Keystoneless() {
		_, project, _ := strings.Cut(s.cloud.StaticToken, ":")
		return project
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider == nil {
		return ""
	}
	if result, ok := s.provider.GetAuthResult().(tokens.CreateResult); ok {
		if project, err := result.ExtractProject(); err == nil && project != nil {
			return project.ID
		}
	}
	return s.cloud.Keystone.TenantID
}

// Operation names one kind of API call for the request metrics.
type Operation struct{ Service, Name string }

// Get performs a GET on url with extra headers and decodes the JSON body
// into out. okCodes defaults to 200. Every error names the URL.
func Get(ctx context.Context, sc *gophercloud.ServiceClient, op Operation, url string, headers map[string]string, out any, okCodes ...int) error {
	if len(okCodes) == 0 {
		okCodes = []int{http.StatusOK}
	}
	// The body is read here rather than by gophercloud's decoder (see
	// readBody).
	resp, err := sc.Get(WithOperation(ctx, op.Service, op.Name), url, nil, &gophercloud.RequestOpts{
		MoreHeaders:      headers,
		OkCodes:          okCodes,
		KeepResponseBody: true,
	})
	if err != nil {
		return err // gophercloud's and net/http's errors name the URL
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			// A refused body left up to the bound as garbage; give it
			// back now rather than keep it in RSS until the scavenger does.
			debug.FreeOSMemory()
		}
		return fmt.Errorf("GET %s: reading the response: %w", url, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decoding the response: %w", url, err)
	}
	return nil
}

// GetArray performs a GET whose JSON body is an object holding an array
// under key, and decodes that array one element at a time: the body is
// never held whole (a 100,000-provider list is 78 MB of JSON, its decoded
// providers a third of that). Other keys are skipped. found is false when
// the body has no such key.
func GetArray[T any](ctx context.Context, sc *gophercloud.ServiceClient, op Operation, url string, headers map[string]string, key string) (items []T, found bool, err error) {
	resp, err := sc.Get(WithOperation(ctx, op.Service, op.Name), url, nil, &gophercloud.RequestOpts{
		MoreHeaders:      headers,
		OkCodes:          []int{http.StatusOK},
		KeepResponseBody: true,
	})
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	fail := func(err error) ([]T, bool, error) {
		return nil, false, fmt.Errorf("GET %s: reading the response: %w", url, err)
	}
	dec := json.NewDecoder(resp.Body)
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		if name, _ := tok.(string); name != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		if found {
			return fail(fmt.Errorf("%q appears twice", key))
		}
		found = true
		if err := expectDelim(dec, '['); err != nil {
			return fail(fmt.Errorf("%q: %w", key, err))
		}
		for dec.More() {
			var item T
			if err := dec.Decode(&item); err != nil {
				return fail(err)
			}
			items = append(items, item)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return fail(err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fail(err)
	}
	return items, found, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// readBody reads r whole. With a Content-Length it is one exact buffer;
// without one, chunks joined once at the end. Growing one buffer by
// doubling, as io.ReadAll and json.Decoder do, held three times the size
// bound when a server streamed more than it.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	if contentLength >= 0 {
		buf := make([]byte, contentLength+1) // +1: room to see EOF
		n, err := io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, err
		}
		return buf[:n], nil
	}
	var chunks [][]byte
	for size := 4 << 10; ; size = min(2*size, 1<<20) {
		chunk := make([]byte, size)
		n, err := io.ReadFull(r, chunk)
		chunks = append(chunks, chunk[:n])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return bytes.Join(chunks, nil), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// StatusCode returns the HTTP status of a failed request, or 0 when no
// response arrived.
func StatusCode(err error) int {
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &unexpected) {
		return unexpected.Actual
	}
	return 0
}

// Describe turns a request error into one line an operator can act on: the
// status and the server's own message from any of the error body shapes
// Placement, Manila and Keystone use, cut to a few hundred characters. It
// never includes request headers, so no token can leak into a log line.
func Describe(err error) string {
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &unexpected) {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timed out: " + Truncate(err.Error(), 2*maxServerText)
		}
		// Other errors may quote a server too (gophercloud's
		// re-authentication errors carry the response body).
		return Truncate(err.Error(), 2*maxServerText)
	}
	message := serverMessage(unexpected.Body)
	if message == "" {
		message = strings.TrimSpace(string(unexpected.Body))
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", unexpected.Method, unexpected.URL, unexpected.Actual, Truncate(message, maxServerText))
}

// maxServerText is how much of a server's own text goes into a log line or
// an error: enough for any real reason, little enough for a log line.
const maxServerText = 300

// Truncate cuts s to at most n bytes on a UTF-8 boundary, saying how much
// was left out. Use it for any text a server chose.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

func serverMessage(body []byte) string {
	// Placement: {"errors": [{"detail": ...}]}
	var placement struct {
		Errors []struct {
			Detail string `json:"detail"`
			Title  string `json:"title"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &placement) == nil && len(placement.Errors) > 0 {
		var parts []string
		for _, e := range placement.Errors {
			parts = append(parts, cleanDetail(firstNonEmpty(e.Detail, e.Title)))
		}
		return strings.Join(parts, "; ")
	}
	// Keystone and the 401 of Placement: {"message": ...}; Manila and Nova
	// style: {"badRequest": {"message": ...}}.
	var generic map[string]json.RawMessage
	if json.Unmarshal(body, &generic) != nil {
		return ""
	}
	if raw, ok := generic["message"]; ok {
		var m string
		if json.Unmarshal(raw, &m) == nil {
			return cleanDetail(m)
		}
	}
	for _, raw := range generic {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
			return cleanDetail(inner.Message)
		}
	}
	return ""
}

// cleanDetail drops the webob boilerplate Placement puts before the reason
// ("The server could not comply with the request since...\n\n").
func cleanDetail(s string) string {
	if before, reason, ok := strings.Cut(s, "\n\n"); ok {
		if strings.TrimSpace(reason) != "" {
			s = reason
		} else {
			s = before
		}
	}
	s = strings.ReplaceAll(s, "<br />", " ")
	return strings.Join(strings.Fields(s), " ")
}
