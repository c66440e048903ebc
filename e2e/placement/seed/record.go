package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cassette is the file format the collector's test server replays.
type cassette struct {
	RecordedFrom string        `json:"recorded_from"`
	Notes        string        `json:"notes"`
	Interactions []interaction `json:"interactions"`
}

// interaction is one request and the server's answer. The X-Auth-Token sent
// is never stored; notes say when a request went without one or with a
// non-admin token.
type interaction struct {
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	Query           string            `json:"query"`
	Headers         map[string]string `json:"headers"`
	Status          int               `json:"status"`
	ResponseHeaders map[string]string `json:"response_headers"`
	Body            string            `json:"body"`
	Edited          bool              `json:"edited"`
}

// Only these response headers are kept: the rest (request id, dates) differ
// on every recording and the exporter does not read them.
var keptResponseHeaders = []string{"Content-Type", "OpenStack-API-Version"}

func (c *client) record(r request) (interaction, error) {
	resp, err := c.do(r)
	if err != nil {
		return interaction{}, err
	}
	it := interaction{
		Method:          r.method,
		Path:            r.path,
		Query:           r.query.Encode(),
		Headers:         map[string]string{},
		Status:          resp.status,
		ResponseHeaders: map[string]string{},
		Body:            string(resp.body),
	}
	if r.version != "" {
		it.Headers["OpenStack-API-Version"] = "placement " + r.version
	}
	for _, h := range keptResponseHeaders {
		if v := resp.header.Get(h); v != "" {
			it.ResponseHeaders[h] = v
		}
	}
	return it, nil
}

// recorder collects interactions and stops at the first failure to reach
// the server or the first unexpected status.
type recorder struct {
	c   *client
	its []interaction
	err error
}

func (rec *recorder) get(path string, query url.Values, version string, want int) {
	rec.send(request{method: "GET", path: path, query: query, version: version}, want)
}

func (rec *recorder) send(r request, want int) {
	if rec.err != nil {
		return
	}
	it, err := rec.c.record(r)
	if err == nil && it.Status != want {
		err = fmt.Errorf("%s %s?%s: status %d, want %d: %s", r.method, r.path, it.Query, it.Status, want, it.Body)
	}
	if err != nil {
		rec.err = err
		return
	}
	rec.its = append(rec.its, it)
}

// providerList records the unfiltered list and every listed provider's
// sub-resources.
func (rec *recorder) providerList(version string) {
	rec.get("/resource_providers", nil, version, 200)
	if rec.err != nil {
		return
	}
	rps, err := parseProviders([]byte(rec.its[len(rec.its)-1].Body))
	if err != nil {
		rec.err = err
		return
	}
	for _, rp := range rps {
		for _, sub := range []string{"inventories", "usages", "traits", "aggregates"} {
			rec.get("/resource_providers/"+rp.UUID+"/"+sub, nil, version, 200)
		}
	}
}

// filters are the list queries recorded at 1.39 with the status each gets.
var filters = []struct {
	query url.Values
	want  int
}{
	{url.Values{"name": {"cn1"}}, 200},
	{url.Values{"uuid": {cn2}}, 200},
	{url.Values{"member_of": {aggA}}, 200},
	{url.Values{"member_of": {"in:" + aggA + "," + aggB}}, 200},
	{url.Values{"member_of": {"!" + aggA}}, 200},
	{url.Values{"member_of": {"!in:" + aggA + "," + aggB}}, 200},
	{url.Values{"member_of": {aggA, aggB}}, 200},
	{url.Values{"resources": {"VCPU:4,MEMORY_MB:2048"}}, 200},
	{url.Values{"in_tree": {cn1Numa1Gpu0}}, 200},
	{url.Values{"in_tree": {cn1}}, 200},
	{url.Values{"required": {"CUSTOM_GOLD"}}, 200},
	{url.Values{"required": {"!CUSTOM_GOLD"}}, 200},
	{url.Values{"required": {"CUSTOM_GOLD,HW_CPU_X86_AVX2"}}, 200},
	{url.Values{"required": {"in:CUSTOM_GOLD,CUSTOM_SILVER"}}, 200},
	{url.Values{"required": {"CUSTOM_GOLD", "!CUSTOM_SILVER"}}, 200},
	{url.Values{"member_of": {aggA}, "resources": {"VCPU:1"}, "required": {"HW_CPU_X86_AVX2"}}, 200},
	{url.Values{"resources": {"CUSTOM_NOPE:1"}}, 400},
	{url.Values{"required": {"CUSTOM_UNKNOWN"}}, 400},
	{url.Values{"resources": {"VCPU:0"}}, 400},
}

// recordAll seeds a fresh server and writes every cassette into dir.
func recordAll(c *client, dir string) error {
	from, err := recordedFrom()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := seedCloud(c); err != nil {
		return err
	}
	cloudNotes := describeCloud()

	rec := &recorder{c: c}
	rec.send(request{method: "GET", path: "/", noToken: true}, 200)
	if err := write(dir, "root.json", from, "GET / without token and without a microversion header (the server answers at 1.0).", rec); err != nil {
		return err
	}

	rec = &recorder{c: c}
	rec.providerList("1.39")
	for _, f := range filters {
		rec.get("/resource_providers", f.query, "1.39", f.want)
	}
	notes := "At 1.39: the unfiltered list, each provider's inventories/usages/traits/aggregates, then filtered lists (the last three answer 400).\n" + cloudNotes
	if err := write(dir, "cloud-1.39.json", from, notes, rec); err != nil {
		return err
	}

	rec = &recorder{c: c}
	rec.send(request{method: "GET", path: "/", noToken: true}, 200)
	if rec.err == nil {
		it := &rec.its[0]
		edited := strings.Replace(it.Body, `"max_version": "1.39"`, `"max_version": "1.10"`, 1)
		if edited == it.Body {
			return fmt.Errorf("GET / body has no max_version 1.39 to edit: %s", it.Body)
		}
		it.Body, it.Edited = edited, true
	}
	rec.providerList("1.10")
	notes = "Same cloud as cloud-1.39.json, recorded at 1.10 (no parent/root provider fields, no aggregates generation). " +
		"Interaction 0 (GET /) is edited: the real server said max_version 1.39, the body claims 1.10 to stand in for an old server.\n" + cloudNotes
	if err := write(dir, "cloud-1.10.json", from, notes, rec); err != nil {
		return err
	}

	changeNotes, err := applyChanges(c)
	if err != nil {
		return err
	}
	rec = &recorder{c: c}
	rec.providerList("1.39")
	if err := write(dir, "cloud-1.39-after.json", from, "At 1.39, the cloud of cloud-1.39.json after changes.\n"+changeNotes, rec); err != nil {
		return err
	}

	rec = &recorder{c: c}
	rec.get("/resource_providers", nil, "1.40", 406)
	rec.send(request{method: "GET", path: "/resource_providers", version: "1.39", noToken: true}, 401)
	rec.send(request{method: "GET", path: "/resource_providers", version: "1.39", token: "user:" + projectOne}, 403)
	rec.get("/resource_providers", url.Values{"member_of": {"!" + aggA}}, "1.31", 400)
	rec.get("/resource_providers", url.Values{"member_of": {"in:notauuid"}}, "1.39", 400)
	rec.get("/resource_providers", url.Values{"foo": {"bar"}}, "1.39", 400)
	rec.get("/resource_providers", nil, "1.x", 400)
	for _, sub := range []string{"inventories", "usages", "traits", "aggregates"} {
		rec.get("/resource_providers/"+emptyRP+"/"+sub, nil, "1.39", 404)
	}
	rec.get("/resource_providers", url.Values{"resources": {"VCPU:0"}}, "1.22", 400)
	notes = "Error shapes, recorded on the after-changes cloud. Interactions in order:\n" +
		"0. microversion 1.40 (above max): 406 with max_version/min_version in the error.\n" +
		"1. NO X-Auth-Token: 401 in the other body shape {message, code, title}, no OpenStack-API-Version response header.\n" +
		"2. X-Auth-Token \"user:" + projectOne + "\" (not admin): 403 policy error.\n" +
		"3. member_of=!A at 1.31: 400 (forbidden aggregates need 1.32).\n" +
		"4. member_of=in:notauuid: 400.\n" +
		"5. unknown query key foo=bar: 400.\n" +
		"6. malformed microversion \"placement 1.x\": 400.\n" +
		"7-10. inventories/usages/traits/aggregates of the deleted empty-rp " + emptyRP + ": 404 (a provider deleted between list and detail).\n" +
		"11. resources=VCPU:0 at 1.22: 400 without \"code\" in the error (added at 1.23)."
	return write(dir, "errors.json", from, notes, rec)
}

func write(dir, name, from, notes string, rec *recorder) error {
	if rec.err != nil {
		return fmt.Errorf("%s: %w", name, rec.err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cassette{RecordedFrom: from, Notes: notes, Interactions: rec.its}); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d interactions)\n", path, len(rec.its))
	return nil
}

func recordedFrom() (string, error) {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Package} ${Version}", "python3-placement").Output()
	if err != nil {
		return "", fmt.Errorf("dpkg-query python3-placement: %w", err)
	}
	return fmt.Sprintf("%s (Debian bookworm), noauth2, sqlite, uwsgi; recorded %s", out, time.Now().UTC().Format("2006-01-02")), nil
}
