package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func bulkUUID(n int) string { return fmt.Sprintf("50000000-0000-4000-8000-%012d", n) }

// bulkConsumerUUID is the consumer holding bulk provider n's allocation.
func bulkConsumerUUID(n int) string { return fmt.Sprintf("60000000-0000-4000-8000-%012d", n) }

// bulkOptions are the bulk command's flags.
type bulkOptions struct {
	concurrency int
	// allocated is the percentage of bulk providers that get an allocation,
	// spread evenly (10: bulk-000010, bulk-000020, …).
	allocated int
	// total: N is the number of bulk providers wanted; only what is missing
	// of bulk-000001…N is created, so a kept database costs one list.
	total bool
}

// bulkAllocated reports whether bulk provider i gets an allocation when
// percent of them do.
func bulkAllocated(i, percent int) bool {
	return percent > 0 && i*percent/100 != (i-1)*percent/100
}

// bulkStep is what bulk provider i still needs, in order: created, its
// inventory, its allocation.
type bulkStep int

const (
	bulkCreate bulkStep = iota
	bulkInventory
	bulkAllocation
	bulkDone
)

type bulkJob struct {
	i    int
	from bulkStep
}

// bulk creates root providers bulk-000001… with VCPU, MEMORY_MB and
// DISK_GB inventory and gives opt.allocated percent of them one allocation
// each, at most opt.concurrency requests in flight. Without opt.total it
// adds n providers after the bulk providers already on the server, so it
// can grow a cloud; with it, it completes bulk-000001…n, judging from each
// provider's generation what it still lacks (0: no inventory yet; 1: no
// allocation yet; the seed writes nothing else).
func bulk(c *client, n int, opt bulkOptions) error {
	if n < 1 || opt.concurrency < 1 || opt.allocated < 0 || opt.allocated > 100 {
		return fmt.Errorf("bulk: need N >= 1, -concurrency >= 1 and 0 <= -allocated <= 100")
	}
	existing, _, err := c.generations()
	if err != nil {
		return err
	}
	var jobs []bulkJob
	first := 1
	if opt.total {
		for i := 1; i <= n; i++ {
			from := bulkCreate
			if p, ok := existing[bulkUUID(i)]; ok {
				switch {
				case p.generation == 0:
					from = bulkInventory
				case p.generation == 1 && bulkAllocated(i, opt.allocated):
					from = bulkAllocation
				default:
					from = bulkDone
				}
			}
			if from != bulkDone {
				jobs = append(jobs, bulkJob{i, from})
			}
		}
	} else {
		for first <= len(existing) {
			if _, ok := existing[bulkUUID(first)]; !ok {
				break
			}
			first++
		}
		for i := first; i < first+n; i++ {
			jobs = append(jobs, bulkJob{i, bulkCreate})
		}
	}

	start := time.Now()
	next := make(chan bulkJob)
	errs := make(chan error, opt.concurrency)
	var requests, allocations, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < opt.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range next {
				r, a, err := bulkProvider(c, job, opt.allocated)
				requests.Add(int64(r))
				allocations.Add(int64(a))
				if err != nil {
					errs <- err
					return
				}
				if d := done.Add(1); d%1000 == 0 {
					fmt.Fprintf(os.Stderr, "bulk: %d of %d providers, %.0f requests/s\n", d, len(jobs), float64(requests.Load())/time.Since(start).Seconds())
				}
			}
		}()
	}
	var failed error
feed:
	for _, job := range jobs {
		select {
		case next <- job:
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
	created := 0
	for _, job := range jobs {
		if job.from == bulkCreate {
			created++
		}
	}
	fmt.Printf("bulk_created %d\nbulk_completed %d\nbulk_allocations %d\nbulk_first %d\nbulk_requests %d\nbulk_seconds %.2f\nbulk_requests_per_second %.1f\n",
		created, len(jobs)-created, allocations.Load(), first, requests.Load(), d.Seconds(), float64(requests.Load())/max(d.Seconds(), 1e-9))
	return nil
}

// bulkProvider brings bulk provider job.i from job.from to done and returns
// the requests and allocations it made.
func bulkProvider(c *client, job bulkJob, allocated int) (requests, allocations int, err error) {
	i, uuid := job.i, bulkUUID(job.i)
	if job.from <= bulkCreate {
		body := map[string]any{"uuid": uuid, "name": fmt.Sprintf("bulk-%06d", i)}
		requests++
		if _, err := c.expect(request{method: "POST", path: "/resource_providers", version: "1.39", body: body}, 200); err != nil {
			return requests, 0, err
		}
	}
	if job.from <= bulkInventory {
		vcpus := 32 + 16*(i%4)
		inv := map[string]inventory{
			"VCPU":      {Total: vcpus, Reserved: 2, MaxUnit: vcpus, AllocationRatio: 16.0},
			"MEMORY_MB": {Total: 8192 * vcpus, Reserved: 512, MaxUnit: 8192 * vcpus, AllocationRatio: 1.5},
			"DISK_GB":   {Total: 2000, Reserved: 0, MaxUnit: 2000, AllocationRatio: 1.1},
		}
		// A new provider's generation is 0, so no read is needed before the PUT.
		requests++
		if _, err := c.expect(request{method: "PUT", path: "/resource_providers/" + uuid + "/inventories", version: "1.39",
			body: map[string]any{"inventories": inv, "resource_provider_generation": 0}}, 200); err != nil {
			return requests, 0, err
		}
	}
	if !bulkAllocated(i, allocated) {
		return requests, 0, nil
	}
	// A new consumer: consumer_generation null (required from 1.28), and
	// project_id, user_id and (from 1.38) consumer_type. 204 on success.
	k := i / 10
	body := map[string]any{
		"allocations": map[string]any{uuid: map[string]any{"resources": map[string]int{
			"VCPU": 1 + k%16, "MEMORY_MB": 2048 * (1 + k%8), "DISK_GB": 20 + 10*(k%10),
		}}},
		"project_id":          fmt.Sprintf("%032x", 0xb0+k%5),
		"user_id":             fmt.Sprintf("%032x", 0xc0+k%7),
		"consumer_generation": nil,
		"consumer_type":       "INSTANCE",
	}
	requests++
	if _, err := c.expect(request{method: "PUT", path: "/allocations/" + bulkConsumerUUID(i), version: "1.39", body: body}, 204); err != nil {
		return requests, 0, err
	}
	return requests, 1, nil
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
