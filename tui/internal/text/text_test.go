package text

import (
	"io/fs"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{512, "512"},
		{1023, "1023"},
		{1024, "1.0K"},
		{1536, "1.5K"},
		{10*1024 - 52, "9.9K"},
		// Rounding never yields "10.0K" or "1024K": the next width or unit.
		{10*1024 - 1, "10K"},
		{100 * 1024, "100K"},
		{1<<20 - 1, "1.0M"},
		{1 << 20, "1.0M"},
		{34 << 20, "34M"},
		{1<<30 - 1, "1.0G"},
		{5 << 40, "5.0T"},
		{3 << 50, "3.0P"},
		{1<<63 - 1, "8.0E"},
	}
	for _, tc := range tests {
		got := Size(tc.n)
		if got != tc.want {
			t.Errorf("Size(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if len(got) > 5 {
			t.Errorf("Size(%d) = %q, more than five cells", tc.n, got)
		}
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		typ  byte
		m    fs.FileMode
		want string
	}{
		{'-', 0o644, "-rw-r--r--"},
		{'d', 0o755, "drwxr-xr-x"},
		{'l', 0o777, "lrwxrwxrwx"},
		{'-', 0o4755, "-rwxr-xr-x"}, // Unix bits above 0o777 are not Go's setuid
		{'-', 0o755 | fs.ModeSetuid, "-rwsr-xr-x"},
		{'-', 0o644 | fs.ModeSetuid, "-rwSr--r--"},
		{'-', 0o755 | fs.ModeSetgid, "-rwxr-sr-x"},
		{'-', 0o745 | fs.ModeSetgid, "-rwxr-Sr-x"},
		{'d', 0o777 | fs.ModeSticky, "drwxrwxrwt"},
		{'d', 0o776 | fs.ModeSticky, "drwxrwxrwT"},
		{'-', 0, "----------"},
	}
	for _, tc := range tests {
		if got := Mode(tc.typ, tc.m); got != tc.want {
			t.Errorf("Mode(%c, %v) = %q, want %q", tc.typ, tc.m, got, tc.want)
		}
	}
}

func TestFitAndCut(t *testing.T) {
	tests := []struct {
		s        string
		width    int
		fit, cut string
	}{
		{"abc", 5, "abc  ", "abc"},
		{"abcdef", 4, "abc…", "abc…"},
		{"abcd", 4, "abcd", "abcd"},
		{"abc", 0, "", ""},
		{"abc", -3, "", ""},
		{"日本語", 5, "日本…", "日本…"}, // wide runes count two cells
		{"\x1b[1mbold\x1b[0m", 6, "\x1b[1mbold\x1b[0m  ", "\x1b[1mbold\x1b[0m"},
	}
	for _, tc := range tests {
		if got := Fit(tc.s, tc.width); got != tc.fit {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.fit)
		}
		if got := Cut(tc.s, tc.width); got != tc.cut {
			t.Errorf("Cut(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.cut)
		}
		if w := ansi.StringWidth(Fit(tc.s, tc.width)); tc.width > 0 && w != tc.width {
			t.Errorf("Fit(%q, %d) is %d cells wide", tc.s, tc.width, w)
		}
	}
}

func TestShortDigest(t *testing.T) {
	tests := map[string]string{
		"sha256:c71bdb26ecb0a1b2c3d4": "sha256:c71bdb26ecb0",
		"c71bdb26ecb0a1b2c3d4":        "c71bdb26ecb0",
		"sha256:abc":                  "sha256:abc",
		"":                            "",
	}
	for in, want := range tests {
		if got := ShortDigest(in); got != want {
			t.Errorf("ShortDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCreatedBy(t *testing.T) {
	tests := map[string]string{
		"/bin/sh -c #(nop) ADD file:4b03b5f551e3fbdf in / ":            "ADD file:4b03b5f551e3fbdf in /",
		"/bin/sh -c #(nop)  CMD [\"bash\"]":                            "CMD [\"bash\"]",
		"/bin/sh -c apt-get update &&     apt-get install -y xz-utils": "RUN apt-get update && apt-get install -y xz-utils",
		"|1 VERSION=5.6.1 /bin/sh -c make":                             "RUN VERSION=5.6.1 /bin/sh -c make",
		"COPY run.sh /app/ # buildkit":                                 "COPY run.sh /app/ # buildkit",
		"RUN /bin/sh -c echo hi # buildkit":                            "RUN /bin/sh -c echo hi # buildkit",
		"":                                                             "",
		"a":                                                            "RUN a",
	}
	for in, want := range tests {
		if got := CreatedBy(in); got != want {
			t.Errorf("CreatedBy(%q) = %q, want %q", in, got, want)
		}
	}
}
