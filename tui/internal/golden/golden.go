// Package golden compares test output with files under testdata, rewriting
// them when tests run with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	_ "github.com/charmbracelet/x/exp/golden"

	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/text"
)

// updating reports whether -update was given. The flag is the one
// charmbracelet/x/exp/golden registers (teatest brings it in, and a
// second registration would panic), so it is imported here for its flag.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Assert compares got with testdata/<test name>.golden (a subtest's name
// becomes a folder), or writes the file under -update.
func Assert(t testing.TB, got string) {
	t.Helper()
	file := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

// AssertView checks that a component's view is height lines of at most
// width cells, then compares it as plain text (styles stripped, trailing
// blanks trimmed, as a screen reads) with its golden file.
func AssertView(t testing.TB, view string, width, height int) {
	t.Helper()
	lines := strings.Split(ansi.Strip(view), "\n")
	if len(lines) != height {
		t.Errorf("view is %d lines, want %d", len(lines), height)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("line %d is %d cells, more than %d: %q", i, w, width, l)
		}
		lines[i] = strings.TrimRight(l, " ")
	}
	Assert(t, strings.Join(lines, "\n")+"\n")
}

// AssertPane is AssertView for a pane sized width×height: its title on
// the first line, as the explorer's header shows it, then its view.
func AssertPane(t testing.TB, p pane.Component, width, height int) {
	t.Helper()
	AssertView(t, text.Cut(p.Title(), width)+"\n"+p.View(), width, height+1)
}
