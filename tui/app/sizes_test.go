package app_test

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// Every terminal size, down to nothing, renders without a panic and within
// the terminal, through every pane, the viewer, the help and a prompt.
func TestEverySize(t *testing.T) {
	keys := [][]string{
		nil,
		{"tab"},
		{"tab", "tab"},
		{"tab", "tab", "tab"},
		{"/", "l", "z", "m", "a", "enter", "n", "v"},
		{"?"},
		{"/", "r", "u", "n", "enter", "n", "x"},
		{"H", "D", "s", "z"},
		{"i"},
	}
	for w := 0; w <= 48; w += 3 {
		for h := 0; h <= 14; h++ {
			for _, ks := range keys {
				m := loaded(t, fake.XZ(), 80, 24)
				m, _ = m.Update(tea.WindowSizeMsg{Width: w, Height: h})
				for _, k := range ks {
					var cmd tea.Cmd
					m, cmd = m.Update(press(k))
					if cmd != nil && k == "v" {
						if msg := cmd(); msg != nil {
							m, _ = m.Update(msg)
						}
					}
				}
				v := m.View().Content
				lines := strings.Split(v, "\n")
				if h > 0 && len(lines) > h {
					t.Errorf("%dx%d after %q: %d lines", w, h, ks, len(lines))
				}
				for i, l := range lines {
					if cw := ansi.StringWidth(l); w > 0 && cw > w {
						t.Errorf("%dx%d after %q: line %d is %d cells: %q", w, h, ks, i, cw, ansi.Strip(l))
						break
					}
				}
			}
		}
	}
}

// The help screen shows every key of the tree pane (which has focus) and
// the root on common terminal widths: none is cut off the right edge.
func TestHelpShowsEveryKey(t *testing.T) {
	for _, w := range []int{60, 80, 100, 160} {
		m := loaded(t, fake.XZ(), w, 40)
		m, _ = m.Update(press("?"))
		screen := ansi.Strip(m.View().Content)
		st := styles.Mono()
		tree := filetree.New(filetree.NewIndex(fake.XZ().Tree, nil), &st)
		for _, group := range slices.Concat(tree.FullHelp(), keys.Default().FullHelp()) {
			for _, b := range group {
				if h := b.Help(); !strings.Contains(screen, h.Key) || !strings.Contains(screen, h.Desc) {
					t.Errorf("%d columns: help lacks %q %q:\n%s", w, h.Key, h.Desc, screen)
				}
			}
		}
	}
}
