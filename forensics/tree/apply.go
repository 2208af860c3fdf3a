package tree

import (
	"path"

	"github.com/strata-forensics/strata/forensics/layer"
)

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
