// Package findings is the explorer's findings pane: every finding with its
// severity, worst first; Enter asks the app to jump to it.
package findings

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// JumpMsg asks to show a finding's path in the tree, at the layer that
// carries it.
type JumpMsg struct{ Finding finding.Finding }

// KeyMap is the findings pane's keys.
type KeyMap struct {
	keys.Nav
	Jump key.Binding
}

// DefaultKeyMap is the findings pane's default key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{Nav: keys.DefaultNav(), Jump: keys.Bind("enter", "show in the tree", "enter")}
}

// Model is the findings pane.
type Model struct {
	KeyMap  KeyMap
	fs      []finding.Finding
	cur     scroll.Cursor
	width   int
	focused bool
	st      *styles.Styles
}

var _ pane.Model[Model] = (*Model)(nil)

// New returns a findings pane, worst first, otherwise in report order.
func New(fs []finding.Finding, st *styles.Styles) Model {
	fs = append([]finding.Finding(nil), fs...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity })
	m := Model{KeyMap: DefaultKeyMap(), fs: fs, st: st}
	m.cur.SetLen(len(fs))
	return m
}

// Len is the number of findings.
func (m Model) Len() int { return len(m.fs) }

// Selected is the finding under the cursor.
func (m Model) Selected() (finding.Finding, bool) {
	if len(m.fs) == 0 {
		return finding.Finding{}, false
	}
	return m.fs[m.cur.Pos], true
}

// SetSize sets the pane's size, header excluded.
func (m *Model) SetSize(w, h int) {
	m.width = w
	m.cur.SetHeight(h)
}

// SetFocused says whether the pane has the keyboard.
func (m *Model) SetFocused(f bool) { m.focused = f }

// Update moves the cursor; Jump returns a command yielding JumpMsg.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	if m.cur.Handle(msg, &m.KeyMap.Nav, scroll.Select) {
		return m, nil
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && key.Matches(msg, m.KeyMap.Jump) {
		if f, ok := m.Selected(); ok {
			return m, func() tea.Msg { return JumpMsg{Finding: f} }
		}
	}
	return m, nil
}

// ShortHelp is the pane's part of the one-line help.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{m.KeyMap.Jump}
}

// FullHelp is the pane's column of the help screen.
func (m Model) FullHelp() [][]key.Binding {
	return [][]key.Binding{append(m.KeyMap.Nav.Bindings(), m.KeyMap.Jump)}
}

// Title is the pane's header.
func (m Model) Title() string {
	if w, ok := finding.Worst(m.fs); ok {
		return fmt.Sprintf("Findings (%d, worst %s)", len(m.fs), w)
	}
	return "Findings (none)"
}

// View renders the rows on screen.
func (m Model) View() string {
	from, to := m.cur.Visible()
	lines := make([]string, 0, m.cur.Height)
	if len(m.fs) == 0 {
		lines = append(lines, text.Fit(m.st.Dim.Render(" no findings"), m.width))
	}
	for i := from; i < to; i++ {
		f := m.fs[i]
		where := printable.String(f.Path)
		if where == "" {
			where = printable.String(f.Image)
		}
		layer := "  -"
		switch {
		case f.Writable:
			layer = "rw " // a container's writable layer
		case f.Layer >= 0:
			layer = fmt.Sprintf("L%-2d", f.Layer)
		}
		line := text.Fit(fmt.Sprintf(" %-8s %s %s", strings.ToUpper(f.Severity.String()), layer, where), m.width)
		switch {
		case i == m.cur.Pos && m.focused:
			line = m.st.P.Selected.Render(line)
		case i == m.cur.Pos:
			line = m.st.P.SelectedDim.Render(line)
		default:
			line = m.st.P.Severity[min(max(int(f.Severity), 0), len(m.st.P.Severity)-1)].Render(line)
		}
		lines = append(lines, line)
	}
	for len(lines) < m.cur.Height {
		lines = append(lines, strings.Repeat(" ", max(m.width, 0)))
	}
	return strings.Join(lines, "\n")
}
