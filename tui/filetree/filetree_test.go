package filetree_test

import (
	"testing"

	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/styles"
)

func TestFilters(t *testing.T) {
	img := fake.XZ()
	var paths []string
	for _, f := range img.Findings {
		paths = append(paths, f.Path)
	}
	ix := filetree.NewIndex(img.Tree, paths)
	tests := []struct {
		name    string
		layer   int
		f       filetree.Filter
		matches int
		rows    int
	}{
		{name: "final, folded", layer: 2, rows: 5},   // app bin etc tmp usr
		{name: "layer 0, folded", layer: 0, rows: 4}, // no /app yet
		{name: "changes of layer 1", layer: 1, f: filetree.Filter{Changed: true}, matches: 4, rows: 9},
		{name: "changes of layer 2", layer: 2, f: filetree.Filter{Changed: true}, matches: 3, rows: 4}, // app/, run.sh, tmp/, build.sh (deleted)
		{name: "setuid", layer: 2, f: filetree.Filter{Setuid: true}, matches: 1, rows: 3},
		{name: "findings", layer: 2, f: filetree.Filter{Findings: true}, matches: 2, rows: 6},
		{name: "deleted but shipped", layer: 2, f: filetree.Filter{DeletedShipped: true}, matches: 2, rows: 4},
		{name: "deleted but shipped, before the delete", layer: 1, f: filetree.Filter{DeletedShipped: true}, matches: 1, rows: 2},
		{name: "query is case-insensitive", layer: 2, f: filetree.Filter{Query: "LZMA"}, matches: 2, rows: 5},
		{name: "filters compose", layer: 2, f: filetree.Filter{Query: "lzma", Findings: true}, matches: 1, rows: 4},
		{name: "size", layer: 2, f: filetree.Filter{MinSize: 30}, matches: 3, rows: 7},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := filetree.New(ix, &st)
			m.SetLayer(tc.layer)
			m.SetFilter(tc.f)
			if m.Matches() != tc.matches || m.Rows() != tc.rows {
				m.SetSize(80, 30)
				t.Errorf("%d matches in %d rows, want %d in %d:\n%s", m.Matches(), m.Rows(), tc.matches, tc.rows, m.View())
			}
		})
	}
}

func TestSelectOpensAndClears(t *testing.T) {
	img := fake.XZ()
	st := styles.Mono()
	m := filetree.New(filetree.NewIndex(img.Tree, nil), &st)
	m.SetFilter(filetree.Filter{Setuid: true})
	// A deleted path hidden by the filter: Select clears the filter and
	// shows deleted paths.
	if !m.Select("/tmp/build.sh") {
		t.Fatal("Select failed")
	}
	n, s := m.Selected()
	if n.Path() != "/tmp/build.sh" || s.Exists || s.DeletedBy != 2 || s.From != 1 {
		t.Fatalf("selected %s %+v", n.Path(), s)
	}
}
