package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
)

// An image's strings reach the screen in caret notation, never as the
// control sequences they carry: in the title, the layers, the tree (names
// and link targets), the findings and the details.
func TestHostileStringsArePrintable(t *testing.T) {
	for _, ks := range [][]string{
		nil,
		{"right"},                    // the tree opens /etc: the file and the link
		{"right", "down"},            // the file's history in the details
		{"right", "down", "down"},    // the link's
		{"tab"},                      // the findings pane
		{"tab", "enter"},             // a finding's path in the tree and its message
		{"tab", "tab", "tab", "tab"}, // the layers pane: the layer's details
		{"tab", "tab", "tab", "tab", "enter"},
		{"right", "down", "v"}, // the viewer's title names the file
		{"right", "down", "d"}, // a status line naming it: no earlier version
	} {
		m := loaded(t, fake.Hostile(), 150, 30)
		for _, k := range ks {
			m, _ = m.Update(press(k))
		}
		v := m.View().Content
		for _, bad := range []string{"\x1b]", "\x07", "\x1b[31m", "\x1b[2J"} {
			if strings.Contains(v, bad) {
				t.Errorf("after %q the screen holds %q:\n%q", ks, bad, v)
			}
		}
		if !strings.Contains(v, "^[]0;PWNED^G^[[31mred^[[2J") {
			t.Errorf("after %q the screen does not show the sequence in caret notation:\n%s", ks, v)
		}
	}
}

// An error naming a member of a hostile input is shown printable too.
func TestHostileErrorIsPrintable(t *testing.T) {
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		return nil, errors.New("blobs/sha256/evil\x1b]0;PWNED\x07: digest mismatch")
	}
	v := loadedWith(t, load, 100, 20).View().Content
	if strings.ContainsAny(v, "\x07") || strings.Contains(v, "\x1b]") || !strings.Contains(v, "evil^[]0;PWNED^G: digest mismatch") {
		t.Errorf("error screen:\n%q", v)
	}
}
