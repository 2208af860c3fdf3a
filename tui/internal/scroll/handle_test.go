package scroll

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/tui/keys"
)

func TestHandle(t *testing.T) {
	nav := keys.DefaultNav()
	press := func(code rune, text string) tea.Msg { return tea.KeyPressMsg{Code: code, Text: text} }
	wheel := func(b tea.MouseButton) tea.Msg { return tea.MouseWheelMsg{Button: b} }
	// Every case starts from 100 rows, 10 on screen, cursor on row 50
	// with rows 45..54 shown.
	tests := []struct {
		name     string
		mode     Mode
		msg      tea.Msg
		consumed bool
		pos, top int
	}{
		{"select down", Select, press(tea.KeyDown, ""), true, 51, 45},
		{"select vim up", Select, press('k', "k"), true, 49, 45},
		{"select page down keeps a row", Select, press(tea.KeyPgDown, ""), true, 59, 50},
		{"select page up", Select, press(tea.KeyPgUp, ""), true, 41, 41},
		{"select wheel moves one row", Select, wheel(tea.MouseWheelDown), true, 51, 45},
		{"select home", Select, press(tea.KeyHome, ""), true, 0, 0},
		{"select end", Select, press(tea.KeyEnd, ""), true, 99, 90},
		{"browse keys move", Browse, press('j', "j"), true, 51, 45},
		{"browse wheel scrolls three", Browse, wheel(tea.MouseWheelDown), true, 50, 48},
		{"browse wheel up drags the cursor", Browse, wheel(tea.MouseWheelUp), true, 50, 42},
		{"read down scrolls", Read, press(tea.KeyDown, ""), true, 50, 46},
		{"read page down turns a screen", Read, press(tea.KeyPgDown, ""), true, 55, 55},
		{"read page up", Read, press(tea.KeyPgUp, ""), true, 44, 35},
		{"read wheel scrolls three", Read, wheel(tea.MouseWheelUp), true, 50, 42},
		{"read home", Read, press('g', "g"), true, 0, 0},
		{"read end", Read, press('G', "G"), true, 99, 90},
		{"other key left alone", Select, press(tea.KeyEnter, ""), false, 50, 45},
		{"horizontal wheel left alone", Browse, wheel(tea.MouseWheelLeft), false, 50, 45},
		{"other message left alone", Read, tea.WindowSizeMsg{Width: 80, Height: 24}, false, 50, 45},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Cursor{Pos: 50, Top: 45, Len: 100, Height: 10}
			if got := c.Handle(tc.msg, &nav, tc.mode); got != tc.consumed {
				t.Errorf("consumed = %v, want %v", got, tc.consumed)
			}
			if c.Pos != tc.pos || c.Top != tc.top {
				t.Errorf("pos, top = %d, %d; want %d, %d", c.Pos, c.Top, tc.pos, tc.top)
			}
		})
	}
}
