package tree

import (
	"maps"
	"sort"
	"strings"
	"sync/atomic"
)

var generations atomic.Uint32

func nextGen() uint32 { return generations.Add(1) }

// Fork returns a tree equal to t that shares all of t's nodes. Either tree
// can then be changed without the other seeing it: a node is copied, with
// the folders above it, the first time one of them changes it. Building an
// image's tree from a fork of its base's costs what its own layers change,
// not what the base holds. Fork must not run concurrently with other uses
// of t; forks can be used concurrently with each other and with t.
func (t *Tree) Fork() *Tree {
	t.gen = nextGen() // t's nodes are shared from now on: t copies them too
	t.dir = nil
	return &Tree{root: t.root, paths: t.paths, layers: t.layers, gen: nextGen(), sorted: t.sorted}
}

// own returns n, a child of parent (which the tree owns) named name, as a
// node the tree may change: n itself, or a copy put in n's place.
func (t *Tree) own(parent *Node, name string, n *Node) *Node {
	if n.gen == t.gen {
		return n
	}
	c := t.copyNode(n)
	parent.kids[name] = c
	return c
}

func (t *Tree) copyNode(n *Node) *Node {
	c := *n
	c.gen = t.gen
	if len(n.History) == 1 && &n.History[0] == &n.first[0] {
		c.History = c.first[:1:1]
	} else {
		// Full slice: an append must not write into the shared array.
		c.History = n.History[:len(n.History):len(n.History)]
	}
	if n.kids != nil {
		c.kids = maps.Clone(n.kids)
	}
	t.sorted = nil
	return &c
}

// ownRoot makes the root the tree's own.
func (t *Tree) ownRoot() *Node {
	if t.root.gen != t.gen {
		t.root = t.copyNode(t.root)
	}
	return t.root
}

// ownPath returns the node for a clean absolute path as the tree's own,
// copying it and the folders above it where they are shared, or nil when
// the path was never seen.
func (t *Tree) ownPath(p string) *Node {
	n, rest := t.ownRoot(), strings.TrimPrefix(p, "/")
	for rest != "" {
		name := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		k := n.kids[name]
		if k == nil {
			return nil
		}
		n = t.own(n, name, k)
	}
	return n
}

// ownPresentKids makes every present child of n (which the tree owns) the
// tree's own, and returns them in path order.
func (t *Tree) ownPresentKids(n *Node) []*Node {
	out := make([]*Node, 0, len(n.kids))
	for name, k := range n.kids {
		if k.present {
			out = append(out, t.own(n, name, k))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path() < out[j].Path() })
	return out
}
