package scroll

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/tui/keys"
)

// Mode says what the movement keys and the mouse wheel do in a pane.
type Mode int

const (
	// Select: keys move the selection and one wheel notch moves it one row,
	// for short lists where the wheel picks (layers, findings).
	Select Mode = iota
	// Browse: keys move the selection; the wheel scrolls the view three rows
	// and the selection follows only to stay on screen, for long lists (the
	// file tree).
	Browse
	// Read: keys and wheel scroll the view, as in a pager; nothing is
	// selected (details, content).
	Read
)

// wheelRows is how far one wheel notch scrolls a view.
const wheelRows = 3

// Handle applies the movement keys of nav and the mouse wheel to c the way
// mode says. It reports whether msg was one of them, so a pane handles its
// own keys only when it was not.
func (c *Cursor) Handle(msg tea.Msg, nav *keys.Nav, mode Mode) bool {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		var d int
		switch msg.Button {
		case tea.MouseWheelUp:
			d = -1
		case tea.MouseWheelDown:
			d = 1
		default:
			return false
		}
		if mode == Select {
			c.Move(d)
		} else {
			c.Scroll(d * wheelRows)
		}
		return true
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, nav.Up):
			c.step(-1, mode)
		case key.Matches(msg, nav.Down):
			c.step(1, mode)
		case key.Matches(msg, nav.PageUp):
			c.page(-1, mode)
		case key.Matches(msg, nav.PageDown):
			c.page(1, mode)
		case key.Matches(msg, nav.Home):
			c.To(0)
		case key.Matches(msg, nav.End):
			c.To(c.Len - 1)
		default:
			return false
		}
		return true
	}
	return false
}

func (c *Cursor) step(d int, mode Mode) {
	if mode == Read {
		c.Scroll(d)
		return
	}
	c.Move(d)
}

func (c *Cursor) page(dir int, mode Mode) {
	if mode == Read {
		// A pager turns a whole screen; a selection keeps one row of
		// context (Page).
		c.Scroll(dir * c.Height)
		return
	}
	c.Page(dir)
}
