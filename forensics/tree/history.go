package tree

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
)

// This file answers the questions about history: a path's state after a
// layer, its version before one, where it leads through links as of a
// layer, and what one layer changed. Callers ask these rather than replay
// a History themselves.

// ErrTooManyLinks is returned by Resolve for symbolic links that loop or
// nest deeper than the kernel's MAXSYMLINKS (40) allows.
var ErrTooManyLinks = errors.New("too many levels of symbolic links")

const (
	maxSymlinks  = 40 // as the kernel's MAXSYMLINKS
	maxHardlinks = 8  // a tar's hard link names a file; a hostile one names another link
)

// State is what a path looks like after one layer.
type State struct {
	Entry      *layer.Entry // as of the layer; the last version when deleted, nil before the first
	Exists     bool
	From       int // the layer whose blob holds Entry, -1 for none
	Introduced int // the layer where its current (or last) life began, -1 for none
	// Op is what the layer itself did to the path: Add, Modify or Delete;
	// 0 when it did nothing, only re-stated the entry or implied the
	// folder. An opaque marker counts as Modify: the layer changed what
	// the folder holds.
	Op        Op
	DeletedBy int // the layer that deleted it, -1 unless it is deleted then
}

// State replays the path's history up to and including layer idx.
func (n *Node) State(idx int) State {
	s := State{From: -1, Introduced: -1, DeletedBy: -1}
	for _, c := range n.History {
		if c.Layer > idx {
			break
		}
		switch c.Op {
		case Add:
			s.Entry, s.Exists, s.From, s.Introduced, s.DeletedBy = c.Entry, true, c.Layer, c.Layer, -1
		case Modify:
			s.Entry, s.Exists, s.From = c.Entry, true, c.Layer
		case Delete:
			s.Exists, s.DeletedBy = false, c.Layer
		case Same:
			// The bytes are in this layer's blob too; keep the earlier one.
		}
		if c.Layer == idx && c.Op != Same && !c.Implied {
			s.Op = c.Op
			if c.Op == Opaque {
				s.Op = Modify
			}
		}
	}
	return s
}

// At returns the entry at the path as it stands after layer idx, the layer
// whose blob holds it, and whether it exists then.
func (n *Node) At(idx int) (*layer.Entry, int, bool) {
	s := n.State(idx)
	if !s.Exists {
		return nil, -1, false
	}
	return s.Entry, s.From, true
}

// Above is the first layer above idx that puts something over path p as
// an overlay mount stacks the layers' folders, -1 when none does: one
// that writes p (even re-stating it unchanged: its own folder then holds
// the copy a container sees), deletes it, or deletes, makes opaque or
// puts a non-folder in place of a folder above it. It answers for bytes
// found in layer idx's folder but in no layer's tar (a file planted on an
// engine's host after the pull), which the tree has no entry of: p need
// not have been seen.
func (t *Tree) Above(p string, idx int) int {
	p = path.Clean("/" + p)
	if p == "/" {
		return -1
	}
	first := -1
	n := t.root
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, name := range parts {
		if n = n.kids[name]; n == nil {
			break
		}
		self := i == len(parts)-1
		for _, c := range n.History {
			if c.Layer <= idx || !self && !hidesBelow(c) {
				continue
			}
			if first < 0 || c.Layer < first {
				first = c.Layer
			}
			break // History is in layer order
		}
	}
	return first
}

// hidesBelow reports whether change c of a folder hides what lower
// layers' folders hold below it: folders merge, anything else stands
// alone.
func hidesBelow(c Change) bool {
	switch c.Op {
	case Delete, Opaque:
		return true
	case Add, Modify, Same:
		return c.Entry != nil && c.Entry.Type != layer.Dir
	}
	return false
}

// VersionBefore is the content the path held before layer idx: the last
// regular file an Add or Modify below idx wrote there, and that layer,
// whose blob holds the bytes. Versions of other types hold no bytes of
// their own and are passed over; ok is false when no layer below idx wrote
// a file there.
func (n *Node) VersionBefore(idx int) (e *layer.Entry, from int, ok bool) {
	for i := len(n.History) - 1; i >= 0; i-- {
		c := n.History[i]
		if c.Layer >= idx || c.Entry == nil || c.Entry.Type != layer.File {
			continue
		}
		if c.Op == Add || c.Op == Modify {
			return c.Entry, c.Layer, true
		}
	}
	return nil, -1, false
}

// Resolved is where a path leads as of a layer.
type Resolved struct {
	Path  string       // the path asked for, cleaned, its symbolic links followed if asked to
	Entry *layer.Entry // the entry at Path, hard links followed; nil when absent
	From  int          // the layer whose blob holds Entry's bytes, -1 when absent
}

// Resolve finds what path p leads to as the filesystem stands after layer
// idx (a negative idx means the final filesystem).
//
// With followSymlinks, the symbolic links in every part of p are followed
// as by a process chrooted into the image: absolute targets start at the
// image's root and ".." stops there, so no link leads out of the image.
// Links that loop or nest too deep give ErrTooManyLinks.
//
// Then a hard link is followed to the entry holding its bytes (see
// Follow). A hard link to nothing is Entry itself: it has no bytes to show.
func (t *Tree) Resolve(p string, idx int, followSymlinks bool) (Resolved, error) {
	if idx < 0 || idx >= t.layers {
		idx = t.layers - 1
	}
	p = path.Clean("/" + p)
	if followSymlinks {
		var err error
		if p, err = t.followSymlinks(p, idx); err != nil {
			return Resolved{From: -1}, err
		}
	}
	r := Resolved{Path: p, From: -1}
	if e, from, ok := t.at(p, idx); ok {
		r.Entry, r.From = t.Follow(e, from)
	}
	return r, nil
}

// Follow returns the entry holding the bytes of e, an entry layer from
// wrote, and the layer whose blob holds them: e and from themselves unless
// e is a hard link.
//
// A hard link names the file its target held when the link's own layer
// made it: the one that layer's tar wrote there, or else the one the
// layers below left, even when the same layer also deletes the target (a
// tar applied in order links those bytes before the whiteout removes the
// name, and they still ship in their blob). Later layers that rewrite or
// delete the target put a new file at its name, or none; the link keeps
// the old one. A hard link to nothing, or at the end of a chain of links
// too long, is its own answer: it has no bytes to show.
//
// The explorer asks Follow for a version it already has, a deleted path's
// last one included; Resolve asks it for what a path holds at a layer.
func (t *Tree) Follow(e *layer.Entry, from int) (*layer.Entry, int) {
	for hops := 0; e != nil && e.Type == layer.Hardlink && hops < maxHardlinks; hops++ {
		n := t.Node(e.Link)
		if n == nil {
			break
		}
		s := n.State(from)
		if s.Entry == nil || (!s.Exists && s.DeletedBy != from) {
			break
		}
		e, from = s.Entry, s.From
	}
	return e, from
}

// at is Node(p).At(idx), false for a path never seen.
func (t *Tree) at(p string, idx int) (*layer.Entry, int, bool) {
	n := t.Node(p)
	if n == nil {
		return nil, -1, false
	}
	return n.At(idx)
}

// followSymlinks resolves the symbolic links in every part of the clean
// absolute path p, inside the tree, after layer idx.
func (t *Tree) followSymlinks(p string, idx int) (string, error) {
	hops := 0
	var walk func(p string) (string, error)
	walk = func(p string) (string, error) {
		cur := "/"
		for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			if part == "" {
				continue
			}
			next := path.Join(cur, part)
			e, _, ok := t.at(next, idx)
			if !ok || e.Type != layer.Symlink {
				cur = next
				continue
			}
			if hops++; hops > maxSymlinks {
				return "", fmt.Errorf("%s: %w", p, ErrTooManyLinks)
			}
			target := e.Link
			if !strings.HasPrefix(target, "/") {
				target = path.Join(cur, target)
			}
			resolved, err := walk(path.Clean("/" + target))
			if err != nil {
				return "", err
			}
			cur = resolved
		}
		return cur, nil
	}
	return walk(p)
}

// PathChange is one change a layer made to one path.
type PathChange struct {
	Node   *Node
	Change Change
}

// Before is the entry the path held as the layers below the change's left
// it, nil when it was absent there: for a Delete, what was deleted.
func (pc PathChange) Before() *layer.Entry {
	e, _, _ := pc.Node.At(pc.Change.Layer - 1)
	return e
}

// Changes lists what layer idx's own tar did, in path order: each change
// it made to each path, leaving out entries it only re-stated (Same) and
// folders it only implied.
func (t *Tree) Changes(idx int) []PathChange {
	var out []PathChange
	t.Walk("/", func(n *Node) bool {
		for _, c := range n.History {
			if c.Layer == idx && c.Op != Same && !c.Implied {
				out = append(out, PathChange{Node: n, Change: c})
			}
		}
		return true
	})
	return out
}
