package filetree

import (
	"io/fs"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/internal/text"
)

// SortBy orders the entries of a folder.
type SortBy int

const (
	ByName  SortBy = iota
	BySize         // largest first
	ByLayer        // introducing layer, lowest first
)

func (s SortBy) String() string { return [...]string{"name", "size", "layer"}[s] }

// Filter says which paths the pane shows. Its parts compose: a path is
// shown when it passes every part that is set, and folders are shown when
// something below them is.
type Filter struct {
	Query          string // case-insensitive substring of the path
	Changed        bool   // only what the viewed layer changed
	Findings       bool   // only paths with findings
	DeletedShipped bool   // only content deleted or overwritten but still in a blob
	Setuid         bool   // only setuid or setgid entries
	MinSize        int64  // only files at least this big (0: any)
	ShowDeleted    bool   // also show deleted paths (not a restriction)
}

// sizeSteps are the thresholds the size filter cycles through.
var sizeSteps = [...]int64{0, 1 << 20, 10 << 20, 100 << 20}

// nextSize is the size threshold after cur, wrapping around.
func nextSize(cur int64) int64 {
	for i, s := range sizeSteps {
		if s == cur {
			return sizeSteps[(i+1)%len(sizeSteps)]
		}
	}
	return cur
}

// narrows reports whether the filter hides anything.
func (f Filter) narrows() bool {
	return f.Query != "" || f.Changed || f.Findings || f.DeletedShipped || f.Setuid || f.MinSize > 0
}

// String describes the active parts for the pane title.
func (f Filter) String() string {
	var parts []string
	if f.Changed {
		parts = append(parts, "changes")
	}
	if f.Findings {
		parts = append(parts, "findings")
	}
	if f.DeletedShipped {
		parts = append(parts, "deleted-shipped")
	}
	if f.Setuid {
		parts = append(parts, "setuid")
	}
	if f.MinSize > 0 {
		parts = append(parts, "≥"+text.Size(f.MinSize))
	}
	if f.ShowDeleted {
		parts = append(parts, "+deleted")
	}
	if f.Query != "" {
		parts = append(parts, "/"+f.Query)
	}
	return strings.Join(parts, " ")
}

// visible reports whether a path is part of the filesystem view at all,
// before narrowing filters.
func (m Model) visible(n *tree.Node, s tree.State) bool {
	if s.Exists || s.Op == tree.Delete {
		return true
	}
	return s.Entry != nil && (m.filter.ShowDeleted || m.filter.DeletedShipped)
}

func (m Model) passes(id int32, n *tree.Node, s tree.State, lower []string, q string) bool {
	f := m.filter
	if q != "" && !strings.Contains(lower[id], q) {
		return false
	}
	if f.Changed && s.Op == 0 {
		return false
	}
	if f.Findings && m.ix.findings[n.Path()] == 0 {
		return false
	}
	if f.Setuid && (s.Entry == nil || s.Entry.Mode&(fs.ModeSetuid|fs.ModeSetgid) == 0) {
		return false
	}
	if f.MinSize > 0 && (s.Entry == nil || s.Entry.Type != layer.File || s.Entry.Size < f.MinSize) {
		return false
	}
	if f.DeletedShipped {
		shipped := false
		for _, h := range n.Hidden() {
			if h.By <= m.layer {
				shipped = true
				break
			}
		}
		if !shipped {
			return false
		}
	}
	return true
}
