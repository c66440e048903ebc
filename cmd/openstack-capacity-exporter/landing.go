package main

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector"
)

// collectorTable shows how each collector's last poll went. html/template
// escapes the error text, which comes from OpenStack.
var collectorTable = template.Must(template.New("collectors").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"ms": func(d time.Duration) time.Duration { return d.Round(time.Millisecond) },
	"multi": func(states []collector.CollectorState) bool {
		return len(states) > 0 && states[0].Cloud != ""
	},
}).Parse(`<h2>Collectors</h2>
<table id="collectors">
<tr>{{if multi .}}<th>cloud</th>{{end}}<th>collector</th><th>last poll ended</th><th>result</th><th>duration</th><th>last success</th><th>error</th></tr>
{{$multi := multi .}}{{range .}}<tr>{{if $multi}}<td>{{.Cloud}}</td>{{end}}<td>{{.Name}}</td>
{{- if .Polled -}}
<td>{{stamp .LastPoll}}</td><td>{{if .Success}}ok{{else}}failed{{if gt .FailedPolls 1}} ({{.FailedPolls}} in a row){{end}}{{end}}</td><td>{{ms .Duration}}</td><td>{{stamp .LastSuccess}}</td><td>{{.LastError}}</td>
{{- else -}}
<td colspan="5">waiting for the first poll</td>
{{- end -}}
</tr>
{{end}}</table>
`))

const collectorTableCSS = `#collectors { border-collapse: collapse; }
#collectors th, #collectors td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }`

// landingPage renders exporter-toolkit's landing page on every request, so
// that the collector table is current; it is built once up front to catch a
// bad configuration at start-up.
func landingPage(c web.LandingConfig, clouds []*cloud) (http.Handler, error) {
	c.ExtraCSS = collectorTableCSS
	if _, err := web.NewLandingPage(withLinks(c)); err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		var table bytes.Buffer
		var states []collector.CollectorState
		for _, p := range pollers(clouds) {
			states = append(states, p.State()...)
		}
		if err := collectorTable.Execute(&table, states); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page := withLinks(c)
		page.ExtraHTML = table.String()
		h, err := web.NewLandingPage(page)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

// withLinks copies c with its own Links: NewLandingPage rewrites them in
// place, and requests are served concurrently.
func withLinks(c web.LandingConfig) web.LandingConfig {
	c.Links = slices.Clone(c.Links)
	return c
}
