package filetree

import (
	"charm.land/bubbles/v2/key"

	"github.com/strata-forensics/strata/tui/keys"
)

// KeyMap is the tree pane's keys: movement, folding, and the filters and
// order, which the explorer hands to the pane from whichever pane has
// focus (Filters).
type KeyMap struct {
	keys.Nav
	Left, Right, Toggle, Open key.Binding

	Changed, FindingsOnly, DeletedShipped key.Binding
	Setuid, BySize, ShowDeleted, Sort     key.Binding
}

// DefaultKeyMap is the tree pane's default key map.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Nav:            keys.DefaultNav(),
		Left:           keys.Bind("←/h", "collapse/parent", "left", "h"),
		Right:          keys.Bind("→/l", "expand", "right", "l"),
		Toggle:         keys.Bind("space", "fold/unfold", "space"),
		Open:           keys.Bind("enter", "open file/fold", "enter"),
		Changed:        keys.Bind("c", "layer changes only", "c"),
		FindingsOnly:   keys.Bind("f", "findings only", "f"),
		DeletedShipped: keys.Bind("D", "deleted but shipped", "D"),
		Setuid:         keys.Bind("u", "setuid/setgid", "u"),
		BySize:         keys.Bind("z", "size ≥ 1M/10M/100M", "z"),
		ShowDeleted:    keys.Bind("H", "show deleted", "H"),
		Sort:           keys.Bind("s", "sort name/size/layer", "s"),
	}
}

// Filters are the keys that change what the pane shows and in what order,
// rather than where its cursor is.
func (km KeyMap) Filters() []key.Binding {
	return []key.Binding{km.Changed, km.FindingsOnly, km.DeletedShipped, km.Setuid, km.BySize, km.ShowDeleted, km.Sort}
}

// ShortHelp is the pane's part of the one-line help.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{m.KeyMap.Changed, m.KeyMap.FindingsOnly}
}

// FullHelp is the pane's columns of the help screen.
func (m Model) FullHelp() [][]key.Binding {
	km := m.KeyMap
	return [][]key.Binding{
		append(km.Nav.Bindings(), km.Left, km.Right, km.Toggle, km.Open),
		km.Filters(),
	}
}
