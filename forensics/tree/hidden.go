package tree

import "github.com/strata-forensics/strata/forensics/layer"

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
