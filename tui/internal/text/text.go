// Package text has the small formatting helpers the panes share: fitting a
// string to a width and human sizes.
package text

import (
	"fmt"
	"io/fs"
	"math"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/forensics/printable"
)

// Fit cuts s to width cells (with an ellipsis) or pads it with spaces.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

// Cut cuts s to width cells without padding.
func Cut(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > width {
		return ansi.Truncate(s, width, "…")
	}
	return s
}

// Size is a byte count in at most five cells, as ls -h writes it: 512,
// 1.2K, 34M, 1.0G. The unit is chosen after rounding, so that 1 MiB less
// a byte is 1.0M, not 1024K.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d", n)
	}
	v := float64(n)
	for _, u := range []string{"K", "M", "G", "T", "P", "E"} {
		v /= unit
		if math.Round(v*10) < 100 {
			return fmt.Sprintf("%.1f%s", v, u)
		}
		if math.Round(v) < unit {
			return fmt.Sprintf("%.0f%s", v, u)
		}
	}
	return fmt.Sprintf("%.0fE", v*unit) // unreachable: an int64 is under 8E
}

// Mode renders permission bits as ls does, with the type letter first.
func Mode(typ byte, m fs.FileMode) string {
	b := []byte{typ, '-', '-', '-', '-', '-', '-', '-', '-', '-'}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	if m&fs.ModeSetuid != 0 {
		b[3] = setChar(b[3], 's')
	}
	if m&fs.ModeSetgid != 0 {
		b[6] = setChar(b[6], 's')
	}
	if m&fs.ModeSticky != 0 {
		b[9] = setChar(b[9], 't')
	}
	return string(b)
}

func setChar(cur, c byte) byte {
	if cur == '-' {
		return c - 'a' + 'A'
	}
	return c
}

// ShortDigest is "sha256:" and the first 12 hex digits.
func ShortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		hex, alg = d, ""
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if alg == "" {
		return hex
	}
	return alg + ":" + hex
}

// CreatedBy shortens a history created_by: the "/bin/sh -c #(nop) " noise
// goes, whitespace runs become one space.
func CreatedBy(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"/bin/sh -c #(nop) ", "/bin/sh -c ", "|1 "} {
		s = strings.TrimPrefix(s, p)
	}
	s = printable.String(strings.Join(strings.Fields(s), " "))
	if s != "" && !strings.HasPrefix(s, "RUN") && !isUpperWord(s) {
		s = "RUN " + s
	}
	return s
}

func isUpperWord(s string) bool {
	w, _, _ := strings.Cut(s, " ")
	if len(w) < 2 {
		return false
	}
	for _, r := range w {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
