package printable

import (
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/lib/liblzma.so.5", "/usr/lib/liblzma.so.5"},
		{"", ""},
		{"日本語 café", "日本語 café"},
		{"evil\x1b]0;PWNED\x07\x1b[31mred", "evil^[]0;PWNED^G^[[31mred"},
		{"clear\x1b[2J", "clear^[[2J"},
		{"a\tb\nc\rd", "a^Ib^Jc^Md"},
		{"nul\x00del\x7f", "nul^@del^?"},
		{"c1\u009b31m", `c1\u009b31m`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"cut\xe6\x97", `cut\xe6\x97`},
	}
	for _, tc := range tests {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	in := "line one\n\tline two \x1b[2J\rover"
	if got, want := Text(in), "line one\n\tline two ^[[2J^Mover"; got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
	if got := Text("plain\ntext\n"); got != "plain\ntext\n" {
		t.Errorf("Text changed clean text: %q", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("evil\x1b]0;x\x07")
	f.Add("bad\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) {
				t.Fatalf("String(%q) = %q: control character %U left", s, out, r)
			}
		}
		if clean(s, false) != (out == s) {
			t.Fatalf("String(%q) = %q changed a clean string or kept a dirty one", s, out)
		}
	})
}
