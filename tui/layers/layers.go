// Package layers is the explorer's layer list: bottom-up, one row per layer
// with its index, short digest, size, entry count, finding marker,
// integrity state and shortened created_by.
package layers

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// Facts are what reading a layer's blob told: its digest (a legacy
// docker save's layer has none before), its unpacked size and its entry
// count.
type Facts struct {
	Digest           digest.Digest // "" leaves the image's own
	UncompressedSize int64
	Entries          int
}

// DigestOf is layer l's digest: as read, else as its image declares it.
func (f Facts) DigestOf(l *image.Layer) digest.Digest {
	if f.Digest != "" || l == nil {
		return f.Digest
	}
	return l.Digest
}

// Layer is one row's data.
type Layer struct {
	Layer    *image.Layer
	Facts    Facts // what reading the blob told, when Read
	Findings int
	Problems []integrity.Problem
	Read     bool // the blob has been read (entries and sizes are known)
}

// State is the integrity state word shown for a layer.
func (l Layer) State() string {
	for _, p := range l.Problems {
		if !p.Informational() {
			return string(p.Kind)
		}
	}
	switch {
	case l.Layer.Foreign:
		return "foreign"
	case l.Layer.Absent:
		return "absent"
	case !l.Read:
		return "…"
	}
	return "ok"
}

// KeyMap is the layers pane's keys. Open is the explorer's: it gives the
// keyboard to the tree, which shows the selected layer.
type KeyMap struct {
	keys.Nav
	Open key.Binding
}

// DefaultKeyMap is the layers pane's default key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{Nav: keys.DefaultNav(), Open: keys.Bind("enter", "browse its tree", "enter")}
}

// Model is the layers pane.
type Model struct {
	KeyMap  KeyMap
	layers  []Layer
	cur     scroll.Cursor
	width   int
	focused bool
	st      *styles.Styles
}

var _ pane.Model[Model] = (*Model)(nil)

// New returns a layers pane with the top layer selected.
func New(ls []Layer, st *styles.Styles) Model {
	m := Model{KeyMap: DefaultKeyMap(), layers: ls, st: st}
	m.cur.SetLen(len(ls))
	m.cur.To(len(ls) - 1)
	return m
}

// Selected is the index of the selected layer (-1 when there is none).
func (m Model) Selected() int {
	if len(m.layers) == 0 {
		return -1
	}
	return m.cur.Pos
}

// Layer returns layer i's row data.
func (m Model) Layer(i int) (Layer, bool) {
	if i < 0 || i >= len(m.layers) {
		return Layer{}, false
	}
	return m.layers[i], true
}

// Select selects layer i.
func (m *Model) Select(i int) { m.cur.To(i) }

// SetSize sets the pane's size, header excluded.
func (m *Model) SetSize(w, h int) {
	m.width = w
	m.cur.SetHeight(h)
}

// SetFocused says whether the pane has the keyboard.
func (m *Model) SetFocused(f bool) { m.focused = f }

// Update moves the selection.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	m.cur.Handle(msg, &m.KeyMap.Nav, scroll.Select)
	return m, nil
}

// ShortHelp is the pane's part of the one-line help.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{m.KeyMap.Open}
}

// FullHelp is the pane's column of the help screen.
func (m Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{append(m.KeyMap.Nav.Bindings(), m.KeyMap.Open)}
}

// Title is the pane's header.
func (m Model) Title() string { return fmt.Sprintf("Layers (%d)", len(m.layers)) }

// View renders the rows on screen.
func (m Model) View() string {
	from, to := m.cur.Visible()
	lines := make([]string, 0, m.cur.Height)
	for i := from; i < to; i++ {
		lines = append(lines, m.row(i))
	}
	if len(m.layers) == 0 {
		lines = append(lines, text.Fit(m.st.Dim.Render(" (no layers)"), m.width))
	}
	for len(lines) < m.cur.Height {
		lines = append(lines, strings.Repeat(" ", max(m.width, 0)))
	}
	return strings.Join(lines, "\n")
}

func (m Model) row(i int) string {
	l := m.layers[i]
	mark := " "
	if l.Findings > 0 {
		mark = "!"
	}
	state := l.State()
	size := text.Size(l.Layer.Size)
	entries := "?"
	if l.Read {
		entries = fmt.Sprint(l.Facts.Entries)
	}
	_, hex, _ := strings.Cut(text.ShortDigest(string(l.Facts.DigestOf(l.Layer))), ":")
	if hex == "" {
		hex = strings.Repeat("?", 12)
	}
	idx := fmt.Sprintf("%2d", l.Layer.Index)
	if l.Layer.Writable {
		idx = "rw" // a container's writable layer
	}
	cols := fmt.Sprintf("%s%s %-12s %6s", mark, idx, hex, size)
	if m.width >= 56 {
		cols += fmt.Sprintf(" %6s", entries)
	}
	by := text.CreatedBy(l.Layer.CreatedBy)
	if l.Layer.Writable {
		by = printable.String(l.Layer.CreatedBy) // no build step made it
	}
	line := cols + " " + fmt.Sprintf("%-2s", state) + " " + by
	line = text.Fit(line, m.width)
	switch {
	case i == m.cur.Pos && m.focused:
		return m.st.P.Selected.Render(line)
	case i == m.cur.Pos:
		return m.st.P.SelectedDim.Render(line)
	case state != "ok" && state != "…" && state != "foreign":
		return m.st.P.Error.Render(line)
	case l.Findings > 0:
		return m.st.P.Marker.Render(line)
	}
	return line
}
