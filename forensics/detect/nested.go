package detect

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
)

// nested*.go and pipesink.go open the archives lying in a layer
// (packages, tarballs, zip files, compressed files) and the archives
// inside those, to any depth, streaming: a member's bytes pass once, through its sha256 and the content
// detectors, on their way to the parser of the archive it may itself be.
// Nothing is unpacked to disk; a zip, which needs random access, is held in
// memory within a bound.
//
// A member is named by its nesting path: the names of the archives it lies
// in, inside the layer file, and its own, joined with ':' (as a .deb's
// "data.tar.xz:usr/lib/liblzma.so.5" always was). An archive compressed as
// a whole (x.tar.gz, data.tar.xz, an rpm's payload) is one level, as tar -z
// shows it; a compressed file that is no archive (x.so.gz) holds one
// member, named as gunzip names it (x.so).
//
// What a layer's nested archives may cost is bounded (Options): their
// depth, the bytes read from them, the memory held by their decoders and
// zip buffers, and how much a stream may expand. Reaching a bound is a
// finding (rule strata-nested-limit-KIND) naming the file and the nesting
// path where reading stopped: never silence.

// layerNest is what a layer's nested reading has spent, shared by its
// files. The walk reads it between files only, and each file's parser
// goroutine is waited for in Done, so no lock is needed.
type layerNest struct {
	bytes int64 // read from nested members so far
	held  int64 // decoder windows and zip buffers open now
	spent bool  // the byte budget ran out: no more archives are opened
	// skipped counts the container files not opened once spent, and
	// skippedNames names the first few.
	skipped      int
	skippedNames []string
	// limitFindings counts the limit findings added; dropped those over
	// maxLimitFindings; budgetAt is the index of the one saying the byte
	// budget ran out, -1 until then.
	limitFindings int
	dropped       int
	budgetAt      int
	// heads and streamHeads are sniffing buffers by depth, for members
	// and for decompressed streams.
	heads, streamHeads [][]byte
}

// nestedSink decides from a regular file's first bytes whether it is an
// archive or a compressed stream, and if so streams it to a nestedScan on
// a goroutine of its own. One serves every file of a layer in turn.
type nestedSink struct {
	s     *LayerScan
	ent   *layer.Entry
	label string // how a package name calls the file (deb, rpm, apk), or ""
	force string // the kind a package name forces, whatever the bytes say
	head  [sniffLen]byte
	n     int
	done  bool // decided
	run   *nestedRun
}

// nestedRun is one layer file being read as a nested archive.
type nestedRun struct {
	*pipeSink
	ns *nestedScan
}

// packageKind says which package format a file name calls for: such a
// file is opened even when its bytes say otherwise, so that a broken
// package is reported rather than passed over.
func packageKind(base string) (label, force string) {
	switch {
	case strings.HasSuffix(base, ".deb"), strings.HasSuffix(base, ".udeb"):
		return "deb", kindAr
	case strings.HasSuffix(base, ".rpm"):
		return "rpm", kindRPM
	case strings.HasSuffix(base, ".apk"):
		return "apk", "" // Alpine's gzip streams, or an Android zip: the bytes say which
	}
	return "", ""
}

func (n *nestedSink) reset(s *LayerScan, ent *layer.Entry, base string) {
	n.s, n.ent, n.n, n.done, n.run = s, ent, 0, false, nil
	n.label, n.force = packageKind(base)
}

func (n *nestedSink) Write(p []byte) (int, error) {
	if n.run != nil {
		return n.run.Write(p)
	}
	if n.done {
		return len(p), nil
	}
	if n.n == 0 && len(p) >= sniffLen {
		// The usual case: the first chunk holds the head; nothing is copied.
		if n.decide(p[:sniffLen]); n.run != nil {
			return n.run.Write(p)
		}
		return len(p), nil
	}
	k := copy(n.head[n.n:], p)
	n.n += k
	if n.n == sniffLen {
		if n.decide(n.head[:]); n.run != nil {
			if _, err := n.run.Write(n.head[:]); err != nil {
				return 0, err
			}
			if _, err := n.run.Write(p[k:]); err != nil {
				return k, err
			}
		}
	}
	return len(p), nil
}

// decide sniffs the file's head and starts the nested scan if it is a
// container.
func (n *nestedSink) decide(head []byte) {
	n.done = true
	base := path.Base(n.ent.Path)
	kind := sniffKind(base, head)
	if n.force != "" {
		kind = n.force
	}
	if kind == "" && n.label == "" {
		return
	}
	ln := &n.s.nest
	if ln.spent {
		ln.skipped++
		if len(ln.skippedNames) < maxSkippedNames {
			ln.skippedNames = append(ln.skippedNames, n.ent.Path)
		}
		return
	}
	label := n.label
	if label == "" {
		label = kind
	}
	ns := &nestedScan{e: n.s.e, lim: n.s.e.nestLimits(), ln: ln, label: label, base: base, limits: map[string]*limitHit{}}
	size := n.ent.Size
	run := &nestedRun{ns: ns}
	run.pipeSink = startPipe(func(r io.Reader) { ns.top(kind, r, size) })
	n.run = run
}

func (n *nestedSink) Done(e *layer.Entry, err error) {
	if !n.done && err == nil {
		if n.decide(n.head[:n.n]); n.run != nil {
			n.run.Write(n.head[:n.n])
		}
	}
	if n.run == nil {
		return
	}
	run := n.run
	n.run = nil
	run.finish(err)
	if err != nil {
		return // the walk reports the broken stream
	}
	n.s.nestedResults(e, run.ns)
}

// nestedResults turns what reading one layer file found into findings.
func (s *LayerScan) nestedResults(e *layer.Entry, ns *nestedScan) {
	if msg := ns.errorText(); msg != "" {
		s.errorf("%s (%s): %s", e.Path, ns.label, msg)
	}
	base := path.Base(e.Path)
	for _, mh := range ns.hits {
		ev := fmt.Sprintf("member %s (sha256 %s): %s", mh.member, mh.sha256, mh.h.evidence)
		if mh.stream {
			of := ""
			if mh.member != "" {
				of = " of " + mh.member
			}
			ev = fmt.Sprintf("decompressed %s stream%s: %s", mh.format, of, mh.h.evidence)
		}
		s.add(finding.Finding{
			Rule: mh.h.rule.ID, Kind: finding.Nested, Severity: mh.h.rule.Severity,
			Path: e.Path, SHA256: e.SHA256, Evidence: ev,
			Message: fmt.Sprintf("inside %s: %s", base, mh.h.message),
		})
	}
	for _, kind := range ns.order {
		l := ns.limits[kind]
		ln := &s.nest
		if ln.limitFindings >= maxLimitFindings {
			ln.dropped++
			continue
		}
		where := "at the file itself"
		if l.where != "" {
			where = "at " + l.where
		}
		ev := where + ": " + l.detail
		if l.count > 1 {
			ev += fmt.Sprintf(" (and %d more times in this file)", l.count-1)
		}
		if kind == limitBytes {
			ln.budgetAt = len(s.res.Findings)
		}
		ln.limitFindings++
		s.add(finding.Finding{
			Rule: LimitRulePrefix + kind, Kind: finding.Nested, Severity: limitSeverity(kind),
			Path: e.Path, SHA256: e.SHA256, Evidence: ev,
			Message: fmt.Sprintf("inside %s: %s", base, limitMessage(kind)),
		})
	}
}

type memberHit struct {
	member string // nesting path; for a stream hit, the compressed file's ("" for the layer file)
	sha256 string
	h      hit
	stream bool            // a digest of a tarball's whole decompressed stream, not of a member
	format compress.Format // a stream hit's compression
}

// nestedScan reads one layer file as a nested archive.
type nestedScan struct {
	e      *Engine
	lim    nestLimits
	ln     *layerNest
	label  string // the file's kind, as errors name it
	base   string // the file's base name
	hits   []memberHit
	limits map[string]*limitHit
	order  []string // limit kinds, first reached first

	err     error // what stopped the file, if not a limit
	errs    []string
	nerrs   int
	members int
	raw     *countingReader // the file's own bytes, as read
	charged int64           // bytes read from its members, every level counted
}

// maxFileErrors bounds the errors one layer file keeps verbatim.
const maxFileErrors = 3

func (ns *nestedScan) errorText() string {
	var parts []string
	if ns.err != nil {
		parts = append(parts, ns.err.Error())
	}
	parts = append(parts, ns.errs...)
	msg := strings.Join(parts, "; ")
	if more := ns.nerrs - len(ns.errs); more > 0 {
		msg += fmt.Sprintf("; and %d more errors in its members", more)
	}
	return msg
}

// fail notes a member that could not be read as the archive it seemed to
// be; the archive around it reads on.
func (ns *nestedScan) fail(where, kind string, err error) {
	ns.nerrs++
	if len(ns.errs) < maxFileErrors {
		ns.errs = append(ns.errs, fmt.Sprintf("member %s (%s): %v", where, kind, err))
	}
}

// top reads the layer file as kind.
func (ns *nestedScan) top(kind string, r io.Reader, size int64) {
	ns.raw = &countingReader{r: r}
	var err error
	if kind == "" {
		err = fmt.Errorf("%w: no archive or compression magic", ErrFormat)
	} else {
		err = ns.open("", ns.base, kind, ns.raw, size, 1)
	}
	var stop *stopError
	switch {
	case errors.As(err, &stop):
		ns.limit(stop.kind, stop.where, stop.detail)
	case err != nil:
		ns.err = err
	}
}

// join names a member of the archive at where.
func join(where, member string) string {
	if where == "" {
		return member
	}
	return where + ":" + member
}
