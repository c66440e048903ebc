package collector

import (
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// inconsistencies counts, per reason, the API data a collector refused or
// repaired, across polls: a condition that persists is counted on every poll
// it is seen, so that rate() stays above zero while it lasts. Each instance
// (a reason and what it concerns: a uuid, a pool and field) is logged when it
// appears, not again on every poll while it persists, and once more if it
// comes back after it was gone.
type inconsistencies struct {
	desc    *prometheus.Desc
	reasons []string // every reason is exported, 0 until seen
	totals  map[string]float64
	logged  map[string]bool // instances seen in the last finished poll
	seen    map[string]bool // instances seen in the current poll
}

func newInconsistencies(desc *prometheus.Desc, reasons ...string) *inconsistencies {
	return &inconsistencies{desc: desc, reasons: reasons, totals: map[string]float64{}, logged: map[string]bool{}, seen: map[string]bool{}}
}

// note counts one occurrence and logs it at warning level unless the same
// instance was already seen in the previous poll (or earlier in this one).
// Not safe for concurrent use: call it from the poll's own goroutine.
func (in *inconsistencies) note(logger log.Logger, reason, instance string, keyvals ...any) {
	in.totals[reason]++
	key := reason + "\x00" + instance
	if !in.logged[key] && !in.seen[key] {
		level.Warn(logger).Log(append(keyvals, "reason", reason)...)
	}
	in.seen[key] = true
}

// finish ends a poll: what was not seen in it may be logged again later. It
// sends each reason's total as a counter.
func (in *inconsistencies) finish(ch chan<- prometheus.Metric) {
	in.logged, in.seen = in.seen, map[string]bool{}
	for _, reason := range in.reasons {
		ch <- prometheus.MustNewConstMetric(in.desc, prometheus.CounterValue, in.totals[reason], reason)
	}
}
