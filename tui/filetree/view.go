package filetree

import (
	"fmt"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/internal/text"
)

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
	s := n.State(m.layer)
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
	if s.Introduced >= 0 {
		intro = fmt.Sprintf("L%d", s.Introduced)
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
