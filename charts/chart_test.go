package charts

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

const (
	rulesSource   = "../alerts/openstack-capacity.rules.yaml"
	rulesCopy     = chartDir + "/files/openstack-capacity.rules.yaml"
	dashboardsDir = "../dashboards"
	dashboardCopy = chartDir + "/files/dashboards"
)

// The chart carries copies of alerts/ and dashboards/ (helm reads no file
// outside a chart); they must be those files, all of them, byte for byte.
func TestCopiesMatchSources(t *testing.T) {
	const fix = "run charts/sync.sh"
	sameFile(t, rulesSource, rulesCopy, fix)
	sources := globBase(t, filepath.Join(dashboardsDir, "*.json"))
	copies := globBase(t, filepath.Join(dashboardCopy, "*.json"))
	if !reflect.DeepEqual(sources, copies) {
		t.Fatalf("dashboards %v, chart copies %v: %s", sources, copies, fix)
	}
	for _, name := range sources {
		sameFile(t, filepath.Join(dashboardsDir, name), filepath.Join(dashboardCopy, name), fix)
	}
}

func sameFile(t *testing.T, source, copy, fix string) {
	t.Helper()
	want, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(copy)
	if err != nil {
		t.Fatalf("%v: %s", err, fix)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s: %s", copy, source, fix)
	}
}

func globBase(t *testing.T, pattern string) []string {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	sort.Strings(names)
	return names
}

func TestLint(t *testing.T) {
	for _, values := range ciValues(t) {
		t.Run(filepath.Base(values), func(t *testing.T) {
			if _, err := runHelm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--values", values); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// expectation is what one values file must render.
type expectation struct {
	scheme          corev1.URIScheme
	cloud           string            // --os-cloud, "" for none (config.clouds)
	cloudsSecret    string            // the Secret clouds.yaml comes from
	cloudsItems     map[string]string // its key -> file name in /etc/openstack
	webConfig       string            // the Secret of --web.config.file, "" for none
	collectorArgs   []string
	serviceAccount  string
	serviceMonitor  bool
	prometheusRule  bool
	dashboards      string // their namespace, "" for none
	dashboardFolder string
	cpuRequest      string
	// The operator's Secrets and ConfigMaps: referenced, never rendered.
	externalSecrets    []string
	externalConfigMaps []string
}

var expectations = map[string]expectation{
	"defaults-values.yaml": {
		scheme:         corev1.URISchemeHTTP,
		cloud:          "mycloud",
		cloudsSecret:   fullname + "-clouds",
		cloudsItems:    map[string]string{"clouds.yaml": "clouds.yaml"},
		collectorArgs:  []string{"--no-collector.cinder", "--no-collector.manila", "--collector.placement"},
		serviceAccount: fullname,
		cpuRequest:     "50m",
	},
	"existing-secret-tls-values.yaml": {
		scheme:             corev1.URISchemeHTTPS,
		cloud:              "mycloud",
		cloudsSecret:       "openstack-credentials",
		cloudsItems:        map[string]string{"openstack-clouds.yaml": "clouds.yaml", "openstack-secure.yaml": "secure.yaml"},
		webConfig:          "exporter-web-config",
		collectorArgs:      []string{"--no-collector.cinder", "--collector.manila", "--collector.placement"},
		serviceAccount:     fullname,
		serviceMonitor:     true,
		cpuRequest:         "50m",
		externalSecrets:    []string{"openstack-credentials", "exporter-web-config", "exporter-tls"},
		externalConfigMaps: []string{"openstack-ca"},
	},
	"monitoring-values.yaml": {
		scheme:          corev1.URISchemeHTTPS,
		cloud:           "mycloud",
		cloudsSecret:    fullname + "-clouds",
		cloudsItems:     map[string]string{"clouds.yaml": "clouds.yaml", "secure.yaml": "secure.yaml"},
		webConfig:       fullname + "-web-config",
		collectorArgs:   []string{"--no-collector.cinder", "--collector.manila", "--collector.placement"},
		serviceAccount:  fullname,
		serviceMonitor:  true,
		prometheusRule:  true,
		dashboards:      "grafana",
		dashboardFolder: "OpenStack capacity",
		cpuRequest:      "50m",
		externalSecrets: []string{"exporter-tls"},
	},
	"everything-off-values.yaml": {
		scheme:          corev1.URISchemeHTTP,
		cloud:           "mycloud",
		cloudsSecret:    "openstack-credentials",
		cloudsItems:     map[string]string{"clouds.yaml": "clouds.yaml"},
		collectorArgs:   []string{"--no-collector.cinder", "--collector.manila", "--no-collector.placement"},
		serviceAccount:  "default",
		externalSecrets: []string{"openstack-credentials"},
	},
	"several-clouds-values.yaml": {
		scheme:         corev1.URISchemeHTTP,
		cloudsSecret:   fullname + "-clouds",
		cloudsItems:    map[string]string{"clouds.yaml": "clouds.yaml"},
		collectorArgs:  []string{"--collector.cinder", "--collector.manila", "--collector.placement"},
		serviceAccount: fullname,
		cpuRequest:     "50m",
	},
}

func TestRender(t *testing.T) {
	for _, values := range ciValues(t) {
		name := filepath.Base(values)
		want, ok := expectations[name]
		if !ok {
			t.Errorf("%s has no expectation in chart_test.go: add one", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			m := render(t, []string{values})
			t.Logf("rendered %s", strings.Join(m.kinds(), ", "))
			checkDeployment(t, m, want)
			checkService(t, m)
			checkServiceMonitor(t, m, want)
			checkPrometheusRule(t, m, want)
			checkDashboards(t, m, want)
		})
	}
}

func checkDeployment(t *testing.T, m *manifests, want expectation) {
	d, c := m.deployment(t)
	pod := d.Spec.Template.Spec
	if d.Name != fullname || d.Namespace != namespace {
		t.Errorf("Deployment %s/%s, want %s/%s", d.Namespace, d.Name, namespace, fullname)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1 (one exporter per cloud)", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge.IntValue() != 1 {
		t.Errorf("rolling update %+v, want maxSurge 1, maxUnavailable 0: the old pod serves until the new one is ready", ru)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod's labels %v", k, v, d.Spec.Template.Labels)
		}
	}

	// Security: non-root, nothing writable, no capabilities, the runtime's
	// seccomp profile, no Kubernetes token.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile: want RuntimeDefault")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container runAsNonRoot is not true")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", sc.Capabilities)
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; the exporter never talks to the Kubernetes API")
	}
	if pod.ServiceAccountName != want.serviceAccount {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, want.serviceAccount)
	}
	if want.serviceAccount == fullname {
		if len(m.serviceAccounts) != 1 || m.serviceAccounts[0].Name != fullname || m.serviceAccounts[0].AutomountServiceAccountToken == nil || *m.serviceAccounts[0].AutomountServiceAccountToken {
			t.Errorf("want the ServiceAccount %s without token automount, got %+v", fullname, m.serviceAccounts)
		}
	} else if len(m.serviceAccounts) != 0 {
		t.Errorf("ServiceAccounts rendered with serviceAccount.create false: %+v", m.serviceAccounts)
	}

	// Resources from the measured peak RSS (values.yaml).
	res := c.Resources
	if got := res.Requests[corev1.ResourceMemory]; got.Cmp(resource.MustParse("64Mi")) != 0 {
		t.Errorf("memory request %s, want 64Mi", got.String())
	}
	if got := res.Limits[corev1.ResourceMemory]; got.Cmp(resource.MustParse("256Mi")) != 0 {
		t.Errorf("memory limit %s, want 256Mi", got.String())
	}
	if got, ok := res.Requests[corev1.ResourceCPU]; (want.cpuRequest == "") == ok || ok && got.Cmp(resource.MustParse(want.cpuRequest)) != 0 {
		t.Errorf("cpu request %v, want %q", res.Requests, want.cpuRequest)
	}
	if _, ok := res.Limits[corev1.ResourceCPU]; ok {
		t.Error("cpu limit set: throttling only stretches the polls")
	}

	// Probes: /-/healthy for liveness, /-/ready for readiness, on the named
	// port, in the scheme the web configuration serves.
	port := containerPort(t, c)
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/-/healthy"}, {"readiness", c.ReadinessProbe, "/-/ready"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", p.kind)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || g.Port.String() != port.Name || g.Scheme != want.scheme {
			t.Errorf("%s probe %s %s port %s, want %s %s port %s", p.kind, g.Scheme, g.Path, g.Port.String(), want.scheme, p.path, port.Name)
		}
	}

	// Mounts: every one read-only and backed by a volume; clouds.yaml where
	// OS_CLIENT_CONFIG_FILE points, the config file where --config.file does.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volume %s mounted writable at %s", vm.Name, vm.MountPath)
		}
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("mount %s has no volume", vm.Name)
		}
		mounts[vm.Name] = vm
	}
	clouds := volumes["clouds"].Secret
	if clouds == nil || clouds.SecretName != want.cloudsSecret {
		t.Fatalf("clouds volume %+v, want Secret %s", volumes["clouds"], want.cloudsSecret)
	}
	items := map[string]string{}
	for _, it := range clouds.Items {
		items[it.Key] = it.Path
	}
	if !reflect.DeepEqual(items, want.cloudsItems) {
		t.Errorf("clouds Secret items %v, want %v", items, want.cloudsItems)
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("Secret volume %s mode %v: readable by others", v.Name, v.Secret.DefaultMode)
		}
	}
	if got := envValue(c, "OS_CLIENT_CONFIG_FILE"); got != mounts["clouds"].MountPath+"/clouds.yaml" {
		t.Errorf("OS_CLIENT_CONFIG_FILE %q, want clouds.yaml in the clouds mount %s", got, mounts["clouds"].MountPath)
	}
	if got := flagValue(c, "--os-cloud"); got != want.cloud || !hasFlag(c, "--os-cloud") && want.cloud != "" {
		t.Errorf("--os-cloud %q, want %q", got, want.cloud)
	}
	configFile := flagValue(c, "--config.file")
	if cm := volumes["config"].ConfigMap; cm == nil || cm.Name != fullname || configFile != mounts["config"].MountPath+"/config.yml" {
		t.Errorf("--config.file %q from volume %+v, want config.yml of ConfigMap %s", configFile, volumes["config"], fullname)
	} else if cfg := m.configMap(fullname); cfg == nil || cfg.Data["config.yml"] == "" {
		t.Errorf("ConfigMap %s has no config.yml", fullname)
	}
	webConfigFile := flagValue(c, "--web.config.file")
	if want.webConfig == "" {
		if webConfigFile != "" || volumes["web-config"].Secret != nil {
			t.Errorf("--web.config.file %q without a web configuration", webConfigFile)
		}
	} else if s := volumes["web-config"].Secret; s == nil || s.SecretName != want.webConfig || !strings.HasPrefix(webConfigFile, mounts["web-config"].MountPath+"/") {
		t.Errorf("--web.config.file %q from volume %+v, want a file of Secret %s", webConfigFile, volumes["web-config"], want.webConfig)
	}
	for _, arg := range want.collectorArgs {
		if !hasArg(c, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a configuration change would not roll the pod")
	}

	// Every Secret and ConfigMap the pod reads is rendered, or the operator's.
	for _, v := range pod.Volumes {
		switch {
		case v.Secret != nil:
			if m.secret(v.Secret.SecretName) == nil && !contains(want.externalSecrets, v.Secret.SecretName) {
				t.Errorf("volume %s reads Secret %s, which is neither rendered nor expected from the operator", v.Name, v.Secret.SecretName)
			}
		case v.ConfigMap != nil:
			if m.configMap(v.ConfigMap.Name) == nil && !contains(want.externalConfigMaps, v.ConfigMap.Name) {
				t.Errorf("volume %s reads ConfigMap %s, which is neither rendered nor expected from the operator", v.Name, v.ConfigMap.Name)
			}
		}
	}
	for _, s := range m.secrets {
		if contains(want.externalSecrets, s.Name) {
			t.Errorf("Secret %s is the operator's but rendered", s.Name)
		}
	}
}

func containerPort(t *testing.T, c *corev1.Container) corev1.ContainerPort {
	t.Helper()
	if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" {
		t.Fatalf("container ports %+v, want one named http-metrics", c.Ports)
	}
	if got := flagValue(c, "--web.listen-address"); got != ":"+strconv.Itoa(int(c.Ports[0].ContainerPort)) {
		t.Errorf("--web.listen-address %q, container port %d", got, c.Ports[0].ContainerPort)
	}
	return c.Ports[0]
}

func checkService(t *testing.T, m *manifests) {
	d, c := m.deployment(t)
	if len(m.services) != 1 {
		t.Fatalf("%d Services, want 1", len(m.services))
	}
	s := m.services[0]
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the pod (labels %v)", k, v, d.Spec.Template.Labels)
		}
	}
	if len(s.Spec.Selector) == 0 {
		t.Error("Service selects nothing")
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name || s.Spec.Ports[0].Name != "http-metrics" {
		t.Errorf("Service ports %+v, want http-metrics to the container's %s", s.Spec.Ports, c.Ports[0].Name)
	}
}

func checkServiceMonitor(t *testing.T, m *manifests, want expectation) {
	if !want.serviceMonitor {
		if len(m.serviceMonitors) != 0 {
			t.Errorf("ServiceMonitor rendered while disabled")
		}
		return
	}
	if len(m.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(m.serviceMonitors))
	}
	sm := m.serviceMonitors[0]
	svc := m.services[0]
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not select the Service (labels %v)", k, v, svc.Labels)
		}
	}
	if !reflect.DeepEqual(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("namespaceSelector %+v, want [%s]", sm.Spec.NamespaceSelector, namespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != svc.Spec.Ports[0].Name || ep.Path != "/metrics" {
		t.Errorf("endpoint port %q path %q, want %q /metrics", ep.Port, ep.Path, svc.Spec.Ports[0].Name)
	}
	if ep.Scheme == nil || !strings.EqualFold(ep.Scheme.String(), string(want.scheme)) {
		t.Errorf("endpoint scheme %v, want %s", ep.Scheme, want.scheme)
	}
	if want.scheme == corev1.URISchemeHTTPS && ep.TLSConfig == nil {
		t.Error("HTTPS endpoint without tlsConfig")
	}
}

// checkPrometheusRule: the rule groups are those of alerts/, and promtool
// accepts them as rendered.
func checkPrometheusRule(t *testing.T, m *manifests, want expectation) {
	if !want.prometheusRule {
		if len(m.prometheusRules) != 0 {
			t.Errorf("PrometheusRule rendered while disabled")
		}
		return
	}
	if len(m.prometheusRules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(m.prometheusRules))
	}
	rule := m.prometheusRules[0]
	if rule.Labels["release"] != "prometheus" {
		t.Errorf("PrometheusRule labels %v lack the ruleSelector's release=prometheus", rule.Labels)
	}
	source, err := os.ReadFile(rulesSource)
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := decodeStrict(source, &spec); err != nil {
		t.Fatalf("%s does not decode as a PrometheusRule spec: %v", rulesSource, err)
	}
	if len(spec.Groups) == 0 {
		t.Fatalf("%s has no groups", rulesSource)
	}
	if !reflect.DeepEqual(rule.Spec, spec) {
		t.Errorf("PrometheusRule groups differ from %s (run charts/sync.sh)", rulesSource)
	}

	// What helm wrote, not its Go form: the spec as a rule file.
	var raw struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := yaml.Unmarshal(m.raw["PrometheusRule/"+rule.Name], &raw); err != nil {
		t.Fatal(err)
	}
	rendered, err := yaml.JSONToYAML(raw.Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rendered.rules.yaml")
	if err := os.WriteFile(path, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the rendered PrometheusRule: %v\n%s", err, out)
	}
	t.Logf("promtool: %s", strings.TrimSpace(string(out)))
}

// checkDashboards: one ConfigMap per dashboards/*.json, holding it as is,
// with the Grafana sidecar's label.
func checkDashboards(t *testing.T, m *manifests, want expectation) {
	got := map[string]*corev1.ConfigMap{}
	for _, c := range m.configMaps {
		if _, ok := c.Labels["grafana_dashboard"]; ok {
			got[c.Name] = c
		}
	}
	if want.dashboards == "" {
		if len(got) != 0 {
			t.Errorf("dashboard ConfigMaps rendered while disabled")
		}
		return
	}
	files := globBase(t, filepath.Join(dashboardsDir, "*.json"))
	if len(got) != len(files) {
		t.Errorf("%d dashboard ConfigMaps for %d dashboards (%v)", len(got), len(files), files)
	}
	for _, file := range files {
		name := fullname + "-" + strings.TrimSuffix(file, ".json")
		c := got[name]
		if c == nil {
			t.Errorf("no ConfigMap %s for dashboards/%s", name, file)
			continue
		}
		if c.Labels["grafana_dashboard"] != "1" || c.Namespace != want.dashboards || c.Annotations["grafana_folder"] != want.dashboardFolder {
			t.Errorf("ConfigMap %s/%s labels %v annotations %v, want grafana_dashboard=1 in %s, folder %q", c.Namespace, c.Name, c.Labels, c.Annotations, want.dashboards, want.dashboardFolder)
		}
		source, err := os.ReadFile(filepath.Join(dashboardsDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Data) != 1 || c.Data[file] != string(source) {
			t.Errorf("ConfigMap %s does not hold dashboards/%s as it is (keys %v)", name, file, keys(c.Data))
		}
		if !json.Valid([]byte(c.Data[file])) {
			t.Errorf("ConfigMap %s: not JSON", name)
		}
	}
}

// A configuration change rolls the pod; anything else leaves it alone.
func TestConfigChangeRollsThePod(t *testing.T) {
	values := []string{filepath.Join(chartDir, "ci", "defaults-values.yaml")}
	sum := func(set ...string) string {
		d, _ := render(t, values, set...).deployment(t)
		return d.Spec.Template.Annotations["checksum/config"]
	}
	base := sum()
	if got := sum("config.placement.interval=30s"); got == base {
		t.Error("checksum/config unchanged by a configuration change")
	}
	if got := sum("podAnnotations.unrelated=1", "service.annotations.x=y"); got != base {
		t.Error("checksum/config changed without a configuration change")
	}
}

// Missing or wrong values stop the install with a message naming the fix.
func TestBadValuesFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"no cloud", []string{"openstack.cloudsYaml.clouds.x.auth_type=none"}, "openstack.cloud is required: the clouds.yaml entry to use (--os-cloud), unless config.clouds lists several"},
		{"no clouds.yaml", []string{"openstack.cloud=x"}, "clouds.yaml is missing: set openstack.cloudsYaml, or openstack.existingSecret"},
		{"bad scheme", []string{"openstack.cloud=x", "openstack.existingSecret=s", "webConfig.scheme=https"}, "webConfig.scheme must be HTTP or HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", releaseName, chartDir, "--namespace", namespace}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := runHelm(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template %v: %v, want an error containing %q", tc.set, err, tc.want)
			}
		})
	}
}

func flagValue(c *corev1.Container, name string) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func hasArg(c *corev1.Container, arg string) bool { return contains(c.Args, arg) }

func hasFlag(c *corev1.Container, name string) bool {
	for _, a := range c.Args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
