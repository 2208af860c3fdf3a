package layers_test

import (
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/internal/golden"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/styles"
)

// rows is an image's layers as the explorer lists them.
func rows(img *fake.Image) []layers.Layer {
	perLayer := map[int]int{}
	for _, f := range img.Findings {
		perLayer[f.Layer]++
	}
	var ls []layers.Layer
	for i, l := range img.Image.Layers {
		ls = append(ls, layers.Layer{Layer: l, Facts: img.Layers[i], Findings: perLayer[i], Read: true})
	}
	return ls
}

// TestGolden renders the pane at 80×20.
func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		ls      []layers.Layer
		keys    []string
		focused bool
	}{
		{name: "xz", ls: rows(fake.XZ()), focused: true},
		{name: "xz-layer-1-unfocused", ls: rows(fake.XZ()), keys: []string{"up"}},
		{name: "problems", ls: func() []layers.Layer {
			ls := rows(fake.XZ())
			ls[0].Problems = []integrity.Problem{{Kind: integrity.DiffIDMismatch, Blob: "blobs/sha256/0"}}
			ls[1].Read = false
			ls[2].Layer.Absent = true
			return ls
		}(), focused: true},
		// The top layer is selected: the list shows the last 20 of 30.
		{name: "scrolled", ls: rows(fake.Big(300, 30)), focused: true},
		{name: "scrolled-home", ls: rows(fake.Big(300, 30)), keys: []string{"g", "down"}, focused: true},
		{name: "none", focused: true},
		// A container of an engine's storage: its writable layer on top,
		// shown as rw.
		{name: "container-rw", ls: func() []layers.Layer {
			ls := rows(fake.XZ())
			top := ls[len(ls)-1]
			top.Layer.Writable, top.Layer.CreatedBy = true, "writable layer of container web"
			ls[len(ls)-1] = top
			return ls
		}(), focused: true},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := layers.New(tc.ls, &st)
			m.SetSize(80, 20)
			m.SetFocused(tc.focused)
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertPane(t, &m, 80, 20)
		})
	}
}
