package detect

import (
	"bufio"
	"bytes"
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
	names  []byte // GNU ar's table of long names (the "//" member)
}

type arHeader struct {
	Name string
	Size int64
	// Symbols marks a linker's symbol table ("/", "/SYM64/",
	// "__.SYMDEF"), no member of its own.
	Symbols bool
}

// maxArNames bounds GNU ar's long-name table: real ones list a few
// thousand object names. maxBSDName bounds one BSD long name, a path.
const (
	maxArNames = 1 << 20
	maxBSDName = 4096
)

func newArReader(r io.Reader) *arReader { return &arReader{r: bufio.NewReader(r)} }

func (a *arReader) fail(format string, args ...any) error {
	return &ArchiveError{Format: "ar", Offset: a.off, Err: formatErr(format, args...)}
}

// formatErr wraps ErrFormat and, when the last argument is an error (a
// read of the stream underneath that failed), that error too: a stop the
// nested scan set on the stream must stay recognisable through the
// archive reader.
func formatErr(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if len(args) > 0 {
		if err, ok := args[len(args)-1].(error); ok && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: %s: %w", ErrFormat, msg, err)
		}
	}
	return fmt.Errorf("%w: %s", ErrFormat, msg)
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
// returns io.EOF at the clean end of the archive. GNU long names ("/123",
// an offset into the "//" member, which Next reads and does not return)
// and BSD ones ("#1/17", the name leading the content) are resolved.
func (a *arReader) Next() (*arHeader, error) {
	for {
		h, err := a.next()
		if err != nil || h.Name != "//" {
			return h, err
		}
		if h.Size > maxArNames {
			return nil, a.fail("long-name table of %d bytes", h.Size)
		}
		a.names = make([]byte, h.Size)
		if _, err := io.ReadFull(a, a.names); err != nil {
			return nil, a.fail("truncated long-name table: %v", err)
		}
	}
}

func (a *arReader) next() (*arHeader, error) {
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
	raw := strings.TrimRight(string(h[0:16]), " ")
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return nil, a.fail("bad member size %q", h[48:58])
	}
	a.left, a.pad = size, size%2 == 1
	hd := &arHeader{Name: strings.TrimSuffix(raw, "/"), Size: size} // GNU style "name/"
	switch {
	case raw == "//":
		hd.Name = raw
	case raw == "/", raw == "/SYM64/", raw == "__.SYMDEF", raw == "__.SYMDEF SORTED":
		hd.Name, hd.Symbols = raw, true
	case len(raw) > 1 && raw[0] == '/' && raw[1] >= '0' && raw[1] <= '9':
		off, err := strconv.Atoi(raw[1:])
		if err != nil || off < 0 || off >= len(a.names) {
			return nil, a.fail("long name %q outside the long-name table (%d bytes)", raw, len(a.names))
		}
		name := a.names[off:]
		if i := bytes.IndexByte(name, '\n'); i >= 0 {
			name = name[:i]
		}
		hd.Name = strings.TrimSuffix(string(name), "/")
	case strings.HasPrefix(raw, "#1/"):
		k, err := strconv.Atoi(raw[3:])
		if err != nil || k < 0 || int64(k) > size || k > maxBSDName {
			return nil, a.fail("bad BSD long name %q", raw)
		}
		name := make([]byte, k)
		if _, err := io.ReadFull(a, name); err != nil {
			return nil, a.fail("truncated BSD long name: %v", err)
		}
		hd.Name = strings.TrimRight(string(name), "\x00")
		hd.Size = size - int64(k)
	}
	return hd, nil
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
	if err != nil && err != io.EOF {
		return n, a.fail("reading member: %v", err)
	}
	if a.left == 0 && err == io.EOF {
		err = nil
	}
	return n, err
}
