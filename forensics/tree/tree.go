// Package tree merges layers bottom-up into the filesystem a container would
// see, applying OCI whiteouts and opaque folders, and keeps every path's
// provenance: the layer that added it, each that changed it and the one that
// deleted it. It holds metadata only, never file contents, and one tree per
// image, never one per layer.
package tree

import (
	"fmt"
	"maps"
	"path"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/strata-forensics/strata/forensics/layer"
)

// Op is what a layer did to a path. It is a byte, not a string: a tree
// keeps one Change per path per layer that touched it.
type Op uint8

const (
	Add    Op = iota + 1 // "add": the path begins a life (first seen, or after a delete)
	Modify               // "modify": content, mode, owner, type or link target changed
	Delete               // "delete": a whiteout removed it, or a parent was removed or replaced
	Opaque               // "opaque": an opaque marker in this layer hid the folder's lower content
	Same                 // "same": the layer re-emitted an identical entry (not a change)
)

var opNames = [...]string{"", "add", "modify", "delete", "opaque", "same"}

// String is the op's name, "" for the zero Op (no change).
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// MarshalText writes the op's name.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Cause says why a path was deleted.
type Cause uint8

const (
	ByWhiteout Cause = iota + 1 // "whiteout": a .wh. marker named it
	ByOpaque                    // "opaque": an opaque marker on its folder
	ByReplace                   // "replaced": a folder was needed where it stood
	// ByParent is set on a cause when the path went because a folder
	// above it went ("parent whiteout", "parent opaque", "parent replaced").
	ByParent Cause = 0x80
)

var causeNames = [...]string{"", "whiteout", "opaque", "replaced"}

// String is the cause as reports spell it, "" for none.
func (c Cause) String() string {
	base := c &^ ByParent
	name := fmt.Sprintf("cause(%d)", uint8(base))
	if int(base) < len(causeNames) {
		name = causeNames[base]
	}
	if c&ByParent != 0 {
		return "parent " + name
	}
	return name
}

// MarshalText writes the cause as String spells it.
func (c Cause) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Change is one layer's effect on a path. Entry is the entry the layer
// wrote (nil for Delete; for Opaque the folder entry if the layer wrote one).
type Change struct {
	Layer int `json:"layer"`
	Op    Op  `json:"op"`
	// Implied marks a folder that exists only because something was added
	// below it.
	Implied bool `json:"implied,omitempty"`
	// Cause says why, for a Delete.
	Cause Cause        `json:"cause,omitempty"`
	Entry *layer.Entry `json:"entry,omitempty"`
}

// Node is one path ever seen in the image.
type Node struct {
	History []Change // in layer order; Same changes are kept for blame
	entry   *layer.Entry
	kids    map[string]*Node // every child ever seen, by name; nil until the path was a folder
	wrote   int32            // 1 + the last layer that wrote this path itself, 0 for none
	gen     uint32           // the tree generation that may change the node in place (see Fork)
	present bool
	// first holds the first change, so that most paths (written once, by
	// one layer) take one allocation, not two.
	first [1]Change
}

// record appends c to the node's history.
func (n *Node) record(c Change) {
	if n.History == nil {
		n.first[0] = c
		n.History = n.first[:1:1]
		return
	}
	n.History = append(n.History, c)
}

// Path is the node's absolute path. It is the path of the last entry
// written there, so a node does not carry the string twice.
func (n *Node) Path() string {
	if n.entry == nil {
		return ""
	}
	return n.entry.Path
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

// child returns the node for p below parent (which the tree owns), as the
// tree's own, creating it.
func (t *Tree) child(parent *Node, p string) *Node {
	name := path.Base(p)
	if n := parent.kids[name]; n != nil {
		return t.own(parent, name, n)
	}
	// The caller gives the node its entry, and so its path, right away.
	n := &Node{gen: t.gen}
	parent.kids[name] = n
	t.paths++
	t.sorted = nil
	return n
}

// Len is the number of paths ever seen, the root excluded.
func (t *Tree) Len() int { return t.paths }

// Apply merges one layer's entries, in tar order, as layer number idx
// (layers must be applied bottom-up). A layer's whiteouts and opaque markers
// affect only lower layers: what the same layer adds stays, whatever the
// order of the entries in its tar.
func (t *Tree) Apply(idx int, entries []*layer.Entry) {
	t.layers = idx + 1
	t.sorted = nil
	// Whiteouts first, so that they never hide what the same layer adds.
	for _, e := range entries {
		switch e.Type {
		case layer.Opaque:
			t.opaque(idx, e)
		case layer.Whiteout:
			if n := t.lookup(e.Path); n != nil && n.present && n != t.root {
				t.remove(idx, t.ownPath(e.Path), ByWhiteout)
			}
		}
	}
	for _, e := range entries {
		if e.Type == layer.Whiteout || e.Type == layer.Opaque {
			continue
		}
		t.write(idx, e)
	}
}

func (t *Tree) opaque(idx int, e *layer.Entry) {
	n := t.lookup(e.Path)
	if n == nil || !n.present || n.entry.Type != layer.Dir {
		// Opaque over nothing: the folder itself is (re)created by the
		// layer's own folder entry or implied by the marker.
		n = t.ensureDir(idx, e.Path)
	} else {
		n = t.ownPath(e.Path)
	}
	for _, k := range t.ownPresentKids(n) {
		t.remove(idx, k, ByOpaque)
	}
	n.record(Change{Layer: idx, Op: Opaque})
}

// remove deletes n (which the tree owns) and everything below it.
func (t *Tree) remove(idx int, n *Node, cause Cause) {
	n.present = false
	n.record(Change{Layer: idx, Op: Delete, Cause: cause})
	if n.kids != nil {
		for _, k := range t.ownPresentKids(n) {
			t.remove(idx, k, cause|ByParent)
		}
	}
}

func sortedKids(n *Node) []*Node {
	out := make([]*Node, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path() < out[j].Path() })
	return out
}

// ensureDir makes sure p and its parents exist as folders, implying them in
// layer idx where needed, and returns p's node.
func (t *Tree) ensureDir(idx int, p string) *Node {
	if p == "/" {
		return t.ownRoot()
	}
	parent := t.ensureDir(idx, path.Dir(p))
	n := t.child(parent, p)
	if n.present && n.entry.Type == layer.Dir {
		return n
	}
	if n.present {
		// A non-folder stands where a folder is needed: it is replaced.
		t.remove(idx, n, ByReplace)
	}
	implied := &layer.Entry{Path: p, Type: layer.Dir, Mode: 0o755}
	n.entry, n.present, n.kids = implied, true, orEmpty(n.kids)
	n.record(Change{Layer: idx, Op: Add, Entry: implied, Implied: true})
	return n
}

func orEmpty(m map[string]*Node) map[string]*Node {
	if m == nil {
		return map[string]*Node{}
	}
	return m
}

// write records entry e of layer idx. When the same layer wrote this path
// before (a duplicate entry), the last one wins.
func (t *Tree) write(idx int, e *layer.Entry) {
	parent := t.parentDir(idx, path.Dir(e.Path))
	n := t.child(parent, e.Path)
	again := n.wrote == int32(idx)+1
	n.wrote = int32(idx) + 1
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
			t.setEntry(n, e)
			return
		case sameEntry(n.entry, e):
			op = Same
		default:
			op = Modify
		}
	}
	if n.present && n.entry.Type == layer.Dir && e.Type != layer.Dir {
		// A file replaces a folder: what was below goes.
		for _, k := range t.ownPresentKids(n) {
			t.remove(idx, k, ByReplace|ByParent)
		}
	}
	n.record(Change{Layer: idx, Op: op, Entry: e})
	t.setEntry(n, e)
}

// parentDir is ensureDir for an entry's folder, remembering the last one.
// A remembered folder that is still present and still a folder is what
// ensureDir would return, with nothing to do on the way: removing a folder
// removes everything below it, so its parents are present folders too.
func (t *Tree) parentDir(idx int, dir string) *Node {
	if n := t.dir; n != nil && dir == t.dirPath && n.gen == t.gen && n.present && n.entry.Type == layer.Dir {
		return n
	}
	n := t.ensureDir(idx, dir)
	t.dir, t.dirPath = n, dir
	return n
}

func (t *Tree) setEntry(n *Node, e *layer.Entry) {
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
	if tn := t.lookup(e.Link); tn != nil && tn.present && tn.entry.Type == layer.File {
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
	for _, n := range t.nodes() {
		out = append(out, n.hidden()...)
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
			out = append(out, Hidden{Path: n.Path(), Layer: c.Layer, Entry: c.Entry, Reason: reason, By: next.Layer})
			break
		}
	}
	return out
}
