package detect

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/rules"
)

// headBytes is how much of an ELF file is held before deciding whether to
// search it: enough for the ELF header and, in shared objects, .dynstr with
// the soname.
const headBytes = 64 << 10

var elfMagic = []byte{0x7f, 'E', 'L', 'F'}

// hit is one rule matching one file (or archive member).
type hit struct {
	rule     *rules.Rule
	kind     finding.Kind
	evidence string
	message  string
}

// check runs the content detectors (byte signatures and markers) over one
// file's bytes as they stream past. It decides from the name and, for ELF
// files, from the first bytes whether the signature search is worth it.
type check struct {
	eng  *Engine
	name string // base name

	head    []byte
	decided bool
	isELF   bool
	sniffed int64 // bytes seen

	sig    *search // nil when signatures are not searched
	marker *search // nil when no marker rule applies
	why    string  // why the signature search ran
}

func (e *Engine) newCheck(name string) *check {
	c := &check{}
	e.resetCheck(c, name)
	return c
}

// resetCheck readies c for a new file, keeping the room its head had.
func (e *Engine) resetCheck(c *check, name string) {
	*c = check{eng: e, name: path.Base(name), head: c.head[:0]}
	if e.markers != nil && e.markerApplies(c.name) {
		c.marker = e.markers.newSearch()
	}
	if e.sigs == nil {
		c.decided = true
	}
}

// wanted reports whether the check needs the file's bytes at all.
func (c *check) wanted() bool { return !c.decided || c.sig != nil || c.marker != nil }

func (c *check) Write(p []byte) (int, error) {
	if c.marker != nil {
		c.marker.Write(p)
	}
	if c.decided {
		if c.sig != nil {
			c.sig.Write(p)
		}
		c.sniffed += int64(len(p))
		return len(p), nil
	}
	c.sniffed += int64(len(p))
	if len(c.head) == 0 && len(p) >= len(elfMagic) && !bytes.HasPrefix(p, elfMagic) && !c.eng.scopeAny {
		// Not ELF from the first bytes, and only ELF files are searched:
		// decide on the magic alone rather than copying a whole chunk of
		// every file in the image into a head that is dropped at once.
		c.head = append(c.head, p[:len(elfMagic)]...)
		c.decide()
		return len(p), nil
	}
	room := headBytes - len(c.head)
	if room > len(p) {
		room = len(p)
	}
	c.head = append(c.head, p[:room]...)
	if len(c.head) >= len(elfMagic) && !bytes.HasPrefix(c.head, elfMagic) && !c.eng.scopeAny {
		c.decide() // not ELF: nothing to search
		return len(p), nil
	}
	if len(c.head) >= headBytes {
		c.decide()
		if c.sig != nil && room < len(p) {
			c.sig.Write(p[room:])
		}
	}
	return len(p), nil
}

// decide settles whether to search the file, then feeds it what was held.
func (c *check) decide() {
	c.decided = true
	c.isELF = bytes.HasPrefix(c.head, elfMagic)
	e := c.eng
	switch {
	case e.scopeAny:
		c.why = "every file is searched"
	case !c.isELF:
	case e.opts.Deep:
		c.why = "--deep searches every ELF file"
	case isLiblzmaName(c.name):
		c.why = "ELF file named liblzma"
	case bytes.Contains(c.head, []byte("liblzma.so")):
		c.why = "ELF file naming liblzma.so in its dynamic strings"
	case e.scopeELF:
		c.why = "ELF file"
	}
	if c.why != "" {
		c.sig = e.sigs.newSearch()
		c.sig.Write(c.head)
	}
	c.head = c.head[:0]
}

func isLiblzmaName(base string) bool { return strings.HasPrefix(base, "liblzma.so") }

// finish evaluates the rules once the file ended; size is its length.
func (c *check) finish(size int64) []hit {
	if !c.decided {
		c.decide()
	}
	var hits []hit
	if c.sig != nil {
		liblzmaScope := c.eng.opts.Deep || isLiblzmaName(c.name) || strings.HasPrefix(c.why, "ELF file naming liblzma")
		for _, sr := range c.eng.sigRules {
			s := sr.rule.Signature
			switch {
			case s.RequireELF && !c.isELF:
				continue
			case s.MaxSize > 0 && size > s.MaxSize:
				continue
			case s.Scope == rules.ScopeLiblzma && !(c.isELF && liblzmaScope):
				continue
			case s.Scope == rules.ScopeELF && !c.isELF:
				continue
			}
			if ev, ok := evaluate(c.sig, sr.pats, s.Match); ok {
				hits = append(hits, hit{rule: sr.rule, kind: finding.Signature, evidence: ev,
					message: fmt.Sprintf("%s: byte signature matched (%s)", sr.rule.Title, c.why)})
			}
		}
	}
	if c.marker != nil {
		for _, mr := range c.eng.markerRules {
			if !globAny(mr.rule.Marker.MarkerFiles(), c.name) {
				continue
			}
			if ev, ok := evaluate(c.marker, mr.pats, mr.rule.Marker.Match); ok {
				hits = append(hits, hit{rule: mr.rule, kind: finding.Marker, evidence: ev,
					message: fmt.Sprintf("%s: injection marker found in %s", mr.rule.Title, c.name)})
			}
		}
	}
	return hits
}

// evaluate applies a rule's all/any logic to the patterns found and words
// the evidence: each pattern found, with its file offset.
func evaluate(s *search, pats []int, match string) (string, bool) {
	var parts []string
	found := 0
	for _, id := range pats {
		if off := s.first[id]; off >= 0 {
			found++
			parts = append(parts, fmt.Sprintf("%s at offset %#x", shortPattern(s.m.pats[id].Source), off))
		}
	}
	if found == 0 || match == rules.MatchAll && found != len(pats) {
		return "", false
	}
	return strings.Join(parts, "; "), true
}

func shortPattern(s string) string {
	s = strings.Join(strings.Fields(s), "")
	if len(s) > 24 {
		return `"` + s[:24] + `…"`
	}
	return `"` + s + `"`
}

func globAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// digestHits looks a sha256 up in the digest rules.
func (e *Engine) digestHits(sha string) []hit {
	refs := e.digests[sha]
	var hits []hit
	for _, ref := range refs {
		d := ref.rule.Digests[ref.i]
		hits = append(hits, hit{rule: ref.rule, kind: finding.Digest,
			evidence: fmt.Sprintf("sha256 %s is %s", sha, d.Artifact),
			message:  fmt.Sprintf("%s: %s", ref.rule.Title, d.Artifact)})
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].rule.ID < hits[j].rule.ID })
	return hits
}

// pathHits checks a base name against the path rules.
func (e *Engine) pathHits(base string) []hit {
	var hits []hit
	for _, r := range e.pathRules {
		for _, g := range r.globs {
			if g.match(base) {
				hits = append(hits, hit{rule: r.rule, kind: finding.Marker,
					evidence: fmt.Sprintf("file name %s matches %s", base, g.pattern),
					message:  fmt.Sprintf("%s: named like a known artefact; its contents decide", r.rule.Title)})
				break
			}
		}
	}
	return hits
}
