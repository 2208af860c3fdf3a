package detect

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// Bounds on what one nested archive may cost.
const (
	maxNestedMembers = 100_000
	maxNestedBytes   = 4 << 30 // decompressed bytes read from one nested archive
	maxRPMHeader     = 64 << 20
)

// errNestedLimit is wrapped when a nested archive exceeds a bound.
var errNestedLimit = errors.New("nested archive limit reached")

// Nested archive kinds.
const (
	nestedDeb     = "deb"
	nestedRPM     = "rpm"
	nestedAPK     = "apk"
	nestedTarball = "tarball"
)

// nestedKind says which nested format a file name calls for, if any.
func (e *Engine) nestedKind(base string) string {
	switch {
	case strings.HasSuffix(base, ".deb"), strings.HasSuffix(base, ".udeb"):
		return nestedDeb
	case strings.HasSuffix(base, ".rpm"):
		return nestedRPM
	case strings.HasSuffix(base, ".apk"):
		return nestedAPK
	}
	if len(e.pathHits(base)) > 0 {
		return nestedTarball
	}
	return ""
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

// nestedSink opens a package or source tarball lying in the layer and runs
// the digest, signature and marker detectors on its members.
type nestedSink struct {
	*pipeSink
	s  *LayerScan
	ns *nestedScan
}

type memberHit struct {
	member string
	sha256 string
	h      hit
	stream bool // a digest of a tarball's whole decompressed stream, not of a member
}

type nestedScan struct {
	e       *Engine
	kind    string
	hits    []memberHit
	err     error
	members int
	bytes   int64
}

func (s *LayerScan) newNestedSink(kind string, ent *layer.Entry) *nestedSink {
	n := &nestedSink{s: s, ns: &nestedScan{e: s.e, kind: kind}}
	n.pipeSink = startPipe(func(r io.Reader) { n.ns.err = n.ns.scan(r) })
	return n
}

func (n *nestedSink) Done(e *layer.Entry, err error) {
	n.finish(err)
	if err != nil {
		return
	}
	if n.ns.err != nil {
		n.s.errorf("%s (%s): %v", e.Path, n.ns.kind, n.ns.err)
	}
	base := path.Base(e.Path)
	for _, mh := range n.ns.hits {
		ev := fmt.Sprintf("member %s (sha256 %s): %s", mh.member, mh.sha256, mh.h.evidence)
		if mh.stream {
			ev = mh.h.evidence
		}
		n.s.add(finding.Finding{
			Rule: mh.h.rule.ID, Kind: finding.Nested, Severity: mh.h.rule.Severity,
			Path: e.Path, SHA256: e.SHA256, Evidence: ev,
			Message: fmt.Sprintf("inside %s: %s", base, mh.h.message),
		})
	}
}

func (ns *nestedScan) scan(r io.Reader) error {
	switch ns.kind {
	case nestedDeb:
		return ns.deb(r)
	case nestedRPM:
		return ns.rpm(r)
	case nestedAPK:
		return ns.tarStream(r, "", false)
	case nestedTarball:
		return ns.tarStream(r, "", true)
	}
	return fmt.Errorf("unknown nested kind %q", ns.kind)
}

// inspect runs the member detectors over one member.
func (ns *nestedScan) inspect(member string, r io.Reader) error {
	ns.members++
	if ns.members > maxNestedMembers {
		return fmt.Errorf("%w: more than %d members", errNestedLimit, maxNestedMembers)
	}
	c := ns.e.newCheck(member)
	h := sha256.New()
	left := ns.e.maxNested - ns.bytes
	n, err := io.Copy(io.MultiWriter(h, checkWriter{c}), io.LimitReader(r, left+1))
	ns.bytes += n
	if err != nil {
		return fmt.Errorf("member %s: %w", member, err)
	}
	if n > left {
		return fmt.Errorf("%w: more than %d decompressed bytes", errNestedLimit, ns.e.maxNested)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	hits := ns.e.digestHits(sum)
	hits = append(hits, c.finish(n)...)
	for _, x := range hits {
		ns.hits = append(ns.hits, memberHit{member: member, sha256: sum, h: x})
	}
	return nil
}

// checkWriter skips the check once it no longer wants bytes.
type checkWriter struct{ c *check }

func (w checkWriter) Write(p []byte) (int, error) {
	if w.c.wanted() {
		w.c.Write(p)
	}
	return len(p), nil
}

// deb reads the ar archive and the tars inside it.
func (ns *nestedScan) deb(r io.Reader) error {
	ar := newArReader(r)
	for {
		h, err := ar.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !strings.HasPrefix(h.Name, "control.tar") && !strings.HasPrefix(h.Name, "data.tar") {
			continue
		}
		if err := ns.tarStream(ar, h.Name+":", false); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

// tarStream reads a (compressed) tar and inspects its regular files. With
// hashStream, the decompressed stream is hashed too, for digests published
// of a release's inner .tar.
func (ns *nestedScan) tarStream(r io.Reader, prefix string, hashStream bool) error {
	dec, format, err := compress.Reader(r)
	if err != nil {
		return err
	}
	defer dec.Close()
	var src io.Reader = dec
	var sh hash.Hash
	if hashStream && format != compress.None {
		sh = sha256.New()
		src = io.TeeReader(dec, sh)
	}
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := ns.inspect(prefix+memberName(h.Name), tr); err != nil {
			return err
		}
	}
	if sh != nil {
		// The rest of the stream (end blocks, padding) belongs to the hash.
		left := ns.e.maxNested - ns.bytes
		n, err := io.Copy(io.Discard, io.LimitReader(src, left+1))
		ns.bytes += n
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if n > left {
			return fmt.Errorf("%w: more than %d decompressed bytes", errNestedLimit, ns.e.maxNested)
		}
		sum := hex.EncodeToString(sh.Sum(nil))
		for _, x := range ns.e.digestHits(sum) {
			x.evidence = fmt.Sprintf("decompressed %s stream: %s", format, x.evidence)
			ns.hits = append(ns.hits, memberHit{sha256: sum, h: x, stream: true})
		}
	}
	return nil
}

// rpm skips the lead and the two headers and reads the cpio payload.
func (ns *nestedScan) rpm(r io.Reader) error {
	br := bufio.NewReader(r)
	off := int64(0)
	fail := func(format string, args ...any) error {
		return &ArchiveError{Format: "rpm", Offset: off, Err: fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))}
	}
	var lead [96]byte
	if _, err := io.ReadFull(br, lead[:]); err != nil {
		return fail("truncated lead: %v", err)
	}
	if lead[0] != 0xed || lead[1] != 0xab || lead[2] != 0xee || lead[3] != 0xdb {
		return fail("no rpm lead magic")
	}
	off = 96
	for i, name := range []string{"signature", "main"} {
		var intro [16]byte
		if _, err := io.ReadFull(br, intro[:]); err != nil {
			return fail("truncated %s header: %v", name, err)
		}
		if intro[0] != 0x8e || intro[1] != 0xad || intro[2] != 0xe8 {
			return fail("bad %s header magic", name)
		}
		count := int64(binary.BigEndian.Uint32(intro[8:12]))
		data := int64(binary.BigEndian.Uint32(intro[12:16]))
		size := 16*count + data
		if size > maxRPMHeader {
			return fail("%s header of %d bytes", name, size)
		}
		if i == 0 {
			size += (8 - (16+size)%8) % 8 // the signature header is padded to 8 bytes
		}
		if _, err := io.CopyN(io.Discard, br, size); err != nil {
			return fail("truncated %s header: %v", name, err)
		}
		off += 16 + size
	}
	dec, format, err := compress.Reader(br)
	if err != nil {
		return fail("payload: %v", err)
	}
	defer dec.Close()
	cr := newCpioReader(dec)
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s payload: %w", orNone(format), err)
		}
		if !h.Regular || h.Size == 0 {
			continue
		}
		if err := ns.inspect(memberName(h.Name), cr); err != nil {
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
