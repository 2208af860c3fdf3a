// Package prompt is the explorer's one-line prompt: the path search typed
// after "/", applied to the tree as it changes, and the extract
// destination. Accept (Enter) keeps the text and closes the prompt; Cancel
// (Esc) drops it.
//
// It is a few lines rather than bubbles/textinput, which would pull a
// clipboard module into a tool that must stay small and offline.
package prompt

import (
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// MaxLen bounds the text.
const MaxLen = 256

// KeyMap is the prompt's keys; any other key with text types it.
type KeyMap struct {
	Accept, Cancel, Erase, EraseAll key.Binding
}

// DefaultKeyMap is the prompt's default key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Accept:   keys.Bind("enter", "keep", "enter"),
		Cancel:   keys.Bind("esc", "drop", "esc"),
		Erase:    keys.Bind("backspace", "erase a character", "backspace", "ctrl+h"),
		EraseAll: keys.Bind("ctrl+u", "erase all", "ctrl+u"),
	}
}

// Model is the prompt.
type Model struct {
	KeyMap KeyMap
	label  string
	value  string
	active bool
	width  int
	st     *styles.Styles
}

// New returns a closed prompt showing label ("/" for search) before the
// text.
func New(label string, st *styles.Styles) Model {
	return Model{KeyMap: DefaultKeyMap(), label: label, st: st}
}

// Active reports whether the prompt has the keyboard.
func (m Model) Active() bool { return m.active }

// Value is the current text.
func (m Model) Value() string { return m.value }

// Open gives the prompt the keyboard, starting from value.
func (m *Model) Open(value string) {
	m.active = true
	m.value = value
}

// Accepts reports whether k, given to an open prompt, accepts its text.
func (m Model) Accepts(k tea.KeyPressMsg) bool {
	return m.active && key.Matches(k, m.KeyMap.Accept)
}

// SetWidth sets the prompt's width.
func (m *Model) SetWidth(w int) { m.width = w }

// Update edits the text.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || !m.active {
		return m, nil
	}
	switch {
	case key.Matches(k, m.KeyMap.Accept):
		m.active = false
	case key.Matches(k, m.KeyMap.Cancel):
		m.active = false
		m.value = ""
	case key.Matches(k, m.KeyMap.Erase):
		if m.value != "" {
			_, n := utf8.DecodeLastRuneInString(m.value)
			m.value = m.value[:len(m.value)-n]
		}
	case key.Matches(k, m.KeyMap.EraseAll):
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

// View renders the prompt on one line.
func (m Model) View() string {
	cursor := ""
	if m.active {
		cursor = m.st.Selected.Render(" ")
	}
	return text.Cut(m.st.HelpKey.Render(m.label)+m.value, max(m.width-1, 1)) + cursor
}
