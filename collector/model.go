package collector

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// Model is the seam between the collectors that poll a cloud and the views
// derived from several of them (capacity): a read-only picture of one
// cloud that each polling collector replaces, whole, at the end of its poll,
// and that a derived collector reads without reaching into another
// collector's cache. Each part is consistent in itself (one poll of one
// service); parts of different services may be a poll interval apart, and
// each says when it was taken. One Model per cloud: collector.New makes it.
type Model struct {
	placement modelPart[PlacementView]
	nova      modelPart[NovaView]
	// novaPolled is set by New when the Nova collector runs: a derived
	// collector can then tell "no Nova data yet" from "never any".
	novaPolled atomic.Bool

	traitsMu sync.Mutex
	// traits are those the derived collectors need the Placement cache to
	// keep beyond the configuration's (sorted), asked for when they are
	// made, before the first poll.
	traits []string
}

// modelPart is one service's part of the Model.
type modelPart[T any] struct {
	view      atomic.Pointer[T]
	ready     chan struct{} // closed by the first publish
	readyOnce sync.Once
	// wanted is set when a derived collector reads the part: building it
	// costs a copy of the polling collector's data per poll, paid only then.
	wanted atomic.Bool
}

func newModelPart[T any]() modelPart[T] { return modelPart[T]{ready: make(chan struct{})} }

// latest waits for the first view until ctx ends (then nil).
func (p *modelPart[T]) latest(ctx context.Context) *T {
	p.wanted.Store(true)
	select {
	case <-p.ready:
	case <-ctx.Done():
	}
	return p.view.Load()
}

func (p *modelPart[T]) publish(v *T) {
	p.view.Store(v)
	p.readyOnce.Do(func() { close(p.ready) })
}

// PlacementView is what one Placement poll saw.
type PlacementView struct {
	Taken time.Time
	// Providers are the listed providers (within placement.scope) whose
	// inventories and usages are known, usages folded into the
	// inventories' Used.
	Providers []slots.Provider
	// Pending is how many listed providers are left out for lack of data
	// (a cold start still reading them, or sub-resources that failed).
	Pending int
	// Traits tells which traits the providers' Traits can hold: those
	// matching placement.traits_include and those derived collectors
	// asked for; a trait outside it is unknown, not absent.
	Traits func(string) bool
	// Unread are the uuids of the Pending providers: listed, so they
	// exist, but left out of Providers.
	Unread []string
	// Scoped: placement.scope limits the listing, so a provider missing
	// from it may exist all the same.
	Scoped bool
}

// NewModel is an empty picture of a cloud.
func NewModel() *Model {
	return &Model{placement: newModelPart[PlacementView](), nova: newModelPart[NovaView]()}
}

// WantPlacement asks the Placement collector to publish its view from its
// next poll on; a derived collector calls it when it is made, so that the
// first Placement poll already publishes.
func (m *Model) WantPlacement() { m.placement.wanted.Store(true) }

// Placement returns the latest Placement view, waiting for the first one
// until ctx ends (then nil).
func (m *Model) Placement(ctx context.Context) *PlacementView { return m.placement.latest(ctx) }

func (m *Model) publishPlacement(v *PlacementView) { m.placement.publish(v) }

func (m *Model) wantsPlacement() bool { return m.placement.wanted.Load() }

// WantTraits asks the Placement collector to keep these traits in its
// cache (and so in PlacementView's providers) whatever traits_include says;
// they are not exported. A derived collector calls it when it is made.
func (m *Model) WantTraits(traits ...string) {
	m.traitsMu.Lock()
	defer m.traitsMu.Unlock()
	for _, t := range traits {
		if i, found := slices.BinarySearch(m.traits, t); !found {
			m.traits = slices.Insert(m.traits, i, t)
		}
	}
}

// placementConfig is the Placement section with the traits the derived
// collectors want added to those it keeps; p itself when there are none
// to add.
func (m *Model) placementConfig(p *PlacementConfig) *PlacementConfig {
	if m == nil {
		return p
	}
	m.traitsMu.Lock()
	defer m.traitsMu.Unlock()
	var extra []string
	for _, t := range m.traits {
		if _, kept := slices.BinarySearch(p.keepTraits, t); !kept {
			extra = append(extra, t)
		}
	}
	if len(extra) == 0 {
		return p
	}
	merged := *p
	merged.keepTraits = slices.Concat(p.keepTraits, extra)
	slices.Sort(merged.keepTraits)
	return &merged
}

// WantNova asks the Nova collector to publish its view from its next poll
// on (see WantPlacement).
func (m *Model) WantNova() { m.nova.wanted.Store(true) }

// Nova returns the latest Nova view, waiting for the first one until ctx
// ends (then nil). Without the Nova collector it is nil at once.
func (m *Model) Nova(ctx context.Context) *NovaView {
	if !m.novaPolled.Load() {
		return nil
	}
	return m.nova.latest(ctx)
}

// NovaPolled reports whether the Nova collector runs for this cloud.
func (m *Model) NovaPolled() bool { return m.novaPolled.Load() }

func (m *Model) publishNova(v *NovaView) { m.nova.publish(v) }

func (m *Model) wantsNova() bool { return m.nova.wanted.Load() }
