package rules

import (
	"fmt"
	"strings"
)

// MaxPatternBytes bounds one byte pattern; published ones are under 64.
const MaxPatternBytes = 1024

// MinAnchorBytes is the shortest run of fixed bytes a pattern must have:
// a shorter anchor would make a one-pass search verify at almost every
// offset.
const MinAnchorBytes = 4

// Pattern is a compiled byte pattern: Bytes[i] must equal the input where
// Fixed[i] is true; other positions match any byte.
type Pattern struct {
	Source string // as written in the rule
	Bytes  []byte
	Fixed  []bool
}

// Len is the number of bytes the pattern spans.
func (p *Pattern) Len() int { return len(p.Bytes) }

// Anchor returns the longest run of fixed bytes as [start, end).
func (p *Pattern) Anchor() (start, end int) {
	bs, be := 0, 0
	for i := 0; i < len(p.Fixed); {
		if !p.Fixed[i] {
			i++
			continue
		}
		j := i
		for j < len(p.Fixed) && p.Fixed[j] {
			j++
		}
		if j-i > be-bs {
			bs, be = i, j
		}
		i = j
	}
	return bs, be
}

// Matches reports whether the pattern matches b at its start; b must be at
// least Len bytes long.
func (p *Pattern) Matches(b []byte) bool {
	if len(b) < len(p.Bytes) {
		return false
	}
	for i, c := range p.Bytes {
		if p.Fixed[i] && b[i] != c {
			return false
		}
	}
	return true
}

// ParsePattern compiles a YARA hex string: pairs of hex digits and "??"
// wildcards, optionally separated by white space and optionally in braces.
// Jumps ([n-m]), alternatives and nibble wildcards are refused rather than
// approximated.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{Source: s}
	body := strings.TrimSpace(s)
	if strings.HasPrefix(body, "{") {
		if !strings.HasSuffix(body, "}") {
			return p, fmt.Errorf("pattern %q: unbalanced brace", s)
		}
		body = body[1 : len(body)-1]
	}
	var digits []byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case c == '?' || isHex(c):
			digits = append(digits, c)
		case c == '[' || c == '(' || c == '|' || c == '~':
			return p, fmt.Errorf("pattern %q: offset %d: %q (jumps, alternatives and negation) is not supported", s, i, c)
		default:
			return p, fmt.Errorf("pattern %q: offset %d: unexpected %q", s, i, c)
		}
		if len(digits) > 2*MaxPatternBytes {
			return p, fmt.Errorf("pattern %q: longer than %d bytes", s, MaxPatternBytes)
		}
	}
	if len(digits)%2 != 0 {
		return p, fmt.Errorf("pattern %q: odd number of hex digits", s)
	}
	for i := 0; i < len(digits); i += 2 {
		a, b := digits[i], digits[i+1]
		switch {
		case a == '?' && b == '?':
			p.Bytes, p.Fixed = append(p.Bytes, 0), append(p.Fixed, false)
		case a == '?' || b == '?':
			return p, fmt.Errorf("pattern %q: byte %d: nibble wildcards are not supported", s, i/2)
		default:
			p.Bytes, p.Fixed = append(p.Bytes, unhex(a)<<4|unhex(b)), append(p.Fixed, true)
		}
	}
	if len(p.Bytes) == 0 {
		return p, fmt.Errorf("pattern %q: empty", s)
	}
	if !p.Fixed[0] || !p.Fixed[len(p.Fixed)-1] {
		return p, fmt.Errorf("pattern %q: must start and end with a fixed byte", s)
	}
	if s, e := p.Anchor(); e-s < MinAnchorBytes {
		return p, fmt.Errorf("pattern %q: longest run of fixed bytes is %d, need at least %d", p.Source, e-s, MinAnchorBytes)
	}
	return p, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
