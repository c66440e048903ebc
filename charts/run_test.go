package charts

// The rendered pod, run as a process: the exporter built from this checkout,
// started with the Deployment's args and env, its files laid out as the
// volumes would be (under a temporary root), probed the way the kubelet
// would probe it. Proves that every flag the chart writes exists, that the
// configuration it writes is valid, and that the probes answer where they
// point. OpenStack is an address on loopback where nothing listens, so the
// polls fail; that is what readiness must not hide.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// exporterBinary builds the exporter of this checkout once per test run.
func exporterBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oce-chart-test")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "openstack-capacity-exporter")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/openstack-capacity-exporter")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// pod is a rendered Deployment's container laid out under root.
type pod struct {
	root      string
	container *corev1.Container
	addr      string // 127.0.0.1:port the process listens on
}

// layOut writes every mounted Secret and ConfigMap item under root, from the
// rendered objects or, for the operator's own, from external (by name).
func layOut(t *testing.T, m *manifests, external map[string]map[string][]byte) *pod {
	t.Helper()
	d, c := m.deployment(t)
	root := t.TempDir()
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v := volumes[vm.Name]
		var data map[string][]byte
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			items = v.Secret.Items
			if s := m.secret(v.Secret.SecretName); s != nil {
				data = s.Data
			} else if data = external[v.Secret.SecretName]; data == nil {
				t.Fatalf("volume %s: Secret %s is neither rendered nor given", vm.Name, v.Secret.SecretName)
			}
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
			if cm := m.configMap(v.ConfigMap.Name); cm != nil {
				data = map[string][]byte{}
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
			} else if data = external[v.ConfigMap.Name]; data == nil {
				t.Fatalf("volume %s: ConfigMap %s is neither rendered nor given", vm.Name, v.ConfigMap.Name)
			}
		default:
			t.Fatalf("volume %s: neither Secret nor ConfigMap", vm.Name)
		}
		if len(items) == 0 { // every key, under its own name
			for k := range data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		dir := filepath.Join(root, vm.MountPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			content, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: key %s missing", vm.Name, it.Key)
			}
			// Files that name other mounted files (the web configuration's
			// certificate) name them under root too.
			content = []byte(strings.ReplaceAll(string(content), "/etc/", root+"/etc/"))
			if err := os.WriteFile(filepath.Join(dir, it.Path), content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &pod{root: root, container: c}
}

// command is the container's args with every path under root and the
// listen address on loopback.
func (p *pod) command(t *testing.T, extra ...string) *exec.Cmd {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	l.Close()
	var args []string
	for _, a := range p.container.Args {
		if strings.HasPrefix(a, "--web.listen-address=") {
			a = "--web.listen-address=" + p.addr
		}
		args = append(args, strings.ReplaceAll(a, "=/etc/", "="+p.root+"/etc/"))
	}
	cmd := exec.Command(exporterBinary(t), append(args, extra...)...)
	cmd.Env = []string{} // the container's environment only
	for _, e := range p.container.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+strings.ReplaceAll(e.Value, "/etc/", p.root+"/etc/"))
	}
	return cmd
}

// Every values file: the rendered flags parse and the rendered configuration
// passes the exporter's own check.
func TestRenderedConfigPassesConfigCheck(t *testing.T) {
	for _, values := range ciValues(t) {
		t.Run(filepath.Base(values), func(t *testing.T) {
			m := render(t, []string{values})
			external, _ := externalSecrets(t)
			p := layOut(t, m, external)
			out, err := p.command(t, "--config.check").CombinedOutput()
			if err != nil {
				t.Fatalf("--config.check with the rendered args: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "configuration file is valid") {
				t.Errorf("--config.check said:\n%s", out)
			}
		})
	}
}

// The defaults (HTTP), the monitoring values (TLS and basic auth from the
// chart's web configuration Secret) and two clouds: the pod starts, its probes answer as
// the kubelet would ask, and it turns ready after a failed first poll.
func TestRenderedPodServesProbes(t *testing.T) {
	for _, name := range []string{"defaults-values.yaml", "monitoring-values.yaml", "several-clouds-values.yaml"} {
		t.Run(name, func(t *testing.T) {
			m := render(t, []string{filepath.Join(chartDir, "ci", name)})
			external, certPEM := externalSecrets(t)
			p := layOut(t, m, external)

			cmd := p.command(t)
			log := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Signal(os.Interrupt)
				cmd.Wait()
				if t.Failed() {
					t.Logf("exporter log:\n%s", log)
				}
			})

			client := &http.Client{Timeout: 5 * time.Second}
			if p.container.ReadinessProbe.HTTPGet.Scheme == corev1.URISchemeHTTPS {
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(certPEM)
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
			}
			// The liveness probe answers as soon as the server listens.
			if code, body := waitFor(t, client, p, p.container.LivenessProbe, http.StatusOK, 10*time.Second); code != http.StatusOK {
				t.Fatalf("liveness probe: %d %s", code, body)
			}
			// Readiness: after the first poll, which fails (nothing listens
			// on the cloud's address), 200 naming the failure.
			code, body := waitFor(t, client, p, p.container.ReadinessProbe, http.StatusOK, 30*time.Second)
			if code != http.StatusOK || !strings.Contains(body, "placement") {
				t.Fatalf("readiness probe: %d %q, want 200 naming the failed placement poll", code, body)
			}
			if len(p.container.ReadinessProbe.HTTPGet.HTTPHeaders) > 0 {
				// Without the probe's Authorization header basic auth refuses it.
				noAuth := *p.container.ReadinessProbe
				get := *noAuth.HTTPGet
				get.HTTPHeaders = nil
				noAuth.HTTPGet = &get
				if code, _ := probe(client, p, &noAuth); code != http.StatusUnauthorized {
					t.Errorf("readiness probe without its header: %d, want 401", code)
				}
			}
		})
	}
}

// waitFor repeats the kubelet's probe until it answers want or the
// deadline passes, and returns the last answer.
func waitFor(t *testing.T, client *http.Client, p *pod, pr *corev1.Probe, want int, limit time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, body := probe(client, p, pr)
		if code == want || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func probe(client *http.Client, p *pod, pr *corev1.Probe) (int, string) {
	g := pr.HTTPGet
	if g.Port.String() != p.container.Ports[0].Name {
		return 0, fmt.Sprintf("probe port %s is not the container's %s", g.Port.String(), p.container.Ports[0].Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(pr.TimeoutSeconds)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.ToLower(string(g.Scheme))+"://"+p.addr+g.Path, nil)
	if err != nil {
		return 0, err.Error()
	}
	for _, h := range g.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// externalSecrets stands in for the operator's Secrets and ConfigMaps that
// the ci values name: a loopback cloud, a web configuration, a certificate
// (returned too), a CA bundle.
func externalSecrets(t *testing.T) (map[string]map[string][]byte, []byte) {
	t.Helper()
	clouds := []byte(`clouds:
  mycloud:
    auth_type: none
    placement_endpoint_override: http://127.0.0.1:9/
    shared_file_system_endpoint_override: http://127.0.0.1:9/v2
`)
	cert, key := selfSignedCert(t)
	return map[string]map[string][]byte{
		"openstack-credentials": {"clouds.yaml": clouds, "openstack-clouds.yaml": clouds, "openstack-secure.yaml": []byte("clouds: {}\n")},
		"exporter-web-config": {"web.yml": []byte(`tls_server_config:
  cert_file: /etc/openstack-capacity-exporter/tls/tls.crt
  key_file: /etc/openstack-capacity-exporter/tls/tls.key
`)},
		"exporter-tls": {"tls.crt": cert, "tls.key": key, "ca.crt": cert},
		"openstack-ca": {"ca.crt": cert},
	}, cert
}

// selfSignedCert is a certificate for localhost and its key, in PEM.
func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
