package content

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/styles"
)

func show(data, old []byte, diff bool) string {
	st := styles.Mono()
	m := New(&st)
	m.SetSize(60, 10)
	req := m.Begin("f")
	m, _ = m.Update(LoadedMsg{Req: req, Data: data, Old: old, Diff: diff})
	return m.View()
}

func TestView(t *testing.T) {
	tests := []struct {
		name       string
		data, old  []byte
		diff       bool
		want, deny []string
	}{
		{name: "text", data: []byte("#!/bin/sh\n\techo hi\n"), want: []string{"#!/bin/sh", "    echo hi"}},
		{name: "escape sequences made visible", data: []byte("a\x1b[2Jb\x07c\n"), want: []string{"a^[[2Jb^Gc"}, deny: []string{"\x1b[2J", "\x07"}},
		{name: "binary as hex", data: []byte("\x7fELF\x00\x01\x02"), want: []string{"00000000  7f 45 4c 46 00 01 02", "|.ELF...|"}},
		{name: "diff", diff: true, old: []byte("a\nb\nc\n"), data: []byte("a\nB\nc\nd\n"), want: []string{"  a", "- b", "+ B", "  c", "+ d"}},
		{name: "binary diff falls back to hex", diff: true, old: []byte("a\x00"), data: []byte("b\x00"), want: []string{"00000000  62 00"}},
		{name: "empty", data: nil, want: []string{"(empty)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := show(tc.data, tc.old, tc.diff)
			got := ansi.Strip(raw)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("view lacks %q:\n%s", w, got)
				}
			}
			for _, d := range tc.deny {
				if strings.Contains(raw, d) {
					t.Errorf("view contains %q:\n%q", d, raw)
				}
			}
		})
	}
}

func TestStaleLoadIgnored(t *testing.T) {
	st := styles.Mono()
	m := New(&st)
	m.SetSize(40, 5)
	old := m.Begin("a")
	m.Begin("b")
	m, _ = m.Update(LoadedMsg{Req: old, Data: []byte("stale\n")})
	if strings.Contains(m.View(), "stale") {
		t.Fatal("a superseded read reached the screen")
	}
}

// FuzzView feeds arbitrary bytes (file content comes from a hostile image)
// to the viewer and the differ: no panic, and no control character other
// than the viewer's own styling escapes reaches the terminal.
func FuzzView(f *testing.F) {
	f.Add([]byte("#!/bin/sh\necho\n"), []byte("#!/bin/sh\n"))
	f.Add([]byte("\x1b]52;c;aGk=\x07"), []byte{})
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"), []byte("\xff\xfe"))
	f.Add([]byte("a\r\nb\u009b2J"), []byte("a\nb"))
	f.Fuzz(func(t *testing.T, data, old []byte) {
		for _, diff := range []bool{false, true} {
			got := show(data, old, diff)
			// Mono styles emit only SGR sequences (ESC [ ... m); any other
			// control character came from the data.
			rest := got
			for {
				i := strings.IndexByte(rest, 0x1b)
				if i < 0 {
					break
				}
				j := strings.IndexByte(rest[i:], 'm')
				if j < 0 || !strings.HasPrefix(rest[i:], "\x1b[") || strings.ContainsAny(rest[i+2:i+j], "\x1b\x07") {
					t.Fatalf("raw escape in view: %q", got)
				}
				rest = rest[i+j+1:]
			}
			for _, r := range rest {
				if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
					t.Fatalf("control character %U in view: %q", r, got)
				}
			}
		}
	})
}
