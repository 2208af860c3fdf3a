package detect

import (
	"github.com/strata-forensics/strata/forensics/rules"
)

// matcher finds many byte patterns (with "??" wildcards) in one pass: an
// Aho–Corasick automaton over each pattern's longest run of fixed bytes
// (its anchor) proposes candidates, and each candidate is verified against
// the whole pattern around the anchor. It is built once and shared
// read-only by every scan.
type matcher struct {
	pats   []rules.Pattern
	astart []int // anchor start of each pattern
	aend   []int
	maxLen int
	// next is the automaton as a full transition table (failure links
	// folded in) while building.
	next [][256]int32
	out  [][]int32 // patterns whose anchor ends in this state
	// flat is next as one slice indexed state<<8|byte, so the inner loop is
	// one load per byte; an entry is ^state when that state has outputs.
	flat []int32
}

func newMatcher(pats []rules.Pattern) *matcher {
	m := &matcher{pats: pats, next: make([][256]int32, 1), out: make([][]int32, 1)}
	for i := range m.next[0] {
		m.next[0][i] = -1
	}
	for id, p := range pats {
		s, e := p.Anchor()
		m.astart = append(m.astart, s)
		m.aend = append(m.aend, e)
		if p.Len() > m.maxLen {
			m.maxLen = p.Len()
		}
		st := int32(0)
		for _, c := range p.Bytes[s:e] {
			if m.next[st][c] < 0 {
				var row [256]int32
				for i := range row {
					row[i] = -1
				}
				m.next = append(m.next, row)
				m.out = append(m.out, nil)
				m.next[st][c] = int32(len(m.next) - 1)
			}
			st = m.next[st][c]
		}
		m.out[st] = append(m.out[st], int32(id))
	}
	// Breadth-first: resolve failure links into the table.
	fail := make([]int32, len(m.next))
	var queue []int32
	for c := 0; c < 256; c++ {
		if t := m.next[0][c]; t < 0 {
			m.next[0][c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		m.out[s] = append(m.out[s], m.out[fail[s]]...)
		for c := 0; c < 256; c++ {
			t := m.next[s][c]
			if t < 0 {
				m.next[s][c] = m.next[fail[s]][c]
				continue
			}
			fail[t] = m.next[fail[s]][c]
			queue = append(queue, t)
		}
	}
	m.flat = make([]int32, len(m.next)*256)
	for s := range m.next {
		for c, t := range m.next[s] {
			if len(m.out[t]) > 0 {
				t = ^t
			}
			m.flat[s<<8|c] = t
		}
	}
	m.next = nil
	return m
}

// search is one stream's progress through a matcher. Matches spanning
// Write boundaries are found by keeping the last maxLen bytes seen and
// holding candidates whose pattern runs past the current chunk.
type search struct {
	m       *matcher
	state   int32
	off     int64 // stream offset of the next byte
	tail    []byte
	pending []candidate
	first   []int64 // first match offset per pattern, -1 when none
	left    int     // patterns not yet found
	scratch []byte
}

type candidate struct {
	pat   int32
	start int64
}

func (m *matcher) newSearch() *search {
	s := &search{m: m, first: make([]int64, len(m.pats)), left: len(m.pats)}
	for i := range s.first {
		s.first[i] = -1
	}
	return s
}

// Write never fails; it has the io.Writer shape for use behind sinks.
func (s *search) Write(p []byte) (int, error) {
	if s.left == 0 || len(s.m.pats) == 0 {
		s.off += int64(len(p))
		return len(p), nil
	}
	base := s.off
	flat, out := s.m.flat, s.m.out
	st := s.state
	for i, c := range p {
		st = flat[int(st)<<8|int(c)]
		if st >= 0 {
			continue
		}
		st = ^st
		for _, id := range out[st] {
			if s.first[id] >= 0 {
				continue
			}
			start := base + int64(i) + 1 - int64(s.m.aend[id])
			if start < 0 {
				continue
			}
			s.pending = append(s.pending, candidate{pat: id, start: start})
		}
	}
	s.state = st
	end := base + int64(len(p))
	// Verify what can be verified now; keep the rest for the next chunk.
	keep := s.pending[:0]
	for _, c := range s.pending {
		pat := &s.m.pats[c.pat]
		if s.first[c.pat] >= 0 {
			continue
		}
		if c.start+int64(pat.Len()) > end {
			keep = append(keep, c)
			continue
		}
		if pat.Matches(s.window(p, base, c.start, pat.Len())) {
			s.first[c.pat] = c.start
			s.left--
		}
	}
	s.pending = keep
	s.off = end
	s.keepTail(p)
	return len(p), nil
}

// window returns n bytes from stream offset start, which lies in the kept
// tail or in the current chunk p (starting at base).
func (s *search) window(p []byte, base, start int64, n int) []byte {
	if start >= base {
		return p[start-base : start-base+int64(n)]
	}
	s.scratch = s.scratch[:0]
	from := len(s.tail) - int(base-start)
	if from < 0 {
		return nil // cannot happen: the tail holds maxLen bytes
	}
	s.scratch = append(s.scratch, s.tail[from:]...)
	need := n - len(s.scratch)
	if need > 0 {
		s.scratch = append(s.scratch, p[:need]...)
	}
	return s.scratch[:n]
}

func (s *search) keepTail(p []byte) {
	max := s.m.maxLen
	if len(p) >= max {
		s.tail = append(s.tail[:0], p[len(p)-max:]...)
		return
	}
	s.tail = append(s.tail, p...)
	if len(s.tail) > max {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-max:]...)
	}
}
