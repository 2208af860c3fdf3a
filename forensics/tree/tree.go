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

// Op is what a layer did to a path.
type Op string

const (
	Add    Op = "add"    // the path begins a life (first seen, or after a delete)
	Modify Op = "modify" // content, mode, owner, type or link target changed
	Delete Op = "delete" // a whiteout removed it, or a parent was removed or replaced
	Opaque Op = "opaque" // an opaque marker in this layer hid the folder's lower content
	Same   Op = "same"   // the layer re-emitted an identical entry (not a change)
)

// Change is one layer's effect on a path. Entry is the entry the layer
// wrote (nil for Delete; for Opaque the folder entry if the layer wrote one).
type Change struct {
	Layer int          `json:"layer"`
	Op    Op           `json:"op"`
	Entry *layer.Entry `json:"entry,omitempty"`
	// Implied marks a folder that exists only because something was added
	// below it.
	Implied bool `json:"implied,omitempty"`
	// Cause says why, for a Delete: "whiteout", "opaque", "parent deleted",
	// "parent replaced".
	Cause string `json:"cause,omitempty"`
}

// Node is one path ever seen in the image.
type Node struct {
	Path    string
	History []Change // in layer order; Same changes are kept for blame
	entry   *layer.Entry
	present bool
	kids    map[string]*Node // every child ever seen; nil until the path was a folder
}

// Final is the entry in the final filesystem, nil when absent.
func (n *Node) Final() *layer.Entry {
	if !n.present {
		return nil
	}
	return n.entry
}

// Last is the last entry written at this path, present or not.
func (n *Node) Last() *layer.Entry { return n.entry }

// Present reports whether the path exists in the final filesystem.
func (n *Node) Present() bool { return n.present }

// Introduced is the layer where the path's current (or, if deleted, last)
// life began.
func (n *Node) Introduced() int {
	for i := len(n.History) - 1; i >= 0; i-- {
		if n.History[i].Op == Add {
			return n.History[i].Layer
		}
	}
	return -1
}

// Modified is the last layer that changed the entry itself in its current
// (or last) life; it equals Introduced when nothing changed it.
func (n *Node) Modified() int {
	for i := len(n.History) - 1; i >= 0; i-- {
		switch n.History[i].Op {
		case Add, Modify:
			return n.History[i].Layer
		}
	}
	return -1
}

// Deleted is the layer that deleted the path, or -1 when it is present.
func (n *Node) Deleted() int {
	if n.present {
		return -1
	}
	for i := len(n.History) - 1; i >= 0; i-- {
		if n.History[i].Op == Delete {
			return n.History[i].Layer
		}
	}
	return -1
}

// Tree is the merged filesystem of one image.
type Tree struct {
	root   *Node
	nodes  map[string]*Node
	layers int
	sorted []string // cached sorted paths; nil after a change
}

// New returns an empty tree.
func New() *Tree {
	root := &Node{Path: "/", present: true, kids: map[string]*Node{}, entry: &layer.Entry{Path: "/", Type: layer.Dir, Mode: 0o755}}
	return &Tree{root: root, nodes: map[string]*Node{"/": root}}
}

// Layers is the number of layers applied.
func (t *Tree) Layers() int { return t.layers }

// Node returns the node for a path, or nil when it was never seen.
func (t *Tree) Node(p string) *Node { return t.nodes[path.Clean("/"+p)] }

// Len is the number of paths ever seen, the root excluded.
func (t *Tree) Len() int { return len(t.nodes) - 1 }

// Apply merges one layer's entries, in tar order, as layer number idx
// (layers must be applied bottom-up). A layer's whiteouts and opaque markers
// affect only lower layers: what the same layer adds stays, whatever the
// order of the entries in its tar.
func (t *Tree) Apply(idx int, entries []layer.Entry) {
	t.layers = idx + 1
	t.sorted = nil
	// Whiteouts first, so that they never hide what the same layer adds.
	for i := range entries {
		e := &entries[i]
		switch e.Type {
		case layer.Opaque:
			t.opaque(idx, e)
		case layer.Whiteout:
			if n := t.nodes[e.Path]; n != nil && n.present && n != t.root {
				t.remove(idx, n, "whiteout")
			}
		}
	}
	written := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.Type == layer.Whiteout || e.Type == layer.Opaque {
			continue
		}
		t.write(idx, e, written[e.Path])
		written[e.Path] = true
	}
}

func (t *Tree) opaque(idx int, e *layer.Entry) {
	n := t.nodes[e.Path]
	if n == nil || !n.present || n.entry.Type != layer.Dir {
		// Opaque over nothing: the folder itself is (re)created by the
		// layer's own folder entry or implied by the marker.
		n = t.ensureDir(idx, e.Path)
	}
	for _, k := range sortedKids(n) {
		if k.present {
			t.remove(idx, k, "opaque")
		}
	}
	n.History = append(n.History, Change{Layer: idx, Op: Opaque})
}

// remove deletes n and everything below it.
func (t *Tree) remove(idx int, n *Node, cause string) {
	n.present = false
	n.History = append(n.History, Change{Layer: idx, Op: Delete, Cause: cause})
	if n.kids != nil {
		for _, k := range sortedKids(n) {
			if k.present {
				t.remove(idx, k, "parent "+strings.TrimPrefix(cause, "parent "))
			}
		}
	}
}

func sortedKids(n *Node) []*Node {
	out := make([]*Node, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// ensureDir makes sure p and its parents exist as folders, implying them in
// layer idx where needed, and returns p's node.
func (t *Tree) ensureDir(idx int, p string) *Node {
	if p == "/" {
		return t.root
	}
	parent := t.ensureDir(idx, path.Dir(p))
	n := t.nodes[p]
	if n != nil && n.present && n.entry.Type == layer.Dir {
		return n
	}
	if n != nil && n.present {
		// A non-folder stands where a folder is needed: it is replaced.
		t.remove(idx, n, "replaced")
	}
	implied := &layer.Entry{Path: p, Type: layer.Dir, Mode: 0o755}
	if n == nil {
		n = &Node{Path: p}
		t.nodes[p] = n
	}
	parent.kids[path.Base(p)] = n
	n.entry, n.present, n.kids = implied, true, orEmpty(n.kids)
	n.History = append(n.History, Change{Layer: idx, Op: Add, Entry: implied, Implied: true})
	return n
}

func orEmpty(m map[string]*Node) map[string]*Node {
	if m == nil {
		return map[string]*Node{}
	}
	return m
}

// write records entry e of layer idx. again is true when the same layer
// wrote this path before (a duplicate entry: the last one wins).
func (t *Tree) write(idx int, e *layer.Entry, again bool) {
	parent := t.ensureDir(idx, path.Dir(e.Path))
	n := t.nodes[e.Path]
	if n == nil {
		n = &Node{Path: e.Path}
		t.nodes[e.Path] = n
	}
	parent.kids[path.Base(e.Path)] = n
	if e.Type == layer.Hardlink && e.SHA256 == "" {
		e = t.resolveHardlink(e)
	}
	op := Add
	if n.present {
		switch {
		case again && len(n.History) > 0 && n.History[len(n.History)-1].Layer == idx:
			// Last one wins: rewrite this layer's change in place.
			last := &n.History[len(n.History)-1]
			if last.Op == Same && !sameEntry(n.entry, e) {
				last.Op = Modify
			}
			last.Entry, last.Implied = e, false
			t.setEntry(idx, n, e)
			return
		case sameEntry(n.entry, e):
			op = Same
		default:
			op = Modify
		}
	}
	if n.present && n.entry.Type == layer.Dir && e.Type != layer.Dir {
		// A file replaces a folder: what was below goes.
		for _, k := range sortedKids(n) {
			if k.present {
				t.remove(idx, k, "parent replaced")
			}
		}
	}
	n.History = append(n.History, Change{Layer: idx, Op: op, Entry: e})
	t.setEntry(idx, n, e)
}

func (t *Tree) setEntry(idx int, n *Node, e *layer.Entry) {
	n.entry, n.present = e, true
	if e.Type == layer.Dir {
		n.kids = orEmpty(n.kids)
	}
}

// resolveHardlink returns a hardlink with its digest and size taken from
// its target as the tree holds it (a link to a lower layer's file). It
// copies the entry: layer entries are shared by every image that has the
// layer, and another image may have other layers below it.
func (t *Tree) resolveHardlink(e *layer.Entry) *layer.Entry {
	if tn := t.nodes[e.Link]; tn != nil && tn.present && tn.entry.Type == layer.File {
		cp := *e
		cp.SHA256, cp.Size = tn.entry.SHA256, tn.entry.Size
		return &cp
	}
	return e
}

// sameEntry reports whether b re-states a without changing it. Build tools
// re-emit parent folders with a new mtime; that is not a change.
func sameEntry(a, b *layer.Entry) bool {
	if a.Type != b.Type || a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID || a.Link != b.Link {
		return false
	}
	if a.Type == layer.File || a.Type == layer.Hardlink {
		return a.Size == b.Size && a.SHA256 == b.SHA256
	}
	return true
}

// Paths returns every path ever seen, sorted, the root excluded.
func (t *Tree) Paths() []string {
	if t.sorted == nil {
		t.sorted = make([]string, 0, len(t.nodes))
		for p := range t.nodes {
			if p != "/" {
				t.sorted = append(t.sorted, p)
			}
		}
		sort.Strings(t.sorted)
	}
	return t.sorted
}

// Walk calls fn for every node at or below prefix, in path order, until fn
// returns false.
func (t *Tree) Walk(prefix string, fn func(*Node) bool) {
	prefix = path.Clean("/" + prefix)
	paths := t.Paths()
	start := 0
	if prefix != "/" {
		start = sort.SearchStrings(paths, prefix)
	}
	for _, p := range paths[start:] {
		if prefix != "/" && p != prefix && !strings.HasPrefix(p, prefix+"/") {
			break
		}
		if !fn(t.nodes[p]) {
			return
		}
	}
}

// Children returns the nodes directly below a folder, sorted by name,
// present or not.
func (t *Tree) Children(p string) []*Node {
	n := t.nodes[path.Clean("/"+p)]
	if n == nil {
		return nil
	}
	return sortedKids(n)
}

// Hidden is content that ships in a layer blob but is not in the final
// filesystem: deleted by a later layer, or overwritten by one.
type Hidden struct {
	Path   string
	Layer  int          // the layer whose blob holds the bytes
	Entry  *layer.Entry // as that layer wrote it
	Reason string       // "deleted" or "overwritten"
	By     int          // the layer that deleted or overwrote it
}

// Hidden lists every regular file's content that is in a layer blob but not
// in the final filesystem, in path then layer order.
func (t *Tree) Hidden() []Hidden {
	var out []Hidden
	for _, p := range t.Paths() {
		out = append(out, t.nodes[p].hidden()...)
	}
	return out
}

// Hidden is the hidden content of one path.
func (n *Node) Hidden() []Hidden { return n.hidden() }

func (n *Node) hidden() []Hidden {
	var out []Hidden
	for i, c := range n.History {
		if c.Entry == nil || c.Entry.Type != layer.File || c.Op == Same {
			continue
		}
		// Find what ended this version: the next change that is not Same.
		for _, next := range n.History[i+1:] {
			if next.Op == Same {
				continue
			}
			if next.Op == Opaque {
				continue // an opaque marker on the path itself hides its children, not it
			}
			reason := "overwritten"
			if next.Op == Delete {
				reason = "deleted"
			}
			out = append(out, Hidden{Path: n.Path, Layer: c.Layer, Entry: c.Entry, Reason: reason, By: next.Layer})
			break
		}
	}
	return out
}

// At returns the entry at path p as it stands after layer idx, the layer
// whose blob holds it, and whether it exists then.
func (n *Node) At(idx int) (*layer.Entry, int, bool) {
	var cur *layer.Entry
	from, ok := -1, false
	for _, c := range n.History {
		if c.Layer > idx {
			break
		}
		switch c.Op {
		case Add, Modify:
			cur, from, ok = c.Entry, c.Layer, true
		case Same:
			// The bytes are in this layer's blob too; keep the earlier one.
		case Delete:
			cur, from, ok = nil, -1, false
		}
	}
	return cur, from, ok
}
