package filetree

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/styles"
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

type row struct {
	id    int32
	depth int32
}

// Model is the tree pane.
type Model struct {
	KeyMap  KeyMap
	ix      *Index
	layer   int
	filter  Filter
	sortBy  SortBy
	folds   map[string]bool // the person's explicit open (true) or closed choices
	rows    []row
	keep    []bool // when the filter narrows: the path or something below it passes
	hit     []bool // when the filter narrows: the path itself passes
	matches int
	cur     scroll.Cursor
	width   int
	focused bool
	st      *styles.Styles
}

var _ pane.Model[Model] = (*Model)(nil)

// New returns a tree pane over ix showing the final filesystem.
func New(ix *Index, st *styles.Styles) Model {
	m := Model{KeyMap: DefaultKeyMap(), ix: ix, layer: ix.layers - 1, folds: map[string]bool{}, st: st}
	m.rebuild()
	return m
}

// Layer is the layer viewed.
func (m Model) Layer() int { return m.layer }

// Filter is the active filter.
func (m Model) Filter() Filter { return m.filter }

// Sort is the active order.
func (m Model) Sort() SortBy { return m.sortBy }

// Matches is the number of paths that pass a narrowing filter.
func (m Model) Matches() int { return m.matches }

// Rows is the number of rows the pane has (not only those on screen).
func (m Model) Rows() int { return len(m.rows) }

// SetLayer views the filesystem as it stands after layer l.
func (m *Model) SetLayer(l int) {
	if l == m.layer {
		return
	}
	m.layer = l
	m.rebuild()
}

// SetFilter applies a filter.
func (m *Model) SetFilter(f Filter) {
	if f == m.filter {
		return
	}
	m.filter = f
	m.rebuild()
}

// SetQuery sets the filter's path query, leaving its other parts.
func (m *Model) SetQuery(q string) {
	f := m.filter
	f.Query = q
	m.SetFilter(f)
}

// SetSort changes the order of entries within folders.
func (m *Model) SetSort(s SortBy) {
	if s == m.sortBy {
		return
	}
	m.sortBy = s
	m.rebuild()
}

// SetSize sets the pane's size, header excluded.
func (m *Model) SetSize(w, h int) {
	m.width = w
	m.cur.SetHeight(h)
}

// SetFocused says whether the pane has the keyboard.
func (m *Model) SetFocused(f bool) { m.focused = f }

// Selected is the node under the cursor and its state, nil when the pane
// is empty.
func (m Model) Selected() (*tree.Node, State) {
	if len(m.rows) == 0 {
		return nil, State{}
	}
	n := m.ix.nodes[m.rows[m.cur.Pos].id]
	return n, StateAt(n, m.layer)
}

// Select puts the cursor on path p, opening its folders and, when the
// filter hides it, clearing the filter. It reports whether p is shown.
func (m *Model) Select(p string) bool {
	id, ok := m.ix.ids[p]
	if !ok {
		return false
	}
	for a := m.ix.parent[id]; a >= 0; a = m.ix.parent[a] {
		m.folds[m.ix.nodes[a].Path()] = true
	}
	m.rebuild()
	if i := m.rowOf(id); i >= 0 {
		m.cur.To(i)
		return true
	}
	if m.filter.narrows() || !m.filter.ShowDeleted {
		m.filter = Filter{ShowDeleted: true}
		m.rebuild()
	}
	if i := m.rowOf(id); i >= 0 {
		m.cur.To(i)
		return true
	}
	return false
}

func (m Model) rowOf(id int32) int {
	for i, r := range m.rows {
		if r.id == id {
			return i
		}
	}
	return -1
}

// visible reports whether a path is part of the filesystem view at all,
// before narrowing filters.
func (m Model) visible(n *tree.Node, s State) bool {
	if s.Exists || s.Op == tree.Delete {
		return true
	}
	return s.Entry != nil && (m.filter.ShowDeleted || m.filter.DeletedShipped)
}

func (m Model) passes(id int32, n *tree.Node, s State, lower []string, q string) bool {
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

// rebuild recomputes the flattened rows. It runs when the layer, filter,
// sort or folds change, never on cursor movement.
func (m *Model) rebuild() {
	var keepSel int32 = -1
	if len(m.rows) > 0 {
		keepSel = m.rows[m.cur.Pos].id
	}
	m.keep, m.hit, m.matches = nil, nil, 0
	if m.filter.narrows() {
		m.keep = make([]bool, len(m.ix.nodes))
		m.hit = make([]bool, len(m.ix.nodes))
		var lower []string
		q := strings.ToLower(m.filter.Query)
		if q != "" {
			lower = m.ix.lowered()
		}
		for i, n := range m.ix.nodes {
			s := StateAt(n, m.layer)
			if m.visible(n, s) && m.passes(int32(i), n, s, lower, q) {
				m.hit[i], m.keep[i] = true, true
				m.matches++
			}
		}
		for i := len(m.ix.nodes) - 1; i >= 0; i-- {
			if p := m.ix.parent[i]; m.keep[i] && p >= 0 {
				m.keep[p] = true
			}
		}
	}
	m.rows = m.rows[:0]
	m.flatten(m.ix.roots, 0)
	m.cur.SetLen(len(m.rows))
	if keepSel >= 0 {
		// Stay on the same path, or on its nearest shown ancestor.
		for id := keepSel; id >= 0; id = m.ix.parent[id] {
			if i := m.rowOf(id); i >= 0 {
				m.cur.To(i)
				break
			}
		}
	}
}

func (m *Model) flatten(ids []int32, depth int32) {
	if m.sortBy != ByName && len(ids) > 1 {
		ids = m.sorted(ids)
	}
	for _, id := range ids {
		n := m.ix.nodes[id]
		if m.keep != nil {
			if !m.keep[id] {
				continue
			}
		} else if !m.visible(n, StateAt(n, m.layer)) {
			continue
		}
		m.rows = append(m.rows, row{id: id, depth: depth})
		if len(m.ix.kids[id]) > 0 && m.open(id) {
			m.flatten(m.ix.kids[id], depth+1)
		}
	}
}

func (m Model) open(id int32) bool {
	if o, ok := m.folds[m.ix.nodes[id].Path()]; ok {
		return o
	}
	// With a narrowing filter, folders open so that what passes is in view.
	return m.keep != nil
}

func (m Model) sorted(ids []int32) []int32 {
	out := append([]int32(nil), ids...)
	switch m.sortBy {
	case BySize:
		sort.SliceStable(out, func(i, j int) bool { return m.ix.size[out[i]] > m.ix.size[out[j]] })
	case ByLayer:
		sort.SliceStable(out, func(i, j int) bool {
			return StateAt(m.ix.nodes[out[i]], m.layer).Intro < StateAt(m.ix.nodes[out[j]], m.layer).Intro
		})
	}
	return out
}

// NextMatch moves to the next (dir +1) or previous (dir -1) row that
// passes the filter itself, wrapping around.
func (m *Model) NextMatch(dir int) bool {
	if m.hit == nil || len(m.rows) == 0 {
		return false
	}
	n := len(m.rows)
	for k := 1; k <= n; k++ {
		i := ((m.cur.Pos+dir*k)%n + n) % n
		if m.hit[m.rows[i].id] {
			m.cur.To(i)
			return true
		}
	}
	return false
}

// Update handles movement, folding, filter and order keys and the mouse
// wheel. Open folds and unfolds a folder; on a file it does nothing here
// (the explorer opens the file).
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	if m.cur.Handle(msg, &m.KeyMap.Nav, scroll.Browse) {
		return m, nil
	}
	press, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	km, f := m.KeyMap, m.filter
	switch {
	case key.Matches(press, km.Right):
		m.setFold(true)
	case key.Matches(press, km.Left):
		if !m.setFold(false) {
			m.toParent()
		}
	case key.Matches(press, km.Toggle, km.Open):
		m.ToggleSelected()
	case key.Matches(press, km.Changed):
		f.Changed = !f.Changed
	case key.Matches(press, km.FindingsOnly):
		f.Findings = !f.Findings
	case key.Matches(press, km.DeletedShipped):
		f.DeletedShipped = !f.DeletedShipped
	case key.Matches(press, km.Setuid):
		f.Setuid = !f.Setuid
	case key.Matches(press, km.BySize):
		f.MinSize = nextSize(f.MinSize)
	case key.Matches(press, km.ShowDeleted):
		f.ShowDeleted = !f.ShowDeleted
	case key.Matches(press, km.Sort):
		m.SetSort((m.sortBy + 1) % (ByLayer + 1))
	}
	m.SetFilter(f)
	return m, nil
}

// ToggleSelected folds the folder under the cursor if it is open and
// unfolds it if not; on a file it does nothing.
func (m *Model) ToggleSelected() {
	if len(m.rows) > 0 {
		m.setFold(!m.open(m.rows[m.cur.Pos].id))
	}
}

// setFold opens or closes the folder under the cursor; it reports whether
// anything changed.
func (m *Model) setFold(open bool) bool {
	if len(m.rows) == 0 {
		return false
	}
	id := m.rows[m.cur.Pos].id
	if len(m.ix.kids[id]) == 0 || m.open(id) == open {
		return false
	}
	m.folds[m.ix.nodes[id].Path()] = open
	m.rebuild()
	return true
}

func (m *Model) toParent() {
	if len(m.rows) == 0 {
		return
	}
	d := m.rows[m.cur.Pos].depth
	for i := m.cur.Pos - 1; i >= 0; i-- {
		if m.rows[i].depth < d {
			m.cur.To(i)
			return
		}
	}
}

// Title is the pane's header.
func (m Model) Title() string {
	t := fmt.Sprintf("Tree @ layer %d", m.layer)
	if f := m.filter.String(); f != "" {
		t += " [" + f + "]"
	}
	if m.filter.narrows() {
		t += fmt.Sprintf(" %d match", m.matches)
		if m.matches != 1 {
			t += "es"
		}
	}
	if m.sortBy != ByName {
		t += " by " + m.sortBy.String()
	}
	return t
}

// View renders the rows on screen, and only those.
func (m Model) View() string {
	from, to := m.cur.Visible()
	var b strings.Builder
	if len(m.rows) == 0 {
		b.WriteString(text.Fit(m.st.Dim.Render("  (nothing to show)"), m.width))
	}
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte('\n')
		}
		b.WriteString(m.renderRow(i))
	}
	for i := max(to-from, 1); i < m.cur.Height; i++ {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", max(m.width, 0)))
	}
	return b.String()
}

// compactWidth is the pane width below which rows leave out the mode.
const compactWidth = 56

func typeLetter(e *layer.Entry) byte {
	if e == nil {
		return '?'
	}
	switch e.Type {
	case layer.Dir:
		return 'd'
	case layer.Symlink:
		return 'l'
	case layer.Hardlink:
		return 'h'
	case layer.Char:
		return 'c'
	case layer.Block:
		return 'b'
	case layer.FIFO:
		return 'p'
	}
	return '-'
}

func (m Model) renderRow(i int) string {
	r := m.rows[i]
	n := m.ix.nodes[r.id]
	s := StateAt(n, m.layer)
	mark := " "
	switch {
	case m.ix.findings[n.Path()] > 0:
		mark = "!"
	case m.ix.below[n.Path()]:
		mark = "*"
	}
	op := " "
	switch {
	case s.Op == tree.Add:
		op = "+"
	case s.Op == tree.Modify:
		op = "~"
	case s.Op == tree.Delete || !s.Exists:
		op = "-"
	}
	e := s.Entry
	mode, size, intro := "          ", "", ""
	if e != nil {
		mode = text.Mode(typeLetter(e), e.Mode)
		if e.Type == layer.File || e.Type == layer.Hardlink {
			size = text.Size(e.Size)
		} else if e.Type == layer.Dir && m.ix.size[r.id] > 0 {
			size = text.Size(m.ix.size[r.id])
		}
	}
	if s.Intro >= 0 {
		intro = fmt.Sprintf("L%d", s.Intro)
	}
	name := printable.String(path.Base(n.Path()))
	if len(m.ix.kids[r.id]) > 0 {
		if m.open(r.id) {
			name = "▾ " + name + "/"
		} else {
			name = "▸ " + name + "/"
		}
	} else if e != nil && e.Type == layer.Dir {
		name = "  " + name + "/"
	} else {
		name = "  " + name
	}
	if e != nil && (e.Type == layer.Symlink || e.Type == layer.Hardlink) && e.Link != "" {
		name += " → " + printable.String(e.Link)
	}
	var line string
	if m.width < compactWidth {
		// Narrow: the mode goes (the history pane shows it), the name stays.
		line = fmt.Sprintf("%s%s %6s %4s %s%s", mark, op, size, intro, strings.Repeat(" ", int(r.depth)), name)
	} else {
		line = fmt.Sprintf("%s%s %s %6s %4s %s%s", mark, op, mode, size, intro, strings.Repeat("  ", int(r.depth)), name)
	}
	line = text.Fit(line, m.width)
	if i == m.cur.Pos {
		if m.focused {
			return m.st.P.Selected.Render(line)
		}
		return m.st.P.SelectedDim.Render(line)
	}
	switch {
	case s.Op == tree.Add:
		return m.st.P.Added.Render(line)
	case s.Op == tree.Modify:
		return m.st.P.Modified.Render(line)
	case s.Op == tree.Delete || !s.Exists:
		return m.st.P.Deleted.Render(line)
	case m.hit != nil && m.hit[r.id] && m.filter.Query != "":
		return m.st.P.Match.Render(line)
	}
	return line
}
