package sched

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The gate holds as many works at once as it has places, lends a free
// place until a work waits for it, and a work waiting for a place gives
// up when its context ends. synctest.Wait replaces sleeping until a
// goroutine blocks.
func TestGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &Gate{places: make(chan struct{}, 2)}
		var running, most atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				g.Do(context.Background(), func() {
					n := running.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(time.Millisecond) // fake time: every work overlaps the others it can
					running.Add(-1)
				})
			})
		}
		wg.Wait()
		if most.Load() != 2 {
			t.Fatalf("at most %d works ran at once, want 2", most.Load())
		}
		leave := g.Enter(context.Background())
		defer leave()
		lent, ok := g.TryEnter() // the free place, lent
		if !ok {
			t.Fatal("TryEnter found no place with one free")
		}
		if g.Wanted() {
			t.Fatal("Wanted with nobody waiting")
		}
		if _, ok := g.TryEnter(); ok {
			t.Fatal("TryEnter took a place with the gate full")
		}
		waited := make(chan func())
		go func() { waited <- g.Enter(context.Background()) }()
		synctest.Wait() // the work above now waits for a place
		if !g.Wanted() {
			t.Fatal("not Wanted with a work waiting")
		}
		lent() // the lent place given back to the work that wants it
		leave2 := <-waited
		defer leave2()
		if g.Wanted() {
			t.Fatal("Wanted once the waiting work got its place")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		g.Enter(ctx)() // full: returns when ctx ends
		if ctx.Err() == nil {
			t.Fatal("Enter returned with the gate full and the context alive")
		}
		if g.Wanted() {
			t.Fatal("Wanted after the waiting work gave up")
		}
	})
	var none *Gate
	if _, ok := none.TryEnter(); ok || none.Wanted() {
		t.Fatal("a nil gate lends places")
	}
	none.Enter(context.Background())() // bounds nothing
}
