package main

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

func bulkUUID(n int) string { return fmt.Sprintf("50000000-0000-4000-8000-%012d", n) }

// bulk creates n root providers bulk-000001… with VCPU, MEMORY_MB and
// DISK_GB inventory, at most concurrency requests in flight. It continues
// after the bulk providers already on the server, so it can grow a cloud.
func bulk(c *client, n, concurrency int) error {
	if n < 1 || concurrency < 1 {
		return fmt.Errorf("bulk: need N >= 1 and -concurrency >= 1")
	}
	existing, _, err := c.generations()
	if err != nil {
		return err
	}
	first := 1
	for first <= len(existing) {
		if _, ok := existing[bulkUUID(first)]; !ok {
			break
		}
		first++
	}

	start := time.Now()
	next := make(chan int)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := bulkProvider(c, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var failed error
feed:
	for i := first; i < first+n; i++ {
		select {
		case next <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if failed == nil {
		failed = <-errs
	}
	if failed != nil {
		return failed
	}
	d := time.Since(start)
	fmt.Printf("bulk_created %d\nbulk_first %d\nbulk_seconds %.2f\nbulk_providers_per_second %.1f\n",
		n, first, d.Seconds(), float64(n)/d.Seconds())
	return nil
}

func bulkProvider(c *client, i int) error {
	uuid := bulkUUID(i)
	body := map[string]any{"uuid": uuid, "name": fmt.Sprintf("bulk-%06d", i)}
	if _, err := c.expect(request{method: "POST", path: "/resource_providers", version: "1.39", body: body}, 200); err != nil {
		return err
	}
	vcpus := 32 + 16*(i%4)
	inv := map[string]inventory{
		"VCPU":      {Total: vcpus, Reserved: 2, MaxUnit: vcpus, AllocationRatio: 16.0},
		"MEMORY_MB": {Total: 8192 * vcpus, Reserved: 512, MaxUnit: 8192 * vcpus, AllocationRatio: 1.5},
		"DISK_GB":   {Total: 2000, Reserved: 0, MaxUnit: 2000, AllocationRatio: 1.1},
	}
	// A new provider's generation is 0, so no read is needed before the PUT.
	_, err := c.expect(request{method: "PUT", path: "/resource_providers/" + uuid + "/inventories", version: "1.39",
		body: map[string]any{"inventories": inv, "resource_provider_generation": 0}}, 200)
	return err
}

// bench times the unfiltered provider list at 1.39 and sequential
// sub-resource GETs (inventories, usages, traits, aggregates) on the first
// providers of the list.
func bench(c *client, lists, providers int) error {
	if lists < 1 {
		return fmt.Errorf("bench: -bench-lists must be >= 1")
	}
	var durations []time.Duration
	var body []byte
	for i := 0; i < lists; i++ {
		start := time.Now()
		resp, err := c.expect(request{method: "GET", path: "/resource_providers", version: "1.39"}, 200)
		if err != nil {
			return err
		}
		durations = append(durations, time.Since(start))
		body = resp.body
	}
	rps, err := parseProviders(body)
	if err != nil {
		return err
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	fmt.Printf("list_providers %d\nlist_bytes %d\nlist_seconds_min %.3f\nlist_seconds_median %.3f\nlist_seconds_max %.3f\n",
		len(rps), len(body), durations[0].Seconds(), durations[len(durations)/2].Seconds(), durations[len(durations)-1].Seconds())

	if providers > len(rps) {
		providers = len(rps)
	}
	if providers == 0 {
		return nil
	}
	start := time.Now()
	requests := 0
	for _, rp := range rps[:providers] {
		for _, sub := range []string{"inventories", "usages", "traits", "aggregates"} {
			if _, err := c.expect(request{method: "GET", path: "/resource_providers/" + rp.UUID + "/" + sub, version: "1.39"}, 200); err != nil {
				return err
			}
			requests++
		}
	}
	d := time.Since(start)
	fmt.Printf("subresource_requests %d\nsubresource_seconds %.2f\nsubresource_requests_per_second %.1f\n",
		requests, d.Seconds(), float64(requests)/d.Seconds())
	return nil
}
