package app_test

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// The wheel scrolls the pane under the pointer, whichever has the
// keyboard: over the layers it steps the layer, and the tree follows.
func TestWheel(t *testing.T) {
	s := start(t, 100, 30)
	s.tm.Send(tea.MouseWheelMsg{X: 3, Y: 3, Button: tea.MouseWheelUp})
	s.waitFor("Tree @ layer 1")
	s.tm.Send(tea.MouseWheelMsg{X: 3, Y: 3, Button: tea.MouseWheelUp})
	s.waitFor("Tree @ layer 0")
	s.tm.Send(tea.MouseWheelMsg{X: 3, Y: 3, Button: tea.MouseWheelDown})
	s.waitFor("Tree @ layer 1")
	// The keyboard stayed with the tree: right opens a folder.
	s.keys("right")
	s.waitFor("▾")
	// Over the tree the wheel moves the tree, not the layer.
	s.tm.Send(tea.MouseWheelMsg{X: 70, Y: 5, Button: tea.MouseWheelDown})
	if got := s.final(); !strings.Contains(got, "Tree @ layer 1") {
		t.Errorf("the layer moved with the tree's wheel:\n%s", got)
	}
}
