package collector

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// peakHeap samples the Go heap in use every few milliseconds until stop is
// called, and returns the largest value seen: the figure that drives a
// poll's peak RSS, which a heap measured after a GC hides.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// benchmarkPollMemory polls a synthetic cloud of n providers as the Poller
// does (collect, encode, store) with every family on and usages re-read
// each poll, and reports the peak heap during a steady poll, what a poll
// allocates, and what stays between polls.
func benchmarkPollMemory(b *testing.B, n int) {
	srv := newSyntheticPlacement(b, n, 0)
	c := benchCollector(b, srv)
	cfg := mustConfig(b, "placement:\n  concurrency: 16\n  timeout: 10m\n  usages_max_age: 0s\n")
	p := NewPoller(nopLogger(), NewSafeConfig(cfg), map[string]Collector{"placement": c})
	p.PollOnce(context.Background(), "placement", c) // cold: fill the cache
	var peak uint64
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	polls := 0
	for b.Loop() {
		stop := peakHeap()
		p.PollOnce(context.Background(), "placement", c)
		peak = max(peak, stop())
		polls++
		if !p.snapshots["placement"].success {
			b.Fatal("poll failed")
		}
	}
	runtime.ReadMemStats(&after)
	runtime.GC()
	var kept runtime.MemStats
	runtime.ReadMemStats(&kept)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(polls)/(1<<20), "alloc-MB/poll")
	b.ReportMetric(float64(kept.HeapInuse)/(1<<20), "kept-heap-MB")
	b.ReportMetric(float64(len(p.snapshots["placement"].gzipped))/(1<<20), "snapshot-MB")
}

func BenchmarkPollMemory10k(b *testing.B)  { benchmarkPollMemory(b, 10_000) }
func BenchmarkPollMemory100k(b *testing.B) { benchmarkPollMemory(b, 100_000) }
