package dashboards

// These tests check the dashboards' conventions, and that every metric the
// dashboards and the Prometheus rules in ../alerts query is one the exporter
// serves (its golden exposition files) or one the rules record.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// stableUIDs pins every dashboard's uid: links and bookmarks to a dashboard
// break when its uid changes, so a new dashboard is added here on purpose.
var stableUIDs = map[string]string{
	"cinder-pools.json":       "oce-cinder-pools",
	"exporter-health.json":    "oce-exporter-health",
	"manila-pools.json":       "oce-manila-pools",
	"placement-overview.json": "oce-placement-overview",
	"provider-trees.json":     "oce-provider-trees",
}

// goldenDirs hold the exporter's golden exposition files: the collectors'
// and the exporter's own metrics.
var goldenDirs = []string{"../collector/testdata", "../cmd/openstack-capacity-exporter/testdata"}

const (
	alertsGlob    = "../alerts/*.yaml"
	runbookPath   = "../alerts/runbook.md"
	runbookURLFmt = "https://github.com/openstack-capacity-exporter/openstack-capacity-exporter/blob/main/alerts/runbook.md#"
)

// Metrics no collector golden file can hold: Prometheus writes `up` itself,
// and process_*/go_* come from client_golang's standard collectors.
func servedOutsideCollectors(name string) bool {
	return name == "up" || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_")
}

// Each golden file covers one collector; a prefix with no golden output at
// all yet is reported and skipped rather than failing every name under it.
var goldenPrefixes = []string{"openstack_placement_", "openstack_manila_", "openstack_cinder_", "openstack_capacity_exporter_"}

type dashboard struct {
	file          string
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *datasource `json:"datasource"`
	Targets     []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
}

// queryText accepts both the plain string and the {"query": ...} object
// Grafana writes for Prometheus query variables.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards (*.json) found")
	}
	var ds []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		d.file = f
		ds = append(ds, d)
	}
	return ds
}

// allPanels flattens rows, collapsed or not.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func isDatasourceVar(ds *datasource) bool {
	return ds != nil && (ds.UID == "${datasource}" || ds.UID == "$datasource")
}

func TestDashboardUIDsAreStableAndUnique(t *testing.T) {
	seen := map[string]string{}
	for _, d := range loadDashboards(t) {
		want, ok := stableUIDs[d.file]
		if !ok {
			t.Errorf("%s: not in stableUIDs; add it with its uid", d.file)
		} else if d.UID != want {
			t.Errorf("%s: uid %q, want the stable %q", d.file, d.UID, want)
		}
		if other, dup := seen[d.UID]; dup {
			t.Errorf("%s: uid %q already used by %s", d.file, d.UID, other)
		}
		seen[d.UID] = d.file
		if d.Title == "" {
			t.Errorf("%s: no title", d.file)
		}
		if d.SchemaVersion < 36 {
			t.Errorf("%s: schemaVersion %d; Grafana 10/11 write 36 or later", d.file, d.SchemaVersion)
		}
	}
	for f := range stableUIDs {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("stableUIDs lists %s, which does not exist", f)
		}
	}
}

func TestDashboardVariables(t *testing.T) {
	for _, d := range loadDashboards(t) {
		vars := map[string]variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
			if v.Type == "query" && !isDatasourceVar(v.Datasource) {
				t.Errorf("%s: variable %s does not query ${datasource}", d.file, v.Name)
			}
		}
		ds, ok := vars["datasource"]
		if !ok || ds.Type != "datasource" || ds.queryText() != "prometheus" {
			t.Errorf("%s: needs a variable \"datasource\" of type datasource querying prometheus", d.file)
		}
		for _, name := range []string{"job", "instance"} {
			v, ok := vars[name]
			if !ok || v.Type != "query" || !strings.Contains(v.queryText(), "label_values(") {
				t.Errorf("%s: needs a label_values query variable %q", d.file, name)
			}
		}
	}
}

func TestDashboardPanels(t *testing.T) {
	for _, d := range loadDashboards(t) {
		ids := map[int]string{}
		for _, p := range allPanels(d.Panels) {
			where := fmt.Sprintf("%s: panel %d %q", d.file, p.ID, p.Title)
			if other, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("%s: id missing or already used by %q", where, other)
			}
			ids[p.ID] = p.Title
			if p.Title == "" {
				t.Errorf("%s: no title", where)
			}
			if p.Type == "row" || p.Type == "text" {
				continue
			}
			if p.Description == "" {
				t.Errorf("%s: no description", where)
			}
			if p.FieldConfig.Defaults.Unit == "" {
				t.Errorf("%s: no unit (fieldConfig.defaults.unit)", where)
			}
			if !isDatasourceVar(p.Datasource) {
				t.Errorf("%s: datasource is not ${datasource}", where)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			for _, tg := range p.Targets {
				twhere := fmt.Sprintf("%s, query %s", where, tg.RefID)
				if !isDatasourceVar(tg.Datasource) {
					t.Errorf("%s: datasource is not ${datasource}", twhere)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: empty expr", twhere)
					continue
				}
				for _, msg := range checkDashboardExpr(tg.Expr) {
					t.Errorf("%s: %s\n\t%s", twhere, msg, tg.Expr)
				}
			}
		}
	}
}

// checkDashboardExpr enforces $__rate_interval in range vectors (so rates
// follow the scrape interval and the zoom level) and the job/instance
// variables on every selector (so a Prometheus watching several clouds shows
// the selected one). There are no exceptions so far; one would be added
// here with its reason.
func checkDashboardExpr(expr string) []string {
	var problems []string
	toks, err := lex(expr)
	if err != nil {
		return []string{err.Error()}
	}
	for _, tk := range toks {
		if tk.kind == tRange && strings.TrimSpace(tk.text) != "$__rate_interval" {
			problems = append(problems, fmt.Sprintf("range [%s] must be [$__rate_interval]", tk.text))
		}
	}
	for _, sel := range selectors(toks) {
		m := strings.ReplaceAll(sel.matchers, " ", "")
		if !strings.Contains(m, `job=~"$job"`) || !strings.Contains(m, `instance=~"$instance"`) {
			problems = append(problems, fmt.Sprintf("selector %s{%s} lacks job=~\"$job\" and instance=~\"$instance\"", sel.name, sel.matchers))
		}
	}
	return problems
}

// --- a small PromQL lexer: just enough to find metric names and ranges.

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tString
	tMatchers // text between { and }
	tRange    // text between [ and ]
	tVar      // Grafana variable
	tPunct
)

type token struct {
	kind tokKind
	text string
}

func lex(s string) ([]token, error) {
	var toks []token
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s[i:j]})
			i = j
		case c == '{' || c == '[':
			closer := map[byte]byte{'{': '}', '[': ']'}[c]
			j := i + 1
			for j < len(s) && s[j] != closer {
				if s[j] == '"' || s[j] == '\'' || s[j] == '`' {
					k, err := skipString(s, j)
					if err != nil {
						return nil, err
					}
					j = k
					continue
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unclosed %c in %q", c, s)
			}
			kind := tMatchers
			if c == '[' {
				kind = tRange
			}
			toks = append(toks, token{kind, s[i+1 : j]})
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				for j < len(s) && s[j] != '}' {
					j++
				}
				j++
			} else {
				for j < len(s) && isIdent(s[j]) {
					j++
				}
			}
			toks = append(toks, token{tVar, s[i:min(j, len(s))]})
			i = j
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.' ||
				(s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.ContainsAny(s[i:j], "xX")) {
				j++
			}
			toks = append(toks, token{tNumber, s[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, token{tIdent, s[i:j]})
			i = j
		default:
			toks = append(toks, token{tPunct, string(c)})
			i++
		}
	}
	return toks, nil
}

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string in %q", s)
}

var (
	// Followed by a parenthesised label list, not by an expression.
	labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	// Aggregations may put "by (...)" between their name and "(".
	aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true}
	otherKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}
)

type selector struct{ name, matchers string }

// selectors returns every vector selector: a metric name with its matchers
// ("" if it has none). Function names, keywords and label lists are skipped.
func selectors(toks []token) []selector {
	var out []selector
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if tk.kind != tIdent {
			continue
		}
		word := strings.ToLower(tk.text)
		if labelListKeywords[word] {
			if i+1 < len(toks) && toks[i+1].kind == tPunct && toks[i+1].text == "(" {
				for i++; i < len(toks) && !(toks[i].kind == tPunct && toks[i].text == ")"); i++ {
				}
			}
			continue
		}
		if aggregations[word] || otherKeywords[word] {
			continue
		}
		if i+1 < len(toks) && toks[i+1].kind == tPunct && toks[i+1].text == "(" {
			continue // a function call
		}
		sel := selector{name: tk.text}
		if i+1 < len(toks) && toks[i+1].kind == tMatchers {
			sel.matchers = toks[i+1].text
		}
		out = append(out, sel)
	}
	return out
}

func metricNames(expr string) ([]string, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range selectors(toks) {
		names = append(names, s.name)
	}
	return names, nil
}

func TestMetricNameExtraction(t *testing.T) {
	cases := map[string][]string{
		`sum by (job, resource_class) (rate(a_total{job=~"$job",x="{[b]}"}[$__rate_interval])) * 60`: {"a_total"},
		`b / on (uuid) group_left (name) c{q="d"} > 0 < Inf`:                                         {"b", "c"},
		`label_replace(m, "root_provider_uuid", "$1", "uuid", "(.+)") unless n offset 1h`:            {"m", "n"},
		`histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > bool 1e-3`:                     {"h_bucket"},
		`count(x) or vector(0) and time() - y:rec:ratio{a="1"}`:                                      {"x", "y:rec:ratio"},
		`sum without (a) (z) - topk(5, w)`:                                                           {"z", "w"},
	}
	for expr, want := range cases {
		got, err := metricNames(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// --- the names the exporter serves and the rules record.

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) map[string][]rule {
	t.Helper()
	files, err := filepath.Glob(alertsGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no rule files match %s", alertsGlob)
	}
	out := map[string][]rule{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(raw, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			out[f] = append(out[f], g.Rules...)
		}
	}
	return out
}

// goldenNames reads every *.prom file under goldenDirs: names
// from HELP/TYPE lines and samples, plus _bucket/_sum/_count for histogram
// and summary families.
func goldenNames(t *testing.T) (map[string]bool, int) {
	t.Helper()
	names := map[string]bool{}
	files := 0
	for _, dir := range goldenDirs {
		if err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.HasSuffix(path, ".prom") {
				return nil
			}
			files++
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(raw), "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && (f[1] == "HELP" || f[1] == "TYPE") {
					names[f[2]] = true
					if f[1] == "TYPE" && len(f) >= 4 && (f[3] == "histogram" || f[3] == "summary") {
						for _, suffix := range []string{"_bucket", "_sum", "_count"} {
							names[f[2]+suffix] = true
						}
					}
					continue
				}
				if strings.HasPrefix(line, "#") {
					continue
				}
				if end := strings.IndexAny(line, "{ \t"); end > 0 {
					names[line[:end]] = true
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return names, files
}

// knownNames is what a query may use: golden output, recorded names, and
// the metrics served outside the collectors. uncovered lists the prefixes
// with no golden output yet.
func knownNames(t *testing.T) (known map[string]bool, uncovered []string) {
	t.Helper()
	golden, files := goldenNames(t)
	if files == 0 {
		t.Fatalf("no golden exposition files (*.prom) under %v", goldenDirs)
	}
	for _, p := range goldenPrefixes {
		covered := false
		for n := range golden {
			if strings.HasPrefix(n, p) {
				covered = true
				break
			}
		}
		if !covered {
			uncovered = append(uncovered, p)
		}
	}
	if len(uncovered) > 0 {
		t.Errorf("no golden exposition file has a metric with prefix %v: add one to the collectors' or the exporter's golden tests", uncovered)
	}
	for _, rules := range loadRules(t) {
		for _, r := range rules {
			if r.Record != "" {
				golden[r.Record] = true
			}
		}
	}
	return golden, uncovered
}

func checkNames(t *testing.T, where, expr string, known map[string]bool, uncovered []string, skipped map[string]bool) {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	for _, n := range names {
		if known[n] || servedOutsideCollectors(n) {
			continue
		}
		pending := false
		for _, p := range uncovered {
			if strings.HasPrefix(n, p) {
				pending = true
			}
		}
		if pending {
			skipped[n] = true
			continue
		}
		t.Errorf("%s: metric %s is neither in the exporter's golden output nor recorded by a rule in %s", where, n, alertsGlob)
	}
}

func reportSkipped(t *testing.T, uncovered []string, skipped map[string]bool) {
	t.Helper()
	if len(skipped) == 0 {
		return
	}
	var names []string
	for n := range skipped {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("no golden output yet for %v: %d names not checked: %s", uncovered, len(names), strings.Join(names, " "))
}

// labelValuesSeries returns the series selector of a Grafana
// label_values(selector, label) query; "" for label_values(label).
func labelValuesSeries(query string) string {
	inner, ok := strings.CutPrefix(strings.TrimSpace(query), "label_values(")
	if !ok {
		return ""
	}
	inner = strings.TrimSuffix(inner, ")")
	i := strings.LastIndex(inner, ",")
	if i < 0 {
		return ""
	}
	return inner[:i]
}

func TestDashboardMetricsExist(t *testing.T) {
	known, uncovered := knownNames(t)
	skipped := map[string]bool{}
	for _, d := range loadDashboards(t) {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				checkNames(t, fmt.Sprintf("%s: panel %q query %s", d.file, p.Title, tg.RefID), tg.Expr, known, uncovered, skipped)
			}
		}
		for _, v := range d.Templating.List {
			if sel := labelValuesSeries(v.queryText()); sel != "" {
				checkNames(t, fmt.Sprintf("%s: variable %s", d.file, v.Name), sel, known, uncovered, skipped)
			}
		}
	}
	reportSkipped(t, uncovered, skipped)
}

func TestAlertMetricsExist(t *testing.T) {
	known, uncovered := knownNames(t)
	skipped := map[string]bool{}
	for f, rules := range loadRules(t) {
		for _, r := range rules {
			checkNames(t, fmt.Sprintf("%s: rule %s%s", f, r.Alert, r.Record), r.Expr, known, uncovered, skipped)
		}
	}
	reportSkipped(t, uncovered, skipped)
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestAlertsAreDocumented(t *testing.T) {
	raw, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[githubAnchor(h)] = true
		}
	}
	alerts := map[string]bool{}
	for f, rules := range loadRules(t) {
		for _, r := range rules {
			if r.Alert == "" {
				continue
			}
			where := fmt.Sprintf("%s: alert %s (%s)", f, r.Alert, r.Labels["severity"])
			alerts[githubAnchor(r.Alert)] = true
			switch r.Labels["severity"] {
			case "info", "warning", "critical":
			default:
				t.Errorf("%s: severity label must be info, warning or critical", where)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			url := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(url, runbookURLFmt)
			if !ok {
				t.Errorf("%s: runbook_url %q does not start with %s", where, url, runbookURLFmt)
			} else if anchor != githubAnchor(r.Alert) || !anchors[anchor] {
				t.Errorf("%s: runbook_url anchor %q must be %q and a \"## %s\" section in %s", where, anchor, githubAnchor(r.Alert), r.Alert, runbookPath)
			}
		}
	}
	for a := range anchors {
		if !alerts[a] {
			t.Errorf("%s: section #%s matches no alert", runbookPath, a)
		}
	}
}
