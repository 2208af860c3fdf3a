// Package details is the explorer's detail pane: for the selected path, its
// whole history across layers (op, sha256, size, mode, created_by), the
// findings on it and content that was deleted or overwritten but still
// ships in a blob. It is the blame answer, where the eye already is.
package details

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/styles"
)

// KeyMap is the detail pane's keys: they scroll it.
type KeyMap struct {
	keys.Nav
}

// DefaultKeyMap is the detail pane's default key map.
func DefaultKeyMap() KeyMap { return KeyMap{Nav: keys.DefaultNav()} }

// Model is the detail pane.
type Model struct {
	KeyMap  KeyMap
	layers  []*image.Layer
	facts   []layers.Facts
	lines   []string
	path    string
	title   string
	cur     scroll.Cursor
	width   int
	focused bool
	st      *styles.Styles
}

var _ pane.Model[Model] = (*Model)(nil)

// New returns an empty detail pane for an image's layers, with what
// reading each told (facts, by layer index).
func New(ls []*image.Layer, facts []layers.Facts, st *styles.Styles) Model {
	return Model{KeyMap: DefaultKeyMap(), layers: ls, facts: facts, st: st}
}

// digestOf is layer i's digest: as read, else as its image declares it.
func (m *Model) digestOf(i int) string {
	var f layers.Facts
	if i < len(m.facts) {
		f = m.facts[i]
	}
	return string(f.DigestOf(m.layers[i]))
}

// Show describes node n (nil clears the pane) with the findings on its
// path. It is called when the selection changes, so its cost is one
// node's history, never the tree's.
func (m *Model) Show(n *tree.Node, fs []finding.Finding) {
	if n == nil {
		m.path, m.lines = "", nil
		m.cur.SetLen(0)
		return
	}
	if n.Path() != m.path {
		m.cur.To(0)
	}
	m.path, m.title = n.Path(), "History"
	m.lines = m.describe(n, fs)
	m.cur.SetLen(len(m.lines))
}

// ShowLayer describes a layer: every identifier in full, its integrity
// problems and its whole created_by, which the layers pane shortens.
func (m *Model) ShowLayer(l *image.Layer, f layers.Facts, problems []integrity.Problem, findings int) {
	key := fmt.Sprintf("layer %d", l.Index)
	if key != m.path {
		m.cur.To(0)
	}
	m.path, m.title = key, "Layer"
	w := max(m.width-2, 20)
	lines := []string{fmt.Sprintf("Layer %d", l.Index), "digest:"}
	lines = append(lines, wrap(string(f.DigestOf(l)), w)...)
	lines = append(lines, "diff_id:")
	lines = append(lines, wrap(string(l.DiffID), w)...)
	lines = append(lines,
		fmt.Sprintf("size %s stored, %s unpacked, %d entries", text.Size(l.Size), text.Size(f.UncompressedSize), f.Entries))
	if l.MediaType != "" {
		lines = append(lines, "type "+l.MediaType)
	}
	if findings > 0 {
		lines = append(lines, m.st.Marker.Render(fmt.Sprintf("! %d finding(s) in this layer", findings)))
	}
	for _, p := range problems {
		lines = append(lines, m.st.Error.Render(string(p.Kind)+": "+printable.String(p.Detail)))
	}
	if l.Absent || l.Foreign {
		lines = append(lines, m.st.Error.Render("blob absent from the archive"))
	}
	if l.CreatedBy != "" {
		lines = append(lines, "created_by:")
		// Wrapped in full so nothing of it is lost.
		lines = append(lines, wrap(printable.String(strings.Join(strings.Fields(l.CreatedBy), " ")), w)...)
	}
	m.lines = lines
	m.cur.SetLen(len(lines))
}

// ShowProblems lists the input's integrity records, every one in full:
// the verdict in the title bar counts the problems, the layer rows show
// only their kind, and a record of the input as a whole (a missing or
// unreferenced blob, a platform not pulled) belongs to no layer. coverage
// says what the input carries of what it names.
func (m *Model) ShowProblems(input string, problems []integrity.Problem, coverage string) {
	m.cur.To(0)
	m.path, m.title = "integrity", "Integrity"
	w := max(m.width-2, 20)
	r := integrity.Verdict(problems)
	lines := []string{printable.String(input)}
	switch {
	case len(problems) == 0:
		lines = append(lines, m.st.OK.Render("every blob carried matches its digest"))
	case r.OK:
		lines = append(lines, m.st.OK.Render("verified; absent by design, unreferenced and notes below are information, not tampering"))
	default:
		lines = append(lines, m.st.Error.Render(fmt.Sprintf("FAILED: %d problem(s)", len(r.Problems))))
	}
	if coverage != "" {
		lines = append(lines, wrap(printable.String(coverage), w)...)
	}
	for _, p := range r.Records() {
		style, label := m.st.Error, string(p.Kind)
		if p.Informational() {
			style = m.st.Dim
		}
		switch {
		case p.Reason != "":
			label += ": " + p.Reason.Text()
		case p.Content != "":
			label += ": " + printable.String(p.Content)
		}
		lines = append(lines, style.Render(label))
		lines = append(lines, wrap(printable.String(p.Blob), w)...)
		lines = append(lines, wrap(printable.String(p.Detail), w)...)
	}
	m.lines = lines
	m.cur.SetLen(len(lines))
}

// wrap cuts s into lines of w runes, indented by two spaces.
func wrap(s string, w int) []string {
	var out []string
	r := []rune(s)
	for len(r) > w {
		out = append(out, "  "+string(r[:w]))
		r = r[w:]
	}
	return append(out, "  "+string(r))
}

func (m Model) describe(n *tree.Node, fs []finding.Finding) []string {
	lines := []string{printable.String(n.Path())}
	for _, f := range fs {
		lines = append(lines, m.st.SeverityStyle(f.Severity).Render(printable.String(fmt.Sprintf("! %s %s: %s", strings.ToUpper(f.Severity.String()), f.Rule, f.Message))))
	}
	for _, c := range n.History {
		l := fmt.Sprintf("L%-2d %-6s", c.Layer, c.Op)
		if c.Layer >= 0 && c.Layer < len(m.layers) {
			l += " " + text.ShortDigest(m.digestOf(c.Layer))
		}
		style := m.st.Dim
		switch c.Op {
		case tree.Add:
			style = m.st.Added
		case tree.Modify, tree.Opaque:
			style = m.st.Modified
		case tree.Delete:
			style = m.st.Deleted
		}
		lines = append(lines, style.Render(l))
		if e := c.Entry; e != nil {
			d := "    " + e.Type.String() + " " + text.Mode(' ', e.Mode)[1:] + fmt.Sprintf(" %d:%d", e.UID, e.GID)
			if e.Type == layer.File || e.Type == layer.Hardlink {
				d += " " + text.Size(e.Size)
			}
			if e.Link != "" {
				d += " → " + printable.String(e.Link)
			}
			if c.Implied {
				d += " (implied by content below)"
			}
			lines = append(lines, d)
			if e.SHA256 != "" {
				lines = append(lines, "    sha256:"+e.SHA256)
			}
		}
		if c.Cause != 0 {
			lines = append(lines, "    by "+c.Cause.String())
		}
		if c.Layer >= 0 && c.Layer < len(m.layers) && m.layers[c.Layer].CreatedBy != "" {
			lines = append(lines, m.st.Dim.Render("    "+text.CreatedBy(m.layers[c.Layer].CreatedBy)))
		}
	}
	for _, h := range n.Hidden() {
		lines = append(lines, m.st.Marker.Render(fmt.Sprintf("shipped: L%d's version %s by L%d, bytes still in its blob", h.Layer, h.Reason, h.By)))
	}
	return lines
}

// SetSize sets the pane's size, header excluded.
func (m *Model) SetSize(w, h int) {
	m.width = w
	m.cur.SetHeight(h)
}

// SetFocused says whether the pane has the keyboard.
func (m *Model) SetFocused(f bool) { m.focused = f }

// Update scrolls.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	m.cur.Handle(msg, &m.KeyMap.Nav, scroll.Read)
	return m, nil
}

// ShortHelp is the pane's part of the one-line help.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{m.KeyMap.PageDown}
}

// FullHelp is the pane's column of the help screen.
func (m Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.KeyMap.Nav.Bindings()} }

// Title is the pane's header.
func (m Model) Title() string {
	if m.title == "" {
		return "History"
	}
	return m.title
}

// View renders the lines on screen.
func (m Model) View() string {
	from, to := m.cur.Visible()
	out := make([]string, 0, m.cur.Height)
	if len(m.lines) == 0 {
		out = append(out, text.Fit(m.st.Dim.Render(" select a path"), m.width))
	}
	for i := from; i < to; i++ {
		out = append(out, text.Fit(m.lines[i], m.width))
	}
	for len(out) < m.cur.Height {
		out = append(out, strings.Repeat(" ", max(m.width, 0)))
	}
	return strings.Join(out, "\n")
}
