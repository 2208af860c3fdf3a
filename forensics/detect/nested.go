package detect

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/internal/iox"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// This file opens the archives lying in a layer (packages, tarballs, zip
// files, compressed files) and the archives inside those, to any depth,
// streaming: a member's bytes pass once, through its sha256 and the content
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

// Defaults of the nested-archive bounds (Options).
const (
	// DefaultMaxNestedDepth bounds how many archives deep a member may lie:
	// a .deb in a tarball in a layer is 3 (the tarball, the .deb, its
	// data.tar.xz); 16 is ClamAV's order of recursion limit.
	DefaultMaxNestedDepth = 16
	// DefaultMaxNestedBytes bounds the bytes read from the members of one
	// layer's nested archives, every level counted: a member two archives
	// deep is read (and hashed) at each level.
	DefaultMaxNestedBytes = 8 << 30
	// DefaultMaxNestedMemory bounds what one layer's nested reading holds
	// at once: the windows and dictionaries of its open decoders (xz -9:
	// 64 MiB) and the zip archives held for random access.
	DefaultMaxNestedMemory = 128 << 20
	// DefaultMaxNestedRatio is layer.DefaultLimits.MaxRatio, applied to
	// each nested stream and to each layer file as a whole, past
	// iox.RatioGrace bytes.
	DefaultMaxNestedRatio = 1000
)

// Other bounds, fixed.
const (
	maxNestedMembers = 100_000  // members read from one layer file, every level counted
	maxRPMHeader     = 64 << 20 // an rpm header's index and data
	maxLimitFindings = 100      // limit findings per layer; more are counted
	maxSkippedNames  = 5        // files named in "not opened" counts
)

// Kinds of nested limits, as rule IDs name them.
const (
	limitDepth   = "depth"
	limitBytes   = "bytes"
	limitMemory  = "memory"
	limitRatio   = "ratio"
	limitMembers = "members"
)

// LimitRulePrefix starts the rule ID of every finding that says a nested
// archive was not read whole.
const LimitRulePrefix = "strata-nested-limit-"

// nestLimits are the engine's bounds with defaults applied.
type nestLimits struct {
	depth  int
	bytes  int64
	memory int64
	ratio  float64
}

func (e *Engine) nestLimits() nestLimits {
	l := nestLimits{depth: e.opts.MaxNestedDepth, bytes: e.opts.MaxNestedBytes, memory: e.opts.MaxNestedMemory, ratio: e.opts.MaxNestedRatio}
	if l.depth <= 0 {
		l.depth = DefaultMaxNestedDepth
	}
	if l.bytes <= 0 {
		l.bytes = DefaultMaxNestedBytes
	}
	if l.memory <= 0 {
		l.memory = DefaultMaxNestedMemory
	}
	if l.ratio <= 0 {
		l.ratio = DefaultMaxNestedRatio
	}
	return l
}

// pipeSink hands a file's bytes to a parser running on its own goroutine
// through an io.Pipe, so nested archives are read as they stream past. The
// goroutine drains the pipe after its parser returns, so the walk never
// blocks on a parser that gave up early.
type pipeSink struct {
	pw   *io.PipeWriter
	done chan struct{}
}

func startPipe(run func(r io.Reader)) *pipeSink {
	pr, pw := io.Pipe()
	p := &pipeSink{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		run(pr)
		io.Copy(io.Discard, pr)
	}()
	return p
}

func (p *pipeSink) Write(b []byte) (int, error) { return p.pw.Write(b) }

// finish ends the stream (with the walk's error, if any) and waits for the
// parser.
func (p *pipeSink) finish(err error) {
	if err != nil {
		p.pw.CloseWithError(err)
	} else {
		p.pw.Close()
	}
	<-p.done
}

// dbSink parses a package database.
type dbSink struct {
	*pipeSink
	s    *LayerScan
	pkgs []pkgdb.Package
	err  error
}

func (s *LayerScan) newDBSink(eco pkgdb.Ecosystem, ent *layer.Entry) *dbSink {
	d := &dbSink{s: s}
	p, size, max := ent.Path, ent.Size, s.e.maxDB()
	d.pipeSink = startPipe(func(r io.Reader) { d.pkgs, d.err = pkgdb.Parse(eco, p, r, size, max) })
	return d
}

func (d *dbSink) Done(e *layer.Entry, err error) {
	d.finish(err)
	if err != nil {
		return
	}
	if d.err != nil {
		d.s.errorf("package database %s: %v", e.Path, d.err)
	}
	// A damaged text database still names what it could read.
	d.s.res.Packages[e.Path] = append([]pkgdb.Package{}, d.pkgs...)
}

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

// limitSeverity says how much reaching a limit matters: nothing ordinary
// nests archives 16 deep or expands a stream a thousandfold (low, as
// anomalies are), while a big archive over the byte or memory bound is
// only a part left unread (info).
func limitSeverity(kind string) finding.Severity {
	switch kind {
	case limitDepth, limitRatio:
		return finding.Low
	}
	return finding.Info
}

// limitMessage says what a limit left unread.
func limitMessage(kind string) string {
	switch kind {
	case limitDepth:
		return "archives nested deeper than the depth limit were not opened (raise it with --max-nested-depth); their own bytes were hashed and searched, their members were not"
	case limitBytes:
		return "the layer's budget of bytes read from nested archives ran out (raise it with --max-nested-bytes); the rest of this file and the archives after it in the layer were not opened"
	case limitMemory:
		return "an archive needing more memory than is left of the layer's bound (a zip held for random access, or a decoder's window) was not opened (raise it with --max-nested-memory); its own bytes were hashed and searched, its members were not"
	case limitRatio:
		return "a nested stream expanded beyond the decompression ratio bound, as a decompression bomb does, and was not read further (raise it with --max-ratio)"
	case limitMembers:
		return fmt.Sprintf("more than %d members in this file's archives; the rest were not read (a fixed bound)", maxNestedMembers)
	}
	return "a nested archive was not read whole"
}

// finishNested completes the limit findings once the layer was walked: how
// many archives were not opened after the byte budget ran out, and how
// many limit findings were not listed.
func (s *LayerScan) finishNested() {
	ln := &s.nest
	if ln.skipped > 0 && ln.budgetAt >= 0 && ln.budgetAt < len(s.res.Findings) && s.res.Findings[ln.budgetAt].Rule == LimitRulePrefix+limitBytes {
		f := &s.res.Findings[ln.budgetAt]
		f.Evidence += fmt.Sprintf("; after it, %d more archive files of this layer were not opened (%s", ln.skipped, strings.Join(ln.skippedNames, ", "))
		if ln.skipped > len(ln.skippedNames) {
			f.Evidence += ", …"
		}
		f.Evidence += ")"
	}
	if ln.dropped > 0 {
		for i := len(s.res.Findings) - 1; i >= 0; i-- {
			if strings.HasPrefix(s.res.Findings[i].Rule, LimitRulePrefix) {
				s.res.Findings[i].Evidence += fmt.Sprintf("; %d more files of this layer reached nested limits and are not listed", ln.dropped)
				break
			}
		}
	}
	ln.skipped, ln.dropped = 0, 0
}

type memberHit struct {
	member string // nesting path; for a stream hit, the compressed file's ("" for the layer file)
	sha256 string
	h      hit
	stream bool            // a digest of a tarball's whole decompressed stream, not of a member
	format compress.Format // a stream hit's compression
}

// limitHit is the first place a limit was reached in one layer file.
type limitHit struct {
	where  string
	detail string
	count  int
}

// stopError ends the reading of a layer file: its budget, or its layer's,
// ran out. It passes up through every level unrecorded, and the top
// records it.
type stopError struct {
	kind   string
	where  string
	detail string
}

func (e *stopError) Error() string { return e.detail }

// ratioStop is a RatioReader's error, one per stream, so that the level
// that opened the stream knows the stop as its own.
type ratioStop struct {
	n, compressed int64
	max           float64
}

func (e *ratioStop) Error() string {
	return fmt.Sprintf("expanded to %d bytes from %d, beyond %g:1", e.n, e.compressed, e.max)
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

func (ns *nestedScan) limit(kind, where, detail string) {
	if l := ns.limits[kind]; l != nil {
		l.count++
		return
	}
	ns.limits[kind] = &limitHit{where: where, detail: detail, count: 1}
	ns.order = append(ns.order, kind)
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

// fileRatioGrace is how many bytes a layer file's members give before the
// file's ratio is checked: more than a single stream's (iox.RatioGrace),
// so that one bomb among a file's members is stopped by its own stream's
// ratio and the members after it are still read, while many streams each
// under the grace (a zip of zips of zips) stop the file.
const fileRatioGrace = 4 * iox.RatioGrace

// charge counts n bytes read from a member against the layer's budget and
// the file's ratio.
func (ns *nestedScan) charge(n int64, where string) error {
	ns.ln.bytes += n
	ns.charged += n
	if ns.ln.bytes > ns.lim.bytes {
		ns.ln.spent = true
		return &stopError{kind: limitBytes, where: where, detail: fmt.Sprintf("nested byte budget %d reached", ns.lim.bytes)}
	}
	if ns.charged > fileRatioGrace {
		if raw := ns.raw.n; raw > 0 && float64(ns.charged) > ns.lim.ratio*float64(raw) {
			return &stopError{kind: limitRatio, where: where, detail: fmt.Sprintf("%d bytes read from the members of a file of which %d bytes were read, beyond %g:1", ns.charged, raw, ns.lim.ratio)}
		}
	}
	return nil
}

// reserve takes n bytes of the layer's memory bound, or reports that
// they are not left.
func (ns *nestedScan) reserve(n int64) bool {
	if ns.ln.held+n > ns.lim.memory {
		return false
	}
	ns.ln.held += n
	return true
}

func (ns *nestedScan) release(n int64) { ns.ln.held -= n }

// head is the sniffing buffer of a member at depth.
func (ns *nestedScan) head(depth int) []byte { return ns.ln.buffer(&ns.ln.heads, depth) }

// streamHead is the sniffing buffer of a decompressed stream at depth.
func (ns *nestedScan) streamHead(depth int) []byte { return ns.ln.buffer(&ns.ln.streamHeads, depth) }

// buffer returns the sniffLen buffer of depth in bufs, made once per layer:
// the files of a layer are read one after the other, and at one depth one
// member is sniffed at a time.
func (ln *layerNest) buffer(bufs *[][]byte, depth int) []byte {
	for len(*bufs) <= depth {
		*bufs = append(*bufs, make([]byte, sniffLen))
	}
	return (*bufs)[depth]
}

// memberTee passes a member's bytes to the reader above it (the parser of
// the archive the member is) while hashing, checking and charging them.
// It keeps the first error of the stream it reads (the member's archive
// broke, or a budget ran out), so that the member can tell that error from
// one its own parser found.
type memberTee struct {
	ns    *nestedScan
	where string
	r     io.Reader
	h     hash.Hash
	c     *check
	n     int64
	err   error
}

func (t *memberTee) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	if n > 0 {
		t.h.Write(p[:n])
		if t.c.wanted() {
			t.c.Write(p[:n])
		}
		t.n += int64(n)
		if cerr := t.ns.charge(int64(n), t.where); cerr != nil {
			t.err = cerr
			return n, cerr
		}
	}
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

func isStop(err error) bool {
	var s *stopError
	return errors.As(err, &s)
}

// member reads one member at depth (the number of archives it lies in):
// its sha256 and the content detectors always, and its own members when
// it is a container and the depth limit allows. An error returned means
// reading must stop above too (the stream the member lies in broke, or a
// budget ran out); a member that is a broken archive is noted and read on
// as plain bytes.
func (ns *nestedScan) member(parent, name string, r io.Reader, size int64, depth int) error {
	where := join(parent, name)
	ns.members++
	if ns.members > maxNestedMembers {
		return &stopError{kind: limitMembers, where: where, detail: fmt.Sprintf("member limit %d reached", maxNestedMembers)}
	}
	base := path.Base(name)
	t := &memberTee{ns: ns, where: where, r: r, h: sha256.New(), c: ns.e.newCheck(base)}
	head := ns.head(depth)
	n, err := io.ReadFull(t, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("member %s: %w", where, err)
	}
	if kind := sniffKind(base, head[:n]); kind != "" {
		if depth >= ns.lim.depth {
			ns.limit(limitDepth, where, fmt.Sprintf("depth limit %d reached: a %s archive %d levels deep", ns.lim.depth, kind, depth+1))
		} else {
			cerr := ns.open(where, base, kind, io.MultiReader(bytes.NewReader(head[:n]), t), size, depth+1)
			switch {
			case t.err != nil:
				return fmt.Errorf("member %s: %w", where, t.err)
			case isStop(cerr):
				return cerr
			case cerr != nil:
				ns.fail(where, kind, cerr)
			}
		}
	}
	if _, err := io.Copy(io.Discard, t); err != nil {
		return fmt.Errorf("member %s: %w", where, err)
	}
	sum := hex.EncodeToString(t.h.Sum(nil))
	hits := ns.e.digestHits(sum)
	hits = append(hits, t.c.finish(t.n)...)
	for _, x := range hits {
		ns.hits = append(ns.hits, memberHit{member: where, sha256: sum, h: x})
	}
	return nil
}

// open reads r, the bytes of the file or member at where (base is its own
// name), as a container of kind whose members lie depth archives deep.
// size is r's length, or -1 when unknown.
func (ns *nestedScan) open(where, base, kind string, r io.Reader, size int64, depth int) error {
	switch kind {
	case kindTar:
		return ns.walkTar(where, r, depth)
	case kindAr:
		return ns.walkAr(where, r, depth)
	case kindCpio:
		return ns.walkCpio(where, r, depth)
	case kindRPM:
		return ns.walkRPM(where, r, depth)
	case kindZip:
		return ns.walkZip(where, r, size, depth)
	}
	switch f := compress.Format(kind); f {
	case compress.Gzip, compress.XZ, compress.Zstd, compress.Bzip2, compress.LZMA:
		return ns.decompress(where, base, f, r, depth)
	}
	return fmt.Errorf("%w: unknown container kind %q", ErrFormat, kind)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decoder opens f over r within the layer's memory bound and the ratio
// bound. A nil reader with a nil error means the memory bound refused it,
// which is recorded. release frees the decoder's memory and must be
// called once the stream is done with.
func (ns *nestedScan) decoder(where string, f compress.Format, r io.Reader) (rd io.Reader, rs *ratioStop, release func(), err error) {
	// The compressed bytes are counted under the buffer, which the
	// decoders then read as an io.ByteReader, adding no buffer of their
	// own.
	cr := &countingReader{r: r}
	br, _ := bufPool.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(nil, 2048)
	}
	br.Reset(cr)
	free := func() { br.Reset(nil); bufPool.Put(br) }
	head, _ := br.Peek(12 + 1024) // the xz stream and first block headers
	mem, ok := compress.DecoderMemory(f, head)
	if !ok {
		free()
		return nil, nil, nil, fmt.Errorf("%w: %s: no window or dictionary size readable in its header", ErrFormat, f)
	}
	if !ns.reserve(mem) {
		free()
		ns.limit(limitMemory, where, fmt.Sprintf("a %s decoder needing %d bytes, with %d of the %d-byte nested memory bound left", f, mem, ns.lim.memory-ns.ln.held, ns.lim.memory))
		return nil, nil, nil, nil
	}
	dec, err := compress.OpenLimited(br, f, mem)
	if err != nil {
		free()
		ns.release(mem)
		return nil, nil, nil, err
	}
	rs = &ratioStop{max: ns.lim.ratio}
	compressed := func() int64 { return cr.n - int64(br.Buffered()) }
	rr := iox.NewRatioReader(dec, compressed, ns.lim.ratio, func(n, c int64) error {
		rs.n, rs.compressed = n, c
		return rs
	})
	return rr, rs, func() { dec.Close(); free(); ns.release(mem) }, nil
}

// bufPool keeps the buffers decoders read through: one is taken for every
// compressed file or member opened.
var bufPool sync.Pool

// ratioOf reports whether err is rs, the stop of a stream this level
// opened, and records it.
func (ns *nestedScan) ratioOf(err error, rs *ratioStop, where string) bool {
	var got *ratioStop
	if rs == nil || !errors.As(err, &got) || got != rs {
		return false
	}
	ns.limit(limitRatio, where, "decompression "+rs.Error())
	return true
}

// decompress reads a compressed stream: as one archive when its content is
// one (x.tar.gz), else as a file holding one member (x.so.gz).
func (ns *nestedScan) decompress(where, base string, f compress.Format, r io.Reader, depth int) error {
	dec, rs, release, err := ns.decoder(where, f, r)
	if err != nil || dec == nil {
		return err
	}
	defer release()
	head := ns.streamHead(depth)
	n, err := io.ReadFull(dec, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		if ns.ratioOf(err, rs, where) {
			return nil
		}
		return fmt.Errorf("%s: %w", f, err)
	}
	head = head[:n]
	inner := io.MultiReader(bytes.NewReader(head), dec)
	if kind := sniffArchive(head); kind != "" {
		err = ns.compressedArchive(where, f, kind, inner, depth)
	} else {
		err = ns.member(where, decompressedName(base), inner, -1, depth)
	}
	if ns.ratioOf(err, rs, where) {
		return nil
	}
	return err
}

// compressedArchive walks an archive compressed as a whole, and hashes its
// decompressed stream too: digests are published of a release's inner
// .tar as well as of the compressed file.
func (ns *nestedScan) compressedArchive(where string, f compress.Format, kind string, r io.Reader, depth int) error {
	sh := sha256.New()
	src := io.TeeReader(r, sh)
	if err := ns.open(where, "", kind, src, -1, depth); err != nil {
		return err
	}
	// The rest of the stream (end blocks, padding) belongs to the hash;
	// it is charged like a member's bytes, for it may be long.
	t := &memberTee{ns: ns, where: where, r: src, h: nopHash{}, c: &check{decided: true}}
	if _, err := io.Copy(io.Discard, t); err != nil {
		return fmt.Errorf("%s stream: %w", f, err)
	}
	sum := hex.EncodeToString(sh.Sum(nil))
	for _, x := range ns.e.digestHits(sum) {
		ns.hits = append(ns.hits, memberHit{member: where, sha256: sum, h: x, stream: true, format: f})
	}
	return nil
}

// nopHash is a hash.Hash that hashes nothing, for bytes charged but not
// hashed on their own.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

// walkTar reads a tar stream's regular files.
func (ns *nestedScan) walkTar(where string, r io.Reader, depth int) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := ns.member(where, memberName(h.Name), tr, h.Size, depth); err != nil {
			return err
		}
	}
}

// walkAr reads an ar archive's members (a .deb's debian-binary,
// control.tar.* and data.tar.*; a static library's objects).
func (ns *nestedScan) walkAr(where string, r io.Reader, depth int) error {
	ar := newArReader(r)
	for {
		h, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Symbols {
			continue
		}
		if err := ns.member(where, memberName(h.Name), ar, h.Size, depth); err != nil {
			return err
		}
	}
}

// walkCpio reads a newc cpio archive's regular files.
func (ns *nestedScan) walkCpio(where string, r io.Reader, depth int) error {
	cr := newCpioReader(r)
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// A hard-linked file's data is in its last link only; the others
		// are empty.
		if !h.Regular || h.Size == 0 {
			continue
		}
		if err := ns.member(where, memberName(h.Name), cr, h.Size, depth); err != nil {
			return err
		}
	}
}

// memberName is a member's name as evidence shows it: cleaned and
// relative, and "." for an entry naming the archive's root (".", "/").
func memberName(raw string) string {
	name, _ := layer.CleanPath(raw)
	if name == "/" {
		return "."
	}
	return strings.TrimPrefix(name, "/")
}

func orNone(f compress.Format) string {
	if f == compress.None {
		return "uncompressed"
	}
	return string(f)
}
