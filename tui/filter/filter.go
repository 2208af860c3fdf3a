// Package filter is the explorer's search box: an incremental path query
// typed after "/". The app applies the query to the tree as it changes;
// Enter keeps it (n/N then step through matches), Esc drops it.
//
// It is a few lines rather than bubbles/textinput, which would pull a
// clipboard module into a tool that must stay small and offline.
package filter

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// MaxLen bounds a query.
const MaxLen = 256

// Model is the search box.
type Model struct {
	prompt string
	value  string
	active bool
	width  int
	st     *styles.Styles
	km     *keys.Map
}

// New returns a closed box showing prompt ("/" for search) before the text.
func New(prompt string, st *styles.Styles, km *keys.Map) Model {
	return Model{prompt: prompt, st: st, km: km}
}

// Active reports whether the box has the keyboard.
func (m Model) Active() bool { return m.active }

// Value is the current query.
func (m Model) Value() string { return m.value }

// Open gives the box the keyboard, starting from query.
func (m *Model) Open(query string) {
	m.active = true
	m.value = query
}

// SetWidth sets the box's width.
func (m *Model) SetWidth(w int) { m.width = w }

// Update edits the query. Enter keeps it and closes the box; Esc clears it.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || !m.active {
		return m, nil
	}
	switch {
	case key.Matches(k, m.km.Enter):
		m.active = false
	case key.Matches(k, m.km.Clear):
		m.active = false
		m.value = ""
	case k.String() == "backspace" || k.String() == "ctrl+h":
		if m.value != "" {
			_, n := utf8.DecodeLastRuneInString(m.value)
			m.value = m.value[:len(m.value)-n]
		}
	case k.String() == "ctrl+u":
		m.value = ""
	case k.Text != "" && len(m.value)+len(k.Text) <= MaxLen:
		m.value += strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, k.Text)
	}
	return m, nil
}

// View renders the box on one line.
func (m Model) View() string {
	cursor := ""
	if m.active {
		cursor = m.st.Selected.Render(" ")
	}
	return text.Cut(m.st.HelpKey.Render(m.prompt)+m.value, max(m.width-1, 1)) + cursor
}
