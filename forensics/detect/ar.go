package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrFormat is wrapped by errors about malformed nested archives.
var ErrFormat = errors.New("malformed archive")

// ArchiveError names where in a nested archive reading broke.
type ArchiveError struct {
	Format string // "ar", "cpio", "rpm"
	Offset int64
	Err    error
}

func (e *ArchiveError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.Format, e.Offset, e.Err)
}
func (e *ArchiveError) Unwrap() error { return e.Err }

const arMagic = "!<arch>\n"

// arReader reads a Unix ar archive (the outer format of a .deb) as a
// stream: Next returns each member's header, Read its content.
type arReader struct {
	r      *bufio.Reader
	off    int64 // bytes consumed
	left   int64 // of the current member
	pad    bool  // the current member is followed by a padding byte
	header [60]byte
	magic  bool
}

type arHeader struct {
	Name string
	Size int64
}

func newArReader(r io.Reader) *arReader { return &arReader{r: bufio.NewReader(r)} }

func (a *arReader) fail(format string, args ...any) error {
	return &ArchiveError{Format: "ar", Offset: a.off, Err: fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))}
}

func (a *arReader) readFull(b []byte) error {
	n, err := io.ReadFull(a.r, b)
	a.off += int64(n)
	return err
}

func (a *arReader) skip(n int64) error {
	m, err := io.CopyN(io.Discard, a.r, n)
	a.off += m
	return err
}

// Next skips the rest of the current member and reads the next header. It
// returns io.EOF at the clean end of the archive.
func (a *arReader) Next() (*arHeader, error) {
	if !a.magic {
		var m [8]byte
		if err := a.readFull(m[:]); err != nil {
			return nil, a.fail("no ar magic: %v", err)
		}
		if string(m[:]) != arMagic {
			return nil, a.fail("no ar magic (got %q)", m[:])
		}
		a.magic = true
	}
	if a.left > 0 || a.pad {
		n := a.left
		if a.pad {
			n++
		}
		if err := a.skip(n); err != nil {
			return nil, a.fail("truncated member: %v", err)
		}
		a.left, a.pad = 0, false
	}
	n, err := io.ReadFull(a.r, a.header[:])
	a.off += int64(n)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, a.fail("truncated header: %v", err)
	}
	h := a.header[:]
	if h[58] != '`' || h[59] != '\n' {
		return nil, a.fail("bad header terminator %q", h[58:60])
	}
	name := strings.TrimRight(string(h[0:16]), " ")
	name = strings.TrimSuffix(name, "/") // GNU style
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return nil, a.fail("bad member size %q", h[48:58])
	}
	a.left, a.pad = size, size%2 == 1
	return &arHeader{Name: name, Size: size}, nil
}

// Read reads the current member's content.
func (a *arReader) Read(p []byte) (int, error) {
	if a.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.left {
		p = p[:a.left]
	}
	n, err := a.r.Read(p)
	a.off += int64(n)
	a.left -= int64(n)
	if err == io.EOF && a.left > 0 {
		return n, a.fail("truncated member: %d bytes missing", a.left)
	}
	if a.left == 0 && err == io.EOF {
		err = nil
	}
	return n, err
}
