package collector

import (
	"context"
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
	placement      atomic.Pointer[PlacementView]
	placementReady chan struct{} // closed by the first publishPlacement
	readyOnce      sync.Once
	// placementWanted is set when a derived collector reads the Placement
	// part: building it costs a copy of the cache per poll, paid only then.
	placementWanted atomic.Bool
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
}

// NewModel is an empty picture of a cloud.
func NewModel() *Model { return &Model{placementReady: make(chan struct{})} }

// WantPlacement asks the Placement collector to publish its view from its
// next poll on; a derived collector calls it when it is made, so that the
// first Placement poll already publishes.
func (m *Model) WantPlacement() { m.placementWanted.Store(true) }

// Placement returns the latest Placement view, waiting for the first one
// until ctx ends (then nil).
func (m *Model) Placement(ctx context.Context) *PlacementView {
	m.WantPlacement()
	select {
	case <-m.placementReady:
	case <-ctx.Done():
	}
	return m.placement.Load()
}

func (m *Model) publishPlacement(v *PlacementView) {
	m.placement.Store(v)
	m.readyOnce.Do(func() { close(m.placementReady) })
}

func (m *Model) wantsPlacement() bool { return m.placementWanted.Load() }
