package openstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gophercloud/gophercloud/v2"
)

// hostileSession is a token-less session against url, as a clouds.yaml with
// admin_token and an endpoint override gives.
func hostileSession(t *testing.T, url string, limits Limits) *gophercloud.ServiceClient {
	t.Helper()
	s := NewSession(&Cloud{AuthType: AuthTypeAdminToken, StaticToken: "admin:secret-token",
		EndpointOverrides: map[string]string{"placement": url}, TLS: &tls.Config{}}, NewAPIMetrics(), limits)
	sc, err := s.ServiceClient(context.Background(), "placement")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

var listOp = Operation{"placement", "list_resource_providers"}

// streamProviders writes an endless, well-formed-looking provider list
// until the client goes away, the cap is reached or the test ends; it
// returns how many bytes it managed to write.
func streamProviders(w http.ResponseWriter, r *http.Request, capBytes int64) int64 {
	w.Header().Set("Content-Type", "application/json")
	written, _ := io.WriteString(w, `{"resource_providers": [`)
	total := int64(written)
	entry := []byte(`{"uuid": "10000000-0000-4000-8000-000000000001", "name": "cn1", "generation": 1},` + strings.Repeat(" ", 900))
	for total < capBytes && r.Context().Err() == nil {
		n, err := w.Write(entry)
		total += int64(n)
		if err != nil {
			break
		}
	}
	return total
}

// A streamed body larger than the limit fails the request with an error
// naming the limit and the flag, and the exporter stops reading: the server
// cannot push more than the limit plus the socket buffers.
func TestResponseBodyIsBounded(t *testing.T) {
	const limit = 1 << 20
	var written atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		written.Store(streamProviders(w, r, 2<<30))
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 30 * time.Second, MaxResponseBytes: limit})

	var out struct {
		Providers []map[string]any `json:"resource_providers"`
	}
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	if err == nil {
		t.Fatal("an endless body was accepted")
	}
	msg := Describe(err)
	for _, want := range []string{"GET " + srv.URL + "/resource_providers", "1MiB", "--" + MaxResponseSizeFlag} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("error %v is not ErrResponseTooLarge", err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the server was still writing 20 s after the exporter gave up")
	}
	if n := written.Load(); n > 64<<20 {
		t.Errorf("the server pushed %d MiB past a 1 MiB limit", n>>20)
	}
}

// A Content-Length above the limit fails before the body is read.
func TestResponseContentLengthAboveLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"resource_providers": []}` + strings.Repeat(" ", 4096)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 1024})
	var out map[string]any
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	if !errors.Is(err, ErrResponseTooLarge) || !strings.Contains(Describe(err), "1KiB") {
		t.Errorf("got %v", err)
	}
	// The same body fits a larger limit.
	sc = hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 8192})
	if err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out); err != nil {
		t.Errorf("a body within the limit failed: %v", err)
	}
}

// A redirect to another host would carry the token there: it is refused,
// the other host sees no request, and the error says why. A redirect within
// the endpoint's own host is followed.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	var elsewhere atomic.Int32
	var leaked atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		leaked.Store(r.Header.Get("X-Auth-Token"))
		_, _ = io.WriteString(w, `{"resource_providers": []}`)
	}))
	defer other.Close()
	var sameHostToken atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/resource_providers":
			http.Redirect(w, r, other.URL+"/resource_providers", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
		case "/here":
			sameHostToken.Store(r.Header.Get("X-Auth-Token"))
			_, _ = io.WriteString(w, `{"ok": true}`)
		}
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 1 << 20})

	var out map[string]any
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	if err == nil {
		t.Fatal("the redirect to another host was followed")
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests (token %q)", n, leaked.Load())
	}
	msg := Describe(err)
	if !strings.Contains(msg, "redirect") || !strings.Contains(msg, strings.TrimPrefix(other.URL, "http://")) {
		t.Errorf("error does not explain the refused redirect: %s", msg)
	}
	if strings.Contains(msg, "secret-token") {
		t.Errorf("error carries the token: %s", msg)
	}

	if err := Get(context.Background(), sc, listOp, sc.ServiceURL("moved"), nil, &out); err != nil {
		t.Fatalf("a same-host redirect failed: %v", err)
	}
	if sameHostToken.Load() != "admin:secret-token" {
		t.Errorf("same-host redirect target got token %v", sameHostToken.Load())
	}
}

// An https endpoint that redirects to plain http on the same host would send
// the token in clear text: refused too.
func TestRedirectDowngradeIsRefused(t *testing.T) {
	from := mustParseURL(t, "https://placement.example:443/resource_providers")
	for _, tc := range []struct {
		to   string
		want bool
	}{
		{"https://placement.example/resource_providers/", true},
		{"https://PLACEMENT.example:443/x", true},
		{"http://placement.example/resource_providers", false},
		{"https://placement.example:8443/x", false},
		{"https://evil.example/x", false},
	} {
		err := checkRedirect(&http.Request{URL: mustParseURL(t, tc.to)}, []*http.Request{{URL: from}})
		if (err == nil) != tc.want {
			t.Errorf("redirect to %s: err %v, want allowed=%v", tc.to, err, tc.want)
		}
	}
}

// Server-provided text is cut to a few hundred characters in every error,
// whatever body shape carries it, without splitting a UTF-8 character.
func TestDescribeTruncatesServerText(t *testing.T) {
	huge := strings.Repeat("é", 600_000) // 1.2 MB
	for name, body := range map[string]string{
		"placement": `{"errors": [{"status": 500, "title": "Internal Server Error", "detail": "` + huge + `"}]}`,
		"keystone":  `{"message": "` + huge + `"}`,
		"manila":    `{"computeFault": {"code": 500, "message": "` + huge + `"}}`,
		"html":      `<html>` + huge + `</html>`,
	} {
		err := gophercloud.ErrUnexpectedResponseCode{Method: "GET", URL: "http://p/resource_providers", Actual: 500, Body: []byte(body)}
		got := Describe(err)
		if len(got) > 1000 || !utf8.ValidString(got) || !strings.Contains(got, "HTTP 500") {
			t.Errorf("%s: %d bytes, valid UTF-8 %v: %.200s", name, len(got), utf8.ValidString(got), got)
		}
		wrapped := fmt.Errorf("after re-authentication: %w", &gophercloud.ErrErrorAfterReauthentication{BaseError: gophercloud.BaseError{DefaultErrString: huge}})
		if got := Describe(wrapped); len(got) > 1000 {
			t.Errorf("%s: a wrapped error was not cut: %d bytes", name, len(got))
		}
	}
}

// Over the wire: a 500 with a megabyte of JSON message gives a short error,
// and the body is not even read past the error-body bound.
func TestErrorBodyOverTheWire(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"errors": [{"status": 500, "detail": "`+strings.Repeat("x", 1<<20)+`"}]}`)
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 64 << 20})
	var out map[string]any
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	if StatusCode(err) != 500 {
		t.Fatalf("got %v", err)
	}
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &unexpected) && len(unexpected.Body) > maxErrorBodyBytes {
		t.Errorf("kept %d bytes of an error body", len(unexpected.Body))
	}
	if got := Describe(err); len(got) > 1000 {
		t.Errorf("error of %d bytes", len(got))
	}
}

// A body that is not the JSON it should be names the URL it came from.
func TestDecodeErrorNamesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"resource_providers": [{"uuid": "1`)
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 1 << 20})
	var out map[string]any
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	if err == nil || !strings.Contains(Describe(err), "GET "+srv.URL+"/resource_providers") {
		t.Errorf("got %v", err)
	}
}

func mustParseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Refusing a body costs about the bound in allocations, not a multiple of
// it: buffers that double while reading allocated three times the bound.
func TestRefusedBodyAllocatesAboutTheBound(t *testing.T) {
	const limit = 16 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamProviders(w, r, 256<<20)
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 30 * time.Second, MaxResponseBytes: limit})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var out map[string]any
	err := Get(context.Background(), sc, listOp, sc.ServiceURL("resource_providers"), nil, &out)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("got %v", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > limit*3/2 {
		t.Errorf("refusing a body over %d MiB allocated %.1f MiB", limit>>20, float64(allocated)/(1<<20))
	}
}

// GetArray decodes the array under its key element by element, skips the
// other keys, and tells a missing key, garbage and a second copy of the key
// apart from a good answer, naming the URL.
func TestGetArray(t *testing.T) {
	bodies := map[string]string{
		"/good":      `{"links": [{"rel": "x"}], "items": [{"n": 1}, {"n": 2}], "other": {"a": [1, 2]}}`,
		"/empty":     `{"items": []}`,
		"/missing":   `{"other": []}`,
		"/twice":     `{"items": [{"n": 1}], "items": [{"n": 2}]}`,
		"/truncated": `{"items": [{"n": 1}, {"n"`,
		"/notarray":  `{"items": {"n": 1}}`,
		"/array":     `[{"n": 1}]`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, bodies[r.URL.Path])
	}))
	defer srv.Close()
	sc := hostileSession(t, srv.URL, Limits{RequestTimeout: 5 * time.Second, MaxResponseBytes: 1 << 20})
	type item struct {
		N int `json:"n"`
	}
	get := func(path string) ([]item, bool, error) {
		return GetArray[item](context.Background(), sc, listOp, srv.URL+path, nil, "items")
	}
	if items, found, err := get("/good"); err != nil || !found || len(items) != 2 || items[1].N != 2 {
		t.Errorf("good: %v %v %v", items, found, err)
	}
	if items, found, err := get("/empty"); err != nil || !found || len(items) != 0 {
		t.Errorf("empty: %v %v %v", items, found, err)
	}
	if _, found, err := get("/missing"); err != nil || found {
		t.Errorf("missing: %v %v", found, err)
	}
	for _, path := range []string{"/twice", "/truncated", "/notarray", "/array"} {
		if _, _, err := get(path); err == nil || !strings.Contains(err.Error(), "GET "+srv.URL+path) {
			t.Errorf("%s: %v", path, err)
		}
	}
}
