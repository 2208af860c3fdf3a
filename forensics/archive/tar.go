package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// offsetReader counts what the tar reader consumed, which is where the
// current member's content starts after Next.
type offsetReader struct {
	r     io.Reader
	n     int64
	head  [512]byte // the first block, to tell a broken tar from a file that is none
	headN int
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if o.n < int64(len(o.head)) {
		o.headN += copy(o.head[o.n:], p[:n])
	}
	o.n += int64(n)
	return n, err
}

// notTar reports whether the input's first bytes rule out a tar: some were
// read, and they are not like a tar header, which has the "ustar" magic, or
// a checksum that matches its bytes (the oldest format has no magic), or
// numbers where a header keeps them. A stray text file in a folder of
// archives is then not an archive at all (ErrUnknownFormat), while a tar
// whose first header took a damaged byte, wherever, is still a broken
// archive: a byte changed in the magic also breaks the checksum, but
// leaves the numeric fields.
func (o *offsetReader) notTar() bool {
	if o.headN == 0 {
		return false
	}
	b := o.head[:o.headN]
	if !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return false // zeros: an empty or wiped archive, reported as such
	}
	if len(b) < len(o.head) {
		return true
	}
	if bytes.HasPrefix(b[257:], []byte("ustar")) {
		return false
	}
	var unsigned, signed int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' ' // the checksum field counts as spaces
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	want, err := strconv.ParseInt(strings.Trim(string(b[148:156]), " \x00"), 8, 64)
	if err == nil && (want == unsigned || want == signed) {
		return false
	}
	// mode, uid, gid, size, mtime, checksum
	for _, f := range [][2]int{{100, 108}, {108, 116}, {116, 124}, {124, 136}, {136, 148}, {148, 156}} {
		if !numberField(b[f[0]:f[1]]) {
			return true
		}
	}
	return false
}

// numberField reports whether a header field holds a number as tar writes
// one: octal digits padded with spaces or NULs, or base-256 (high bit set).
func numberField(f []byte) bool {
	if f[0]&0x80 != 0 {
		return true
	}
	digits := 0
	for _, c := range f {
		switch {
		case c >= '0' && c <= '7':
			digits++
		case c != ' ' && c != 0:
			return false
		}
	}
	return digits > 0
}

func (o *offsetReader) Seek(off int64, whence int) (int64, error) {
	s, ok := o.r.(io.Seeker)
	if !ok || whence != io.SeekCurrent {
		return 0, errors.New("not seekable")
	}
	n, err := s.Seek(off, whence)
	if err == nil {
		o.n += off
	}
	return n, err
}

// indexTar walks tar headers from r. keep, when set, is offered every
// member's bytes (used for a compressed input).
func (a *Archive) indexTar(ctx context.Context, p string, r io.Reader, opts Options, keep func(name string, size int64, r io.Reader) error) error {
	var or io.Reader
	cr := &offsetReader{r: r}
	if _, ok := r.(io.Seeker); ok && keep == nil {
		or = cr
	} else {
		or = struct{ io.Reader }{cr}
	}
	tr := tar.NewReader(or)
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := cr.n
		h, err := tr.Next()
		if err != nil && len(a.members) == 0 && start == 0 && cr.notTar() {
			return &FormatError{File: p, Offset: 0, Err: fmt.Errorf("%w: no tar header at its start", ErrUnknownFormat)}
		}
		if err == io.EOF {
			if len(a.members) == 0 && !a.signs.rootfs() {
				return &FormatError{File: p, Offset: start, Err: errors.New("empty or not a tar archive")}
			}
			return nil
		}
		if err != nil {
			if len(a.members) == 0 {
				return &FormatError{File: p, Offset: start, Err: fmt.Errorf("not a readable tar archive: %w", err)}
			}
			a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Truncated,
				Detail: fmt.Sprintf("archive unreadable from offset %d: %v; members after it are missing", start, err)})
			return nil
		}
		if len(a.members) >= opts.MaxMembers {
			return &FormatError{File: p, Offset: start, Err: fmt.Errorf("more than %d members (raise with --max-members)", opts.MaxMembers)}
		}
		a.signs.see(h.Name, h.Typeflag)
		if h.Typeflag != tar.TypeReg {
			if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
				a.link(h)
			}
			continue
		}
		a.add(h.Name, cr.n, h.Size)
		if keep != nil {
			if err := keep(cleanName(h.Name), h.Size, tr); err != nil {
				a.Problems = append(a.Problems, integrity.Problem{Blob: cleanName(h.Name), Kind: integrity.Truncated,
					Detail: fmt.Sprintf("member at offset %d of %s: %v", cr.n, p, err)})
				delete(a.members, cleanName(h.Name))
				return nil
			}
		}
	}
}

// link notes a symlinked or hardlinked member (docker save links the
// folders of layers stored once); resolveLinks makes it an alias of its
// target once every member is known, whatever their order in the tar.
func (a *Archive) link(h *tar.Header) {
	target := h.Linkname
	if h.Typeflag == tar.TypeSymlink {
		target = path.Join(path.Dir(cleanName(h.Name)), h.Linkname)
	}
	if a.links == nil {
		a.links = map[string]string{}
	}
	a.links[cleanName(h.Name)] = cleanName(target)
}

func (a *Archive) resolveLinks() {
	for name, target := range a.links {
		for hops := 0; hops < 8; hops++ {
			if next, ok := a.links[target]; ok {
				target = next
				continue
			}
			break
		}
		if m, ok := a.members[target]; ok && a.members[name] == nil {
			a.add(name, m.Offset, m.Size)
		}
	}
	a.links = nil
}

// exactReader turns an early end of a member into io.ErrUnexpectedEOF: when
// the archive ends inside a member, its header still announces the full
// size, and the member must not read as a shorter, complete one.
type exactReader struct {
	r    io.Reader
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("%s: the archive ends %d bytes before the member does: %w", e.name, e.left, io.ErrUnexpectedEOF)
	}
	return n, err
}
