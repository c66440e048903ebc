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
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// stableUIDs pins every dashboard's uid: links and bookmarks to a dashboard
// break when its uid changes, so a new dashboard is added here on purpose.
var stableUIDs = map[string]string{
	"capacity-planning.json":  "oce-capacity-planning",
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

// processWide are the metrics without a cloud label even when the exporter
// polls several clouds (README, "Several clouds in one process"): Prometheus'
// up, the process's own client_golang metrics, and the exporter's build and
// reload metrics. Every other metric carries cloud then, and none has it
// with one cloud.
func processWide(name string) bool {
	return servedOutsideCollectors(name) || name == "openstack_capacity_exporter_build_info" ||
		strings.HasPrefix(name, "openstack_capacity_exporter_config_last_reload_")
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
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
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
		for _, name := range []string{"job", "instance", "cloud"} {
			v, ok := vars[name]
			if !ok || v.Type != "query" || !strings.Contains(v.queryText(), "label_values(") {
				t.Errorf("%s: needs a label_values query variable %q", d.file, name)
			}
		}
		for _, msg := range checkCloudVariable(vars["cloud"]) {
			t.Errorf("%s: variable cloud: %s", d.file, msg)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			for _, msg := range checkVariableQuery(v) {
				t.Errorf("%s: variable %s: %s\n\t%s", d.file, v.Name, msg, v.queryText())
			}
		}
	}
}

// checkCloudVariable: the cloud variable lists the cloud label of a metric
// every setup serves (/metrics and /probe, one cloud or several), and
// "All" is .* so that with one cloud, whose series have no cloud label,
// cloud=~".*" still matches them (an absent label is the empty string).
func checkCloudVariable(v variable) []string {
	var problems []string
	q := strings.ReplaceAll(v.queryText(), " ", "")
	if !strings.HasPrefix(q, "label_values(openstack_capacity_exporter_collector_success{") || !strings.HasSuffix(q, ",cloud)") {
		problems = append(problems, fmt.Sprintf("query %q, want label_values(openstack_capacity_exporter_collector_success{...}, cloud)", v.queryText()))
	}
	if !strings.Contains(q, `job=~"$job"`) || !strings.Contains(q, `instance=~"$instance"`) {
		problems = append(problems, "query lacks job=~\"$job\" and instance=~\"$instance\"")
	}
	if !v.Multi || !v.IncludeAll || v.AllValue != ".*" {
		problems = append(problems, fmt.Sprintf("multi %v, includeAll %v, allValue %q; want multi-select with All = .* (a single cloud has no cloud label)", v.Multi, v.IncludeAll, v.AllValue))
	}
	return problems
}

// checkVariableQuery: job and instance come from a metric every setup
// serves (build_info is not on /probe?cloud=NAME) and do not depend on
// cloud, which depends on them; every other query variable lists values of
// the selected clouds only.
func checkVariableQuery(v variable) []string {
	sel := strings.ReplaceAll(labelValuesSeries(v.queryText()), " ", "")
	switch v.Name {
	case "job", "instance", "cloud":
		if !strings.HasPrefix(strings.ReplaceAll(v.queryText(), " ", ""), "label_values(openstack_capacity_exporter_collector_success") {
			return []string{"must list openstack_capacity_exporter_collector_success, which /metrics and /probe serve with one cloud or several"}
		}
		if strings.Contains(sel, "$cloud") {
			return []string{"must not depend on $cloud (cloud depends on job and instance)"}
		}
		return nil
	}
	if sel == "" {
		return []string{"want label_values(selector, label)"}
	}
	if !strings.Contains(sel, `cloud=~"$cloud"`) {
		return []string{"selector lacks cloud=~\"$cloud\""}
	}
	return nil
}

func TestDashboardPanels(t *testing.T) {
	for _, d := range loadDashboards(t) {
		hasTrendWindow := false
		for _, v := range d.Templating.List {
			hasTrendWindow = hasTrendWindow || "$"+v.Name == trendWindow
		}
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
				if strings.Contains(tg.Expr, trendWindow) && !hasTrendWindow {
					t.Errorf("%s: uses %s, but the dashboard has no such variable", twhere, trendWindow)
				}
				for _, msg := range checkDashboardExpr(tg.Expr) {
					t.Errorf("%s: %s\n\t%s", twhere, msg, tg.Expr)
				}
			}
		}
	}
}

// trendWindow is the one other range a dashboard may use: the look-back of
// a linear fit (predict_linear, deriv), which spans hours or days of
// capacity data whatever the scrape interval or the zoom level, picked by
// a dashboard variable of that name.
const trendWindow = "$trend_window"

var trendFunctions = map[string]bool{"predict_linear": true, "deriv": true}

// checkDashboardExpr enforces $__rate_interval in range vectors (so rates
// follow the scrape interval and the zoom level), but for the trendWindow
// of a linear fit, and the job/instance variables on every selector (so a
// Prometheus watching several clouds shows the selected one).
func checkDashboardExpr(expr string) []string {
	var problems []string
	toks, err := lex(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var calls []string // the functions around a token, innermost last; "" for a parenthesis
	for i, tk := range toks {
		switch {
		case tk.kind == tPunct && tk.text == "(":
			call := ""
			if i > 0 && toks[i-1].kind == tIdent {
				call = strings.ToLower(toks[i-1].text)
			}
			calls = append(calls, call)
		case tk.kind == tPunct && tk.text == ")" && len(calls) > 0:
			calls = calls[:len(calls)-1]
		case tk.kind == tRange:
			r := strings.TrimSpace(tk.text)
			if r == "$__rate_interval" || r == trendWindow && len(calls) > 0 && trendFunctions[calls[len(calls)-1]] {
				continue
			}
			problems = append(problems, fmt.Sprintf("range [%s] must be [$__rate_interval] (or [%s] in predict_linear or deriv)", tk.text, trendWindow))
		}
	}
	perCloud := false
	for _, sel := range selectors(toks) {
		m := strings.ReplaceAll(sel.matchers, " ", "")
		if !strings.Contains(m, `job=~"$job"`) || !strings.Contains(m, `instance=~"$instance"`) {
			problems = append(problems, fmt.Sprintf("selector %s{%s} lacks job=~\"$job\" and instance=~\"$instance\"", sel.name, sel.matchers))
		}
		hasCloud := strings.Contains(m, `cloud=~"$cloud"`)
		switch {
		case processWide(sel.name) && hasCloud:
			problems = append(problems, fmt.Sprintf("selector %s{%s} has cloud=~\"$cloud\", but %s never has a cloud label: picking a cloud would empty it", sel.name, sel.matchers, sel.name))
		case !processWide(sel.name) && !hasCloud:
			problems = append(problems, fmt.Sprintf("selector %s{%s} lacks cloud=~\"$cloud\"", sel.name, sel.matchers))
		}
		perCloud = perCloud || !processWide(sel.name)
	}
	if perCloud {
		problems = append(problems, checkCloudLabelLists(toks, false, func(labelList) bool { return false })...)
	}
	return problems
}

// checkCloudLabelLists: the clouds of one exporter share uuids, aggregate
// uuids and pool names, so an aggregation's by () and a match's on () must
// keep cloud (else sums merge the clouds, or a match finds two series and
// fails as many-to-many); without () and ignoring () must not drop it, nor
// group_left () or group_right () copy it. With one cloud there is no cloud
// label, which groups and matches as one: nothing changes there.
// processJoin allows on (job, instance) alone, the match of a per-cloud
// series to a process-wide one (process_start_time_seconds, up), which has
// no cloud label to match on; exempt skips other by () and on () lists.
func checkCloudLabelLists(toks []token, processJoin bool, exempt func(labelList) bool) []string {
	var problems []string
	for _, l := range labelLists(toks) {
		has := slices.Contains(l.labels, "cloud")
		switch l.keyword {
		case "by", "on":
			if has {
				continue
			}
			if processJoin && l.keyword == "on" && slices.Equal(l.labels, []string{"job", "instance"}) || exempt(l) {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s (%s) lacks cloud", l.keyword, strings.Join(l.labels, ", ")))
		default: // without, ignoring, group_left, group_right
			if has {
				problems = append(problems, fmt.Sprintf("%s (%s) names cloud, which must stay", l.keyword, strings.Join(l.labels, ", ")))
			}
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

type labelList struct {
	keyword string
	labels  []string
}

// labelLists returns every by/without/on/ignoring/group_left/group_right
// list; a group_left or group_right without a list has none.
func labelLists(toks []token) []labelList {
	var out []labelList
	for i := 0; i < len(toks); i++ {
		word := strings.ToLower(toks[i].text)
		if toks[i].kind != tIdent || !labelListKeywords[word] {
			continue
		}
		if i+1 >= len(toks) || toks[i+1].kind != tPunct || toks[i+1].text != "(" {
			continue
		}
		l := labelList{keyword: word}
		for i += 2; i < len(toks) && !(toks[i].kind == tPunct && toks[i].text == ")"); i++ {
			if toks[i].kind == tIdent {
				l.labels = append(l.labels, toks[i].text)
			}
		}
		out = append(out, l)
	}
	return out
}

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

// TestAlertsKeepClouds: the rules' by () and on () lists keep cloud, as the
// dashboards' do (checkCloudLabelLists), except where one side has no
// cloud: on (job, instance) to a process-wide metric, and the thresholds,
// whose lists name neither instance nor cloud (resource_class or backend
// alone: one threshold for every job, instance and cloud).
func TestAlertsKeepClouds(t *testing.T) {
	for f, rules := range loadRules(t) {
		for _, r := range rules {
			toks, err := lex(r.Expr)
			if err != nil {
				t.Errorf("%s: rule %s%s: %v", f, r.Alert, r.Record, err)
				continue
			}
			processJoin := false
			for _, sel := range selectors(toks) {
				processJoin = processJoin || processWide(sel.name)
			}
			threshold := func(l labelList) bool { return !slices.Contains(l.labels, "instance") }
			for _, p := range checkCloudLabelLists(toks, processJoin, threshold) {
				t.Errorf("%s: rule %s%s: %s", f, r.Alert, r.Record, p)
			}
		}
	}
}

func TestRangeCheck(t *testing.T) {
	sel := `f{job=~"$job",instance=~"$instance",cloud=~"$cloud"}`
	cases := map[string]int{
		`rate(` + sel + `[$__rate_interval])`:                                                      0,
		`predict_linear(` + sel + `[$trend_window], 0) / -(deriv(` + sel + `[$trend_window]) < 0)`: 0,
		`rate(` + sel + `[$trend_window])`:                                                         1,
		`max_over_time(` + sel + `[1d])`:                                                           1,
		`predict_linear(` + sel + `[1d], 86400)`:                                                   1,
		`deriv(max_over_time(` + sel + `[$trend_window:]))`:                                        1,
	}
	for expr, want := range cases {
		if got := checkDashboardExpr(expr); len(got) != want {
			t.Errorf("%s: %q, want %d problem(s)", expr, got, want)
		}
	}
}

func TestCloudLabelListCheck(t *testing.T) {
	never := func(labelList) bool { return false }
	cases := map[string]string{
		`sum by (cloud, name) (a) / on (job, instance, cloud, uuid) group_left (x) b`: "",
		`sum by (job, name) (a)`:                                                           "by (job, name) lacks cloud",
		`a / on (job, instance, uuid) b`:                                                   "on (job, instance, uuid) lacks cloud",
		`sum without (cloud) (a)`:                                                          "without (cloud) names cloud, which must stay",
		`a and ignoring (cloud, x) b`:                                                      "ignoring (cloud, x) names cloud, which must stay",
		`a * on (job, instance, cloud, uuid) group_left (cloud) b`:                         "group_left (cloud) names cloud, which must stay",
		`a < on (job, instance) group_left () (time() - process_start_time_seconds)`:       "",
		`a < on (job, instance, uuid) group_left () (time() - process_start_time_seconds)`: "on (job, instance, uuid) lacks cloud",
	}
	for expr, want := range cases {
		toks, err := lex(expr)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(checkCloudLabelLists(toks, strings.Contains(expr, "process_"), never), "; ")
		if got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
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
