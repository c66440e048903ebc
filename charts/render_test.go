package charts

// Rendering the chart with the real helm and decoding what it writes into the
// Kubernetes and prometheus-operator API types, strictly: a field the API
// does not know is an error here, where the API server would drop it or
// reject the object only at install time.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "openstack-capacity-exporter"
	releaseName = "oce"
	namespace   = "monitoring"
	fullname    = "oce-openstack-capacity-exporter"
)

// tool finds an external program: the path in env, else on $PATH. Without
// it the test is skipped, except in CI (.ci/run installs both), where a
// missing tool must not pass as a green run.
func tool(t *testing.T, env, name, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: set %s=$(%s)", name, env, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func helm(t *testing.T) string {
	return tool(t, "HELM", "helm", "bash charts/install-helm.sh")
}

func promtool(t *testing.T) string {
	return tool(t, "PROMTOOL", "promtool", "bash .ci/install-promtool.sh")
}

// ciValues are the chart's test values files, the ones chart-testing (ct)
// would also pick up.
func ciValues(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in %s/ci: %v", chartDir, err)
	}
	return files
}

// runHelm returns helm's standard output, or its error with standard error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// manifests is one rendering of the chart, decoded.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	serviceMonitors []*monitoringv1.ServiceMonitor
	prometheusRules []*monitoringv1.PrometheusRule
	// raw holds every document as YAML by "Kind/name", for the checks that
	// need what helm wrote rather than its Go form.
	raw map[string][]byte
}

// render runs helm template with the given values files and --set pairs.
func render(t *testing.T, valuesFiles []string, set ...string) *manifests {
	t.Helper()
	args := []string{"template", releaseName, chartDir, "--namespace", namespace}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeAll(out)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeAll splits helm's output into documents and decodes each strictly
// into the API type of its apiVersion and kind; a kind this test does not
// know is an error, so a new template cannot go unchecked.
func decodeAll(out string) (*manifests, error) {
	m := &manifests{raw: map[string][]byte{}}
	for _, doc := range documentSeparator.Split(out, -1) {
		if isEmptyDocument(doc) {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, fmt.Errorf("not YAML: %v\n%s", err, doc)
		}
		var target any
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			m.deployments, target = append(m.deployments, d), d
		case "v1 Service":
			s := &corev1.Service{}
			m.services, target = append(m.services, s), s
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			m.configMaps, target = append(m.configMaps, c), c
		case "v1 Secret":
			s := &corev1.Secret{}
			m.secrets, target = append(m.secrets, s), s
		case "v1 ServiceAccount":
			s := &corev1.ServiceAccount{}
			m.serviceAccounts, target = append(m.serviceAccounts, s), s
		case "monitoring.coreos.com/v1 ServiceMonitor":
			s := &monitoringv1.ServiceMonitor{}
			m.serviceMonitors, target = append(m.serviceMonitors, s), s
		case "monitoring.coreos.com/v1 PrometheusRule":
			r := &monitoringv1.PrometheusRule{}
			m.prometheusRules, target = append(m.prometheusRules, r), r
		default:
			return nil, fmt.Errorf("the test knows no API type for %q %q: add it to decodeAll\n%s", meta.APIVersion, meta.Kind, doc)
		}
		if err := decodeStrict([]byte(doc), target); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", meta.Kind, err, doc)
		}
		obj := objectMeta(target)
		if err := checkMeta(obj); err != nil {
			return nil, fmt.Errorf("%s %q: %v", meta.Kind, obj.Name, err)
		}
		key := meta.Kind + "/" + obj.Name
		if _, dup := m.raw[key]; dup {
			return nil, fmt.Errorf("%s rendered twice", key)
		}
		m.raw[key] = []byte(doc)
	}
	return m, nil
}

// decodeStrict fails on unknown or duplicate fields and on values of the
// wrong type (a quantity that does not parse, a string for an integer).
func decodeStrict(doc []byte, into any) error {
	return yaml.UnmarshalStrict(doc, into)
}

func isEmptyDocument(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

func objectMeta(obj any) *metav1.ObjectMeta {
	return obj.(interface{ GetObjectMeta() metav1.Object }).GetObjectMeta().(*metav1.ObjectMeta)
}

// checkMeta applies the API server's rules for names, namespaces and labels.
func checkMeta(obj *metav1.ObjectMeta) error {
	if errs := validation.IsDNS1123Subdomain(obj.Name); len(errs) > 0 {
		return fmt.Errorf("name: %s", strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(obj.Namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", obj.Namespace, strings.Join(errs, "; "))
	}
	for k, v := range obj.Labels {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Errorf("label %s=%q: %s", k, v, strings.Join(errs, "; "))
		}
	}
	return nil
}

func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (m *manifests) secret(name string) *corev1.Secret {
	for _, s := range m.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// deployment is the one Deployment every rendering must hold, and its
// exporter container.
func (m *manifests) deployment(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(m.deployments))
	}
	d := m.deployments[0]
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "exporter" {
			return d, &d.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatalf("no container named exporter in %+v", d.Spec.Template.Spec.Containers)
	return nil, nil
}

func (m *manifests) kinds() []string {
	var keys []string
	for k := range m.raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt probe field": `apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: monitoring}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          readinessProbe:
            httpGet: {path: /-/ready, port: 9863, schema: HTTPS}
`,
		"field at the wrong level": `apiVersion: v1
kind: Service
metadata: {name: x, namespace: monitoring}
spec:
  ports: [{port: 9863}]
selector: {a: b}
`,
		"bad quantity": `apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: monitoring}
spec:
  template:
    spec:
      containers:
        - name: c
          resources: {limits: {memory: 256MB-ish}}
`,
		"ServiceMonitor field of another version": `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x, namespace: monitoring}
spec:
  endpoints: [{port: http-metrics, targetPort: 9863, bearerTokenSecrett: {}}]
`,
		"unknown kind": `apiVersion: v1
kind: Pod
metadata: {name: x, namespace: monitoring}
`,
		"duplicate key": `apiVersion: v1
kind: ConfigMap
metadata: {name: x, namespace: monitoring}
data: {a: "1", a: "2"}
`,
		"invalid name": `apiVersion: v1
kind: ConfigMap
metadata: {name: Provider_Trees, namespace: monitoring}
`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeAll("---\n" + doc); err == nil {
				t.Errorf("decoded without error:\n%s", doc)
			} else {
				t.Log(err)
			}
		})
	}
}
