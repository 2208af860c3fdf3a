// Package golden compares test output with committed files, golden files
// under a package's testdata/, and rewrites them when tests run with
// -update (go test ./PKG -update). It is the repository's one golden
// helper, for forensics, tui and fixtures tests alike (tui/internal/golden
// adds the pane-shaped assertion on top of it). Only tests import it.
//
// The -update flag is the one github.com/charmbracelet/x/exp/golden
// registers: teatest imports that package and a second registration of
// the name would panic, so this package imports it too and every test
// binary, with teatest or without, has that one flag. A test must not
// register its own -update; it asks [Updating].
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	_ "github.com/charmbracelet/x/exp/golden" // registers -update
)

// Updating reports whether the tests run with -update: golden files, and
// any other committed output a test regenerates, are to be rewritten
// rather than compared.
func Updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	return ok && g.Get() == true
}

// Path is testdata/<test name>.golden; a subtest's name becomes a folder.
func Path(t testing.TB) string {
	return filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
}

// Assert compares got with the file at path, byte for byte, and reports a
// difference as a [Diff]; under -update it writes got there instead
// (creating folders, and leaving a file that already holds got alone).
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if Updating() {
		if err == nil && bytes.Equal(want, got) {
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after checking the change):\n%s", path, Diff(want, got))
	}
}

// AssertView checks that a terminal view is height lines of at most width
// cells, then compares it as plain text (styles stripped, trailing blanks
// trimmed, as a screen reads) with Path(t).
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
	Assert(t, Path(t), []byte(strings.Join(lines, "\n")+"\n"))
}

// Diff limits: lines of context around a change, lines shown in all, and
// the size of the table that pairs up the lines between the first and the
// last change (beyond it, those lines are shown as all removed, then all
// added).
const (
	diffContext  = 3
	diffMaxLines = 60
	diffMaxCells = 1 << 22
	diffMaxLine  = 240
)

// Diff shows how got differs from want as a unified diff of their lines:
// hunks headed @@ -line,count +line,count @@, want's lines marked -, got's
// +, three lines of context. Golden files can be long, so it stops after
// some 60 lines, by which the first change has been shown. A line with
// control characters, invalid UTF-8 or trailing blanks is shown quoted; a
// last line without its newline is followed by a note saying so.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return "(no difference)"
	}
	a, b := splitLines(want), splitLines(got)
	ops := lineEdits(a, b)
	var out strings.Builder
	out.WriteString("--- want\n+++ got\n")
	shown := 0
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: context before, then changes while the next one is
		// within two contexts of the last, then context after.
		start := max(0, i-diffContext)
		end := i
		for j := i; j < len(ops) && j <= end+2*diffContext; j++ {
			if ops[j].kind != ' ' {
				end = j
			}
		}
		end = min(len(ops), end+diffContext+1)
		hunk := ops[start:end]
		var na, nb int
		for _, o := range hunk {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(hunk[0].a, na), hunkRange(hunk[0].b, nb))
		for _, o := range hunk {
			if shown == diffMaxLines {
				fmt.Fprintf(&out, "… (diff cut at %d lines)", diffMaxLines)
				return out.String()
			}
			shown++
			var l string
			if o.kind == '+' {
				l = b[o.b]
			} else {
				l = a[o.a]
			}
			out.WriteByte(o.kind)
			out.WriteString(showLine(l))
			out.WriteByte('\n')
			if !strings.HasSuffix(l, "\n") {
				out.WriteString("\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// splitLines cuts s after each newline; a last line without one keeps none.
func splitLines(s []byte) []string {
	l := strings.SplitAfter(string(s), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// edit is one line of a diff: kind ' ' (in both), '-' (want only) or '+'
// (got only); a and b are its line's index in want and in got (for a line
// in one only, the index the other is at).
type edit struct {
	kind byte
	a, b int
}

// lineEdits turns a into b line by line. The lines both start and end with
// are kept; those between are paired by a longest common subsequence when
// the table fits diffMaxCells.
func lineEdits(a, b []string) []edit {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	var ops []edit
	for i := range p {
		ops = append(ops, edit{' ', i, i})
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if n, m := len(ma), len(mb); n*m > 0 && n*m <= diffMaxCells {
		// lcs[i*(m+1)+j] is the longest common subsequence of ma[i:], mb[j:].
		lcs := make([]int32, (n+1)*(m+1))
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*(m+1)+j] = lcs[(i+1)*(m+1)+j+1] + 1
				} else {
					lcs[i*(m+1)+j] = max(lcs[(i+1)*(m+1)+j], lcs[i*(m+1)+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, edit{' ', p + i, p + j})
				i, j = i+1, j+1
			case j == m || i < n && lcs[(i+1)*(m+1)+j] >= lcs[i*(m+1)+j+1]:
				ops = append(ops, edit{'-', p + i, p + j})
				i++
			default:
				ops = append(ops, edit{'+', p + i, p + j})
				j++
			}
		}
	} else {
		for i := range ma {
			ops = append(ops, edit{'-', p + i, p})
		}
		for j := range mb {
			ops = append(ops, edit{'+', p + len(ma), p + j})
		}
	}
	for k := range s {
		ops = append(ops, edit{' ', len(a) - s + k, len(b) - s + k})
	}
	return ops
}

// hunkRange is a hunk header's line,count for lines from index first; an
// empty range names the line before it, as diff -u does.
func hunkRange(first, n int) string {
	if n == 0 {
		return strconv.Itoa(first) + ",0"
	}
	return strconv.Itoa(first+1) + "," + strconv.Itoa(n)
}

// showLine is a line as a diff shows it: without its newline, quoted when
// a terminal would hide or garble part of it, cut when very long.
func showLine(l string) string {
	l = strings.TrimSuffix(l, "\n")
	if len(l) > diffMaxLine {
		cut := diffMaxLine
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		l = l[:cut] + "…"
	}
	if !utf8.ValidString(l) || strings.HasSuffix(l, " ") || strings.HasSuffix(l, "\t") ||
		strings.ContainsFunc(l, func(r rune) bool { return r != '\t' && !unicode.IsPrint(r) }) {
		return strconv.Quote(l)
	}
	return l
}
