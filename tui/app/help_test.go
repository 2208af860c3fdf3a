package app_test

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/internal/fake"
)

// The help follows focus: the bottom line leads with the focused pane's
// keys, then the root's; the help screen lists the focused pane's keys,
// then the root's.
func TestHelpFollowsFocus(t *testing.T) {
	tests := []struct {
		keys       []string
		bar        string // the bottom line starts with it
		screen     string // on the help screen
		screenNot  string // not on it: another pane's
		rootOnHelp string
	}{
		{nil, "c layer changes only • f findings only • tab next pane", "collapse/parent", "browse its tree", "integrity problems"},
		{[]string{"tab"}, "enter show in the tree • tab next pane", "show in the tree", "collapse/parent", "integrity problems"},
		{[]string{"tab", "tab"}, "pgdn page down • tab next pane", "page down", "collapse/parent", "integrity problems"},
		{[]string{"shift+tab"}, "enter browse its tree • tab next pane", "browse its tree", "layer changes only", "integrity problems"},
		// The viewer takes the tree's place: Esc closes it.
		{[]string{"right", "down", "enter"}, "pgdn page down • esc clear/close • tab next pane", "page down", "collapse/parent", "integrity problems"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.keys, " "), func(t *testing.T) {
			m := loaded(t, fake.XZ(), 160, 30)
			for _, k := range tc.keys {
				m = run(m, press(k))
			}
			lines := strings.Split(ansi.Strip(m.View().Content), "\n")
			if bar := lines[len(lines)-1]; !strings.HasPrefix(bar, tc.bar) {
				t.Errorf("bottom line %q, want it to start %q", bar, tc.bar)
			}
			m, _ = m.Update(press("?"))
			screen := ansi.Strip(m.View().Content)
			for _, want := range []string{tc.screen, tc.rootOnHelp} {
				if !strings.Contains(screen, want) {
					t.Errorf("help screen lacks %q:\n%s", want, screen)
				}
			}
			if strings.Contains(screen, tc.screenNot) {
				t.Errorf("help screen has another pane's %q:\n%s", tc.screenNot, screen)
			}
		})
	}
}

// The tree's filter keys work from every pane: the tree takes them and
// the keyboard.
func TestFilterKeysFromEveryPane(t *testing.T) {
	for _, k := range []string{"tab", "shift+tab"} {
		m := loaded(t, fake.XZ(), 100, 30)
		m = run(m, press(k))
		m = run(m, press("u"))
		m = run(m, press("s"))
		screen := ansi.Strip(m.View().Content)
		if !strings.Contains(screen, "Tree @ layer 2 [setuid] 1 match by size") {
			t.Errorf("after %s u s:\n%s", k, screen)
		}
		// The tree has the keyboard: down moves its cursor to passwd.
		m = run(m, press("down"))
		m = run(m, press("down"))
		if screen := ansi.Strip(m.View().Content); !strings.Contains(screen, "/usr/bin/passwd") {
			t.Errorf("after %s u s down down the details do not show passwd:\n%s", k, screen)
		}
	}
}

// run updates m with msg and with what its command yields, once.
func run(m tea.Model, msg tea.Msg) tea.Model {
	m, cmd := m.Update(msg)
	if cmd != nil {
		if next := cmd(); next != nil {
			if _, batch := next.(tea.BatchMsg); !batch {
				m, _ = m.Update(next)
			}
		}
	}
	return m
}
