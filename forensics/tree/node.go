package tree

import (
	"fmt"

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
