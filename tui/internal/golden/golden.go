// Package golden checks a pane against its golden file: the one helper
// internal/testkit/golden cannot hold, since it needs tui's pane and text
// packages. Everything else (Assert, AssertView, -update, the diff) is
// internal/testkit/golden's.
package golden

import (
	"testing"

	kit "github.com/strata-forensics/strata/internal/testkit/golden"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/text"
)

// AssertPane is kit.AssertView for a pane sized width×height: its title
// on the first line, as the explorer's header shows it, then its view.
func AssertPane(t testing.TB, p pane.Component, width, height int) {
	t.Helper()
	kit.AssertView(t, text.Cut(p.Title(), width)+"\n"+p.View(), width, height+1)
}
