// Package filetree is the explorer's tree pane: the merged filesystem of one
// image as it stands after a chosen layer, with folding, filters, search and
// sorting. Its view state (folds, cursor, filter) lives here, keyed by path
// or node id, never on tree.Node.
package filetree

import (
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Index numbers every node of a tree once, in path order, so that the pane
// works on slices instead of maps and sorting. Build it off the UI
// goroutine: it is the only step proportional to the tree's size that
// happens once rather than per filter change.
type Index struct {
	tree     *tree.Tree
	nodes    []*tree.Node
	parent   []int32 // -1 below the root
	kids     [][]int32
	roots    []int32
	size     []int64 // a file's last size; a folder's total below it
	ids      map[string]int32
	lower    []string        // lower-cased paths, built at the first search
	findings map[string]int  // findings per path
	below    map[string]bool // folders with a finding somewhere below
	layers   int
}

// NewIndex indexes t. findingPaths are the paths that carry findings (a
// path may repeat).
func NewIndex(t *tree.Tree, findingPaths []string) *Index {
	paths := t.Paths()
	ix := &Index{
		tree:     t,
		nodes:    make([]*tree.Node, len(paths)),
		parent:   make([]int32, len(paths)),
		kids:     make([][]int32, len(paths)),
		size:     make([]int64, len(paths)),
		ids:      make(map[string]int32, len(paths)),
		findings: map[string]int{},
		below:    map[string]bool{},
		layers:   t.Layers(),
	}
	for i, p := range paths {
		n := t.Node(p)
		ix.nodes[i] = n
		ix.ids[p] = int32(i)
		// Paths are sorted, so a parent always comes before its children
		// and siblings arrive in name order.
		pid, ok := ix.ids[path.Dir(p)]
		if !ok {
			pid = -1
			ix.roots = append(ix.roots, int32(i))
		} else {
			ix.kids[pid] = append(ix.kids[pid], int32(i))
		}
		ix.parent[i] = pid
		if e := n.Last(); e != nil && e.Type == layer.File {
			ix.size[i] = e.Size
		}
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if p := ix.parent[i]; p >= 0 && ix.nodes[i].Present() {
			ix.size[p] += ix.size[i]
		}
	}
	for _, p := range findingPaths {
		ix.findings[p]++
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			ix.below[d] = true
		}
	}
	return ix
}

// Len is the number of paths indexed.
func (ix *Index) Len() int { return len(ix.nodes) }

// Tree is the indexed tree.
func (ix *Index) Tree() *tree.Tree { return ix.tree }

func (ix *Index) lowered() []string {
	if ix.lower == nil {
		ix.lower = make([]string, len(ix.nodes))
		for i, n := range ix.nodes {
			ix.lower[i] = strings.ToLower(n.Path())
		}
	}
	return ix.lower
}
