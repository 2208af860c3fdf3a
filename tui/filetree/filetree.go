package filetree

import (
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/styles"
)

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
func (m Model) Selected() (*tree.Node, tree.State) {
	if len(m.rows) == 0 {
		return nil, tree.State{}
	}
	n := m.ix.nodes[m.rows[m.cur.Pos].id]
	return n, n.State(m.layer)
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
			s := n.State(m.layer)
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
		} else if !m.visible(n, n.State(m.layer)) {
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
			return m.ix.nodes[out[i]].State(m.layer).Introduced < m.ix.nodes[out[j]].State(m.layer).Introduced
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
