// Package pane is what the explorer's panes have in common, after
// soft-serve's common.Component: the root lays a pane out, sizes it, gives
// it the keyboard and shows its keys through Component, and hands it
// messages through its own Update.
package pane

import (
	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// Component is a pane as the root sees it whatever its kind: a header
// title, a view of exactly the size set, a focus flag (the cursor row
// shows whether the pane has the keyboard) and its keys for the help,
// which follows focus.
type Component interface {
	Title() string
	View() string
	SetSize(width, height int)
	SetFocused(focused bool)
	help.KeyMap
}

// Model is a Component with its Update. M is the pane's own model type,
// so the root writes m.tree, cmd = m.tree.Update(msg) with no type
// assertion. Every pane checks that it is one:
//
//	var _ pane.Model[Model] = (*Model)(nil)
type Model[M any] interface {
	Component
	Update(msg tea.Msg) (M, tea.Cmd)
}
