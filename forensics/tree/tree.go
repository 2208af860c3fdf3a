// Package tree merges layers bottom-up into the filesystem a container would
// see, applying OCI whiteouts and opaque folders, and keeps every path's
// provenance: the layer that added it, each that changed it and the one that
// deleted it. It holds metadata only, never file contents, and one tree per
// image, never one per layer.
package tree

import (
	"path"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
)

// Tree is the merged filesystem of one image. Paths are found from the root
// through each folder's children: there is no second index of every path,
// which would cost as much again for a million of them.
//
// Trees forked from one another share the nodes neither has changed since
// (see Fork): images on one base share the base's nodes, not copies.
type Tree struct {
	root   *Node
	paths  int // nodes ever created, the root excluded
	layers int
	gen    uint32  // nodes of this generation are the tree's own to change
	sorted []*Node // cached, in path order; nil after a change
	// dir and dirPath are the folder the last entry went into: a tar
	// lists a folder's entries together, so the next entry's folder is
	// usually the same one and needs no walk from the root.
	dir     *Node
	dirPath string
}

// New returns an empty tree.
func New() *Tree {
	t := &Tree{gen: nextGen()}
	t.root = &Node{gen: t.gen, present: true, kids: map[string]*Node{}, entry: &layer.Entry{Path: "/", Type: layer.Dir, Mode: 0o755}}
	return t
}

// Layers is the number of layers applied.
func (t *Tree) Layers() int { return t.layers }

// Node returns the node for a path, or nil when it was never seen.
func (t *Tree) Node(p string) *Node { return t.lookup(path.Clean("/" + p)) }

// lookup finds a clean absolute path.
func (t *Tree) lookup(p string) *Node {
	n, rest := t.root, strings.TrimPrefix(p, "/")
	for rest != "" && n != nil {
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		n = n.kids[name]
	}
	return n
}

// Len is the number of paths ever seen, the root excluded.
func (t *Tree) Len() int { return t.paths }

func sortedKids(n *Node) []*Node {
	out := make([]*Node, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path() < out[j].Path() })
	return out
}

// nodes returns every node ever seen, the root excluded, in path order.
func (t *Tree) nodes() []*Node {
	if t.sorted == nil {
		out := make([]*Node, 0, t.paths)
		var collect func(n *Node)
		collect = func(n *Node) {
			for _, k := range n.kids {
				out = append(out, k)
				collect(k)
			}
		}
		collect(t.root)
		sort.Slice(out, func(i, j int) bool { return out[i].Path() < out[j].Path() })
		t.sorted = out
	}
	return t.sorted
}

// Paths returns every path ever seen, sorted, the root excluded.
func (t *Tree) Paths() []string {
	nodes := t.nodes()
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Path()
	}
	return out
}

// Walk calls fn for every node at or below prefix, in path order, until fn
// returns false.
func (t *Tree) Walk(prefix string, fn func(*Node) bool) {
	prefix = path.Clean("/" + prefix)
	nodes := t.nodes()
	start := 0
	if prefix != "/" {
		start = sort.Search(len(nodes), func(i int) bool { return nodes[i].Path() >= prefix })
	}
	for _, n := range nodes[start:] {
		if prefix != "/" && n.Path() != prefix && !strings.HasPrefix(n.Path(), prefix+"/") {
			break
		}
		if !fn(n) {
			return
		}
	}
}

// Children returns the nodes directly below a folder, sorted by name,
// present or not.
func (t *Tree) Children(p string) []*Node {
	n := t.Node(p)
	if n == nil {
		return nil
	}
	return sortedKids(n)
}
