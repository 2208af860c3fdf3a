package detect

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/layer"
)

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
