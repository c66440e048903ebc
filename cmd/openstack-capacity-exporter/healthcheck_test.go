package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	tlsConfig := writeFile(t, "web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n")
	authOnly := writeFile(t, "web.yml", "basic_auth_users:\n  ops: $2y$10$abc\n")
	for _, c := range []struct {
		listen []string
		web    string
		want   string
	}{
		{[]string{":9863"}, "", "http://127.0.0.1:9863/-/healthy"},
		{[]string{"0.0.0.0:9863"}, "", "http://127.0.0.1:9863/-/healthy"},
		{[]string{"[::]:9863"}, "", "http://127.0.0.1:9863/-/healthy"},
		{[]string{"10.0.0.5:9100", ":9863"}, "", "http://10.0.0.5:9100/-/healthy"},
		{[]string{":9863"}, tlsConfig, "https://127.0.0.1:9863/-/healthy"},
		{[]string{":9863"}, authOnly, "http://127.0.0.1:9863/-/healthy"},
	} {
		if got, err := healthURL(c.listen, c.web); err != nil || got != c.want {
			t.Errorf("%v %q: %q, %v; want %q", c.listen, c.web, got, err, c.want)
		}
	}
	if _, err := healthURL([]string{"9863"}, ""); err == nil || !strings.Contains(err.Error(), "--healthcheck.url") {
		t.Errorf("a listen address without a port: %v, want an error pointing at --healthcheck.url", err)
	}
}

// --healthcheck against a live server, one behind basic auth, one that
// fails, and nothing listening.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/-/healthy" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	for _, c := range []struct {
		status int
		code   int
	}{{http.StatusOK, 0}, {http.StatusUnauthorized, 0}, {http.StatusServiceUnavailable, 1}} {
		status = c.status
		var out bytes.Buffer
		if code := run([]string{"--healthcheck", "--healthcheck.url", srv.URL + "/-/healthy"}, &out); code != c.code {
			t.Errorf("server answering %d: exit %d, want %d (%s)", c.status, code, c.code, out.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"--healthcheck", "--web.listen-address", "127.0.0.1:" + freePortOf(t)}, &out); code != 1 || !strings.Contains(out.String(), "unhealthy") {
		t.Errorf("nothing listening: exit %d, said %q", code, out.String())
	}
}

func freePortOf(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// HEALTHCHECK_URL stands in for --healthcheck.url: a container's
// HEALTHCHECK has fixed arguments, its environment does not.
func TestHealthcheckURLFromEnvironment(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/custom/healthy" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("HEALTHCHECK_URL", srv.URL+"/custom/healthy")
	var out bytes.Buffer
	if code := run([]string{"--healthcheck"}, &out); code != 0 {
		t.Errorf("exit %d: %s", code, out.String())
	}
}
