package app_test

import (
	"context"
	"runtime"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// loaded drives a model through loading synchronously, as the program
// would: run the commands and feed their messages back.
func loaded(tb testing.TB, img *fake.Image, w, h int) tea.Model {
	tb.Helper()
	return loadedWith(tb, loader(img), w, h)
}

// loadedWith is loaded for any loader, one that fails included.
func loadedWith(tb testing.TB, load app.Loader, w, h int) tea.Model {
	tb.Helper()
	var m tea.Model = app.New(context.Background(), load, app.Options{Styles: styles.New(true), Keys: keys.Default()})
	m, _ = m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	queue := []tea.Cmd{m.Init()}
	for len(queue) > 0 {
		cmd := queue[0]
		queue = queue[1:]
		if cmd == nil {
			continue
		}
		msg := cmd()
		switch msg := msg.(type) {
		case tea.BatchMsg:
			queue = append(queue, msg...)
			continue
		case nil:
			continue
		}
		var next tea.Cmd
		m, next = m.Update(msg)
		queue = append(queue, next)
	}
	return m
}

// BenchmarkKeystroke500k measures one keystroke (update and render) on a
// tree of 500,000 files with every folder open: the cost must not depend
// on the tree's size.
func BenchmarkKeystroke500k(b *testing.B) {
	img := fake.Big(500_000, 8)
	m := loaded(b, img, 160, 50)
	// Search for "/", which every path contains: every folder opens and
	// the flattened list holds all 500k rows, the worst case.
	for _, k := range []string{"/", "/", "enter"} {
		m, _ = m.Update(press(k))
	}
	if got := m.(app.Model).Rows(); got < 500_000 {
		b.Fatalf("%d rows shown, want every path", got)
	}
	down, up := press("down"), press("up")
	// CPU time of this thread is reported beside wall time, which other
	// work on a shared machine inflates.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	c0 := threadCPU()
	for i := 0; i < b.N; i++ {
		k := down
		if i%64 >= 32 {
			k = up
		}
		m, _ = m.Update(k)
		_ = m.View()
	}
	b.ReportMetric(float64(threadCPU()-c0)/float64(b.N), "cpu-ns/op")
}
