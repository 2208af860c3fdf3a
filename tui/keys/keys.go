// Package keys defines the explorer's key bindings as data, shown through
// bubbles/help.
package keys

import "charm.land/bubbles/v2/key"

// Map is every binding of the explorer.
type Map struct {
	Up, Down, PageUp, PageDown, Home, End key.Binding
	Left, Right, Toggle, Enter            key.Binding
	NextPane, PrevPane                    key.Binding
	Search, Next, Prev, Clear             key.Binding
	Changed, FindingsOnly, DeletedShipped key.Binding
	Setuid, BySize, ShowDeleted, Sort     key.Binding
	View, Diff, Extract, NextImage        key.Binding
	Integrity                             key.Binding
	Help, Quit                            key.Binding
}

// Default is the default key map: arrows and vim keys both work.
func Default() Map {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return Map{
		Up:             b("↑/k", "up", "up", "k"),
		Down:           b("↓/j", "down", "down", "j"),
		PageUp:         b("pgup", "page up", "pgup", "ctrl+b", "ctrl+u"),
		PageDown:       b("pgdn", "page down", "pgdown", "ctrl+f", "ctrl+d"),
		Home:           b("home/g", "first", "home", "g"),
		End:            b("end/G", "last", "end", "G"),
		Left:           b("←/h", "collapse/parent", "left", "h"),
		Right:          b("→/l", "expand", "right", "l"),
		Toggle:         b("space", "fold/unfold", "space"),
		Enter:          b("enter", "open/jump", "enter"),
		NextPane:       b("tab", "next pane", "tab"),
		PrevPane:       b("shift+tab", "previous pane", "shift+tab"),
		Search:         b("/", "search paths", "/"),
		Next:           b("n", "next match", "n"),
		Prev:           b("N", "previous match", "N"),
		Clear:          b("esc", "clear/close", "esc"),
		Changed:        b("c", "layer changes only", "c"),
		FindingsOnly:   b("f", "findings only", "f"),
		DeletedShipped: b("D", "deleted but shipped", "D"),
		Setuid:         b("u", "setuid/setgid", "u"),
		BySize:         b("z", "size ≥ 1M/10M/100M", "z"),
		ShowDeleted:    b("H", "show deleted", "H"),
		Sort:           b("s", "sort name/size/layer", "s"),
		View:           b("v", "view content", "v"),
		Diff:           b("d", "diff with previous", "d"),
		Extract:        b("x", "extract file", "x"),
		NextImage:      b("I", "next image", "I"),
		Integrity:      b("i", "integrity problems", "i"),
		Help:           b("?", "help", "?"),
		Quit:           b("q", "quit", "q", "ctrl+c"),
	}
}

// ShortHelp is the one-line help at the bottom.
func (m Map) ShortHelp() []key.Binding {
	return []key.Binding{m.NextPane, m.Search, m.Changed, m.FindingsOnly, m.View, m.Help, m.Quit}
}

// FullHelp is every binding, in columns.
func (m Map) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.Up, m.Down, m.PageUp, m.PageDown, m.Home, m.End, m.Left, m.Right, m.Toggle},
		{m.Enter, m.NextPane, m.PrevPane, m.Search, m.Next, m.Prev, m.Clear, m.Help, m.Quit},
		{m.Changed, m.FindingsOnly, m.DeletedShipped, m.Setuid, m.BySize, m.ShowDeleted, m.Sort},
		{m.View, m.Diff, m.Extract, m.NextImage, m.Integrity},
	}
}
