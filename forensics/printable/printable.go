// Package printable makes strings that come from an image safe to print on
// a terminal. File names, tags, link targets and build commands are written
// by whoever built the image; a control character among them would let the
// image drive the examiner's terminal (clear it, set its title, forge or
// recolour lines) when strata lists them. JSON output needs none of this:
// its encoder escapes control characters.
package printable

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// String shows every control character of s in a visible form, so that
// nothing in it is lost or acted on: C0 controls and DEL in caret notation
// (ESC is ^[, a tab ^I, DEL ^?), C1 controls as \u0080-\u009f, and bytes
// that are not UTF-8 as \xNN. Anything else is left as it is.
func String(s string) string { return show(s, false) }

// Text is String for a document of many lines: newlines and tabs stay as
// they are, every other control character is shown.
func Text(s string) string { return show(s, true) }

func show(s string, lines bool) string {
	if clean(s, lines) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case lines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// clean reports whether s needs no change, without allocating.
func clean(s string, lines bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if lines && (r == '\n' || r == '\t') {
			i += n
			continue
		}
		if (r == utf8.RuneError && n == 1) || r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return false
		}
		i += n
	}
	return true
}
