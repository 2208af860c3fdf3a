// Package keys defines the explorer's key bindings as data, shown through
// bubbles/help: the movement keys every pane shares (Nav) and the root's own
// keys (Map), which work whichever pane has focus. A pane's other keys are
// its own KeyMap, defined beside the code that handles them.
package keys

import "charm.land/bubbles/v2/key"

// Bind binds keys, with help: the keys as shown and what they do.
func Bind(help, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// Nav moves a pane's cursor, or its view in a pane that reads text.
type Nav struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
}

// DefaultNav is the default movement: arrows and vim keys both work.
func DefaultNav() Nav {
	return Nav{
		Up:       Bind("↑/k", "up", "up", "k"),
		Down:     Bind("↓/j", "down", "down", "j"),
		PageUp:   Bind("pgup", "page up", "pgup", "ctrl+b", "ctrl+u"),
		PageDown: Bind("pgdn", "page down", "pgdown", "ctrl+f", "ctrl+d"),
		Home:     Bind("home/g", "first", "home", "g"),
		End:      Bind("end/G", "last", "end", "G"),
	}
}

// Bindings lists the movement keys, for a help column.
func (n Nav) Bindings() []key.Binding {
	return []key.Binding{n.Up, n.Down, n.PageUp, n.PageDown, n.Home, n.End}
}

// Map is the root's keys: focus, search, what acts on the tree's selection
// (view, diff, extract), the image, help and quit.
type Map struct {
	NextPane, PrevPane        key.Binding
	Search, Next, Prev, Clear key.Binding
	View, Diff, Extract       key.Binding
	NextImage, Integrity      key.Binding
	Help, Quit                key.Binding
}

// Default is the root's default key map.
func Default() Map {
	return Map{
		NextPane:  Bind("tab", "next pane", "tab"),
		PrevPane:  Bind("shift+tab", "previous pane", "shift+tab"),
		Search:    Bind("/", "search paths", "/"),
		Next:      Bind("n", "next match", "n"),
		Prev:      Bind("N", "previous match", "N"),
		Clear:     Bind("esc", "clear/close", "esc"),
		View:      Bind("v", "view content", "v"),
		Diff:      Bind("d", "diff with previous", "d"),
		Extract:   Bind("x", "extract file", "x"),
		NextImage: Bind("I", "next image", "I"),
		Integrity: Bind("i", "integrity problems", "i"),
		Help:      Bind("?", "help", "?"),
		Quit:      Bind("q", "quit", "q", "ctrl+c"),
	}
}

// ShortHelp is the root's part of the one-line help, after the focused
// pane's.
func (m Map) ShortHelp() []key.Binding {
	return []key.Binding{m.NextPane, m.Search, m.View, m.Help, m.Quit}
}

// FullHelp is the root's columns of the help screen, after the focused
// pane's.
func (m Map) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.NextPane, m.PrevPane, m.Search, m.Next, m.Prev, m.Clear, m.Help, m.Quit},
		{m.View, m.Diff, m.Extract, m.NextImage, m.Integrity},
	}
}
