// Command seed drives a real Placement API started by ../start.sh: it builds
// the deterministic test cloud, applies the "after" changes, records the
// cassettes the collector's unit tests replay, and seeds or measures large
// clouds for the end-to-end benchmark.
//
//	seed [flags] cloud           create the test cloud on a fresh server
//	seed [flags] change          apply the "after" changes to that cloud
//	seed [flags] record DIR      fresh server: cloud, record, change, record
//	seed [flags] bulk N          add N root providers with inventory
//	                             (-allocated P: P % of them with an
//	                             allocation; -total: complete bulk-1…N)
//	seed [flags] bench           time the provider list and sub-resource GETs
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// The token the exporter's test clouds.yaml sends; noauth2 grants the admin
// role to any token whose user part is "admin".
const defaultToken = "admin:0123456789abcdef0123456789abcdef"

func main() {
	port := os.Getenv("PLACEMENT_PORT")
	if port == "" {
		port = "18778"
	}
	endpoint := flag.String("endpoint", "http://127.0.0.1:"+port, "Placement endpoint (default from PLACEMENT_PORT)")
	token := flag.String("token", defaultToken, "X-Auth-Token to send")
	concurrency := flag.Int("concurrency", 4, "bulk: requests in flight at once")
	allocated := flag.Int("allocated", 0, "bulk: percentage of the providers that get an allocation (one consumer each)")
	total := flag.Bool("total", false, "bulk: N is the total; create only what bulk-000001…N lack (providers, inventories, allocations)")
	benchProviders := flag.Int("bench-providers", 200, "bench: providers whose sub-resources are fetched")
	benchLists := flag.Int("bench-lists", 5, "bench: how many times the provider list is fetched")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: seed [flags] cloud | change | record DIR | bulk N | bench\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	c := &client{
		endpoint: *endpoint,
		token:    *token,
		http:     &http.Client{Timeout: 120 * time.Second},
	}
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	switch {
	case args[0] == "cloud" && len(args) == 1:
		err = seedCloud(c)
	case args[0] == "change" && len(args) == 1:
		_, err = applyChanges(c)
	case args[0] == "record" && len(args) == 2:
		err = recordAll(c, args[1])
	case args[0] == "bulk" && len(args) == 2:
		var n int
		n, err = strconv.Atoi(args[1])
		if err == nil {
			err = bulk(c, n, bulkOptions{concurrency: *concurrency, allocated: *allocated, total: *total})
		}
	case args[0] == "bench" && len(args) == 1:
		err = bench(c, *benchLists, *benchProviders)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

type client struct {
	endpoint string
	token    string
	http     *http.Client
}

type request struct {
	method  string
	path    string
	query   url.Values
	version string // microversion; "" sends no OpenStack-API-Version header
	body    any    // marshalled to JSON when not nil
	noToken bool
	token   string // overrides the client's token when not ""
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(r request) (*response, error) {
	u := c.endpoint + r.path
	if q := r.query.Encode(); q != "" {
		u += "?" + q
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(r.method, u, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.version != "" {
		req.Header.Set("OpenStack-API-Version", "placement "+r.version)
	}
	if !r.noToken {
		tok := c.token
		if r.token != "" {
			tok = r.token
		}
		req.Header.Set("X-Auth-Token", tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// expect sends r and fails unless the server answers with want.
func (c *client) expect(r request, want int) (*response, error) {
	resp, err := c.do(r)
	if err != nil {
		return nil, err
	}
	if resp.status != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", r.method, r.path, resp.status, want, resp.body)
	}
	return resp, nil
}

// generation reads a provider's current generation, which every write that
// takes one must echo back.
func (c *client) generation(uuid string) (int, error) {
	resp, err := c.expect(request{method: "GET", path: "/resource_providers/" + uuid, version: "1.39"}, 200)
	if err != nil {
		return 0, err
	}
	var rp struct {
		Generation int `json:"generation"`
	}
	if err := json.Unmarshal(resp.body, &rp); err != nil {
		return 0, err
	}
	return rp.Generation, nil
}

type listedProvider struct {
	UUID       string `json:"uuid"`
	Name       string `json:"name"`
	Generation int    `json:"generation"`
}

func parseProviders(body []byte) ([]listedProvider, error) {
	var list struct {
		ResourceProviders []listedProvider `json:"resource_providers"`
	}
	err := json.Unmarshal(body, &list)
	return list.ResourceProviders, err
}

// generations maps every provider's uuid to its generation and name, and
// returns the uuids in list order.
func (c *client) generations() (map[string]providerState, []string, error) {
	resp, err := c.expect(request{method: "GET", path: "/resource_providers", version: "1.39"}, 200)
	if err != nil {
		return nil, nil, err
	}
	rps, err := parseProviders(resp.body)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[string]providerState, len(rps))
	order := make([]string, 0, len(rps))
	for _, rp := range rps {
		m[rp.UUID] = providerState{name: rp.Name, generation: rp.Generation}
		order = append(order, rp.UUID)
	}
	return m, order, nil
}

type providerState struct {
	name       string
	generation int
}
