package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// healthcheck is the container's HEALTHCHECK: distroless images have no
// shell, curl or wget, so the binary probes its own /-/healthy. It returns
// the process exit code: 0 when the server answers.
func healthcheck(url string, stderr io.Writer) int {
	client := &http.Client{
		Timeout: 5 * time.Second,
		// The probe talks to this very process on loopback, whose
		// certificate may be issued for a public name: what is checked is
		// that it serves, not who it is.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
	}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		return 0
	case http.StatusUnauthorized:
		// Behind the web config's basic auth the server still answered:
		// alive. The probe carries no credentials to leak.
		return 0
	}
	fmt.Fprintf(stderr, "unhealthy: %s answered %s\n", url, resp.Status)
	return 1
}

// healthURL is where --healthcheck looks without --healthcheck.url: the
// first listen address, on loopback when it listens on every interface, over
// https when the web config file turns TLS on.
func healthURL(listen []string, webConfigFile string) (string, error) {
	if len(listen) == 0 {
		return "", fmt.Errorf("no --web.listen-address to probe; give --healthcheck.url")
	}
	host, port, err := net.SplitHostPort(listen[0])
	if err != nil {
		return "", fmt.Errorf("--web.listen-address %q: %v; give --healthcheck.url", listen[0], err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if webConfigFile != "" {
		data, err := os.ReadFile(webConfigFile)
		if err != nil {
			return "", err
		}
		var web struct {
			TLS map[string]any `yaml:"tls_server_config"`
		}
		if err := yaml.Unmarshal(data, &web); err != nil {
			return "", fmt.Errorf("%s: %v", webConfigFile, err)
		}
		if len(web.TLS) > 0 {
			scheme = "https"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/-/healthy", nil
}
