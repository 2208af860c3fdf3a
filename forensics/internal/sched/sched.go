// Package sched bounds the CPU-heavy work of a scan (walking, verifying or
// comparing a blob, hashing an input) to one piece per core, across every
// input of a fleet.
//
// Without a bound a fleet's inputs all hash and verify together, and the
// biggest layer's walk, which every input holding it waits for, gets a
// sliver of a core; with it that walk keeps a core while the rest share the
// others. Work that waits (for another input's walk) holds no place. A
// place nobody wants is lent to a walk, which then decompresses on one core
// and walks on another (readahead.Cores), until some work asks for it.
package sched

import (
	"context"
	"runtime"
	"sync/atomic"
)

// Gate hands out one place per core. A nil Gate bounds nothing.
type Gate struct {
	places  chan struct{}
	waiting atomic.Int64 // goroutines blocked in Enter
}

// New returns a gate with a place per core (GOMAXPROCS).
func New() *Gate { return &Gate{places: make(chan struct{}, runtime.GOMAXPROCS(0))} }

// Enter takes a place, and returns the function that gives it back. When
// ctx ends first it returns at once: the work then fails on ctx itself.
func (g *Gate) Enter(ctx context.Context) (leave func()) {
	if g == nil {
		return func() {}
	}
	if leave, ok := g.TryEnter(); ok {
		return leave
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case g.places <- struct{}{}:
		return g.leave
	case <-ctx.Done():
		return func() {}
	}
}

func (g *Gate) leave() { <-g.places }

// TryEnter takes a free place at once, if there is one.
func (g *Gate) TryEnter() (leave func(), ok bool) {
	if g == nil {
		return nil, false
	}
	select {
	case g.places <- struct{}{}:
		return g.leave, true
	default:
		return nil, false
	}
}

// Wanted reports that some work waits for a place.
func (g *Gate) Wanted() bool { return g != nil && g.waiting.Load() > 0 }

// Do runs f in a place.
func (g *Gate) Do(ctx context.Context, f func()) {
	defer g.Enter(ctx)()
	f()
}
