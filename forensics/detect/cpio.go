package detect

import (
	"bufio"
	"io"
	"strconv"
)

// cpioReader reads a "newc" cpio archive (070701, or 070702 with
// checksums), the payload format of rpm packages, as a stream.
type cpioReader struct {
	r    *bufio.Reader
	off  int64
	left int64 // content bytes of the current member
	pad  int64 // padding after the current member's content
	done bool
}

type cpioHeader struct {
	Name    string
	Mode    uint32
	Size    int64
	Regular bool
}

// maxCpioName bounds a member name; real ones are paths of a few hundred bytes.
const maxCpioName = 4096

func newCpioReader(r io.Reader) *cpioReader { return &cpioReader{r: bufio.NewReader(r)} }

func (c *cpioReader) fail(format string, args ...any) error {
	return &ArchiveError{Format: "cpio", Offset: c.off, Err: formatErr(format, args...)}
}

func (c *cpioReader) readFull(b []byte) error {
	n, err := io.ReadFull(c.r, b)
	c.off += int64(n)
	return err
}

// Next returns the next member, or io.EOF after the TRAILER!!! entry.
func (c *cpioReader) Next() (*cpioHeader, error) {
	if c.done {
		return nil, io.EOF
	}
	if n := c.left + c.pad; n > 0 {
		m, err := io.CopyN(io.Discard, c.r, n)
		c.off += m
		if err != nil {
			return nil, c.fail("truncated member: %v", err)
		}
		c.left, c.pad = 0, 0
	}
	var h [110]byte
	start := c.off
	if err := c.readFull(h[:]); err != nil {
		return nil, c.fail("truncated header: %v", err)
	}
	if string(h[:6]) != "070701" && string(h[:6]) != "070702" {
		return nil, c.fail("bad magic %q (only newc cpio is supported)", h[:6])
	}
	field := func(i int) (uint64, error) {
		v, err := strconv.ParseUint(string(h[6+8*i:6+8*i+8]), 16, 32)
		if err != nil {
			return 0, c.fail("bad header field %d %q", i, h[6+8*i:6+8*i+8])
		}
		return v, nil
	}
	mode, err := field(1)
	if err != nil {
		return nil, err
	}
	size, err := field(6)
	if err != nil {
		return nil, err
	}
	nameSize, err := field(11)
	if err != nil {
		return nil, err
	}
	if nameSize == 0 || nameSize > maxCpioName {
		return nil, c.fail("name size %d out of range", nameSize)
	}
	name := make([]byte, nameSize)
	if err := c.readFull(name); err != nil {
		return nil, c.fail("truncated name: %v", err)
	}
	if name[len(name)-1] != 0 {
		return nil, c.fail("name not NUL-terminated")
	}
	// Header plus name is padded to a multiple of four.
	if p := (4 - (c.off-start)%4) % 4; p > 0 {
		var pad [3]byte
		if err := c.readFull(pad[:p]); err != nil {
			return nil, c.fail("truncated padding: %v", err)
		}
	}
	hd := &cpioHeader{Name: string(name[:len(name)-1]), Mode: uint32(mode), Size: int64(size), Regular: mode&0o170000 == 0o100000}
	if hd.Name == "TRAILER!!!" {
		c.done = true
		return nil, io.EOF
	}
	c.left, c.pad = int64(size), (4-int64(size)%4)%4
	return hd, nil
}

// Read reads the current member's content.
func (c *cpioReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.off += int64(n)
	c.left -= int64(n)
	if err == io.EOF && c.left > 0 {
		return n, c.fail("truncated member: %d bytes missing", c.left)
	}
	if err != nil && err != io.EOF {
		return n, c.fail("reading member: %v", err)
	}
	if c.left == 0 && err == io.EOF {
		err = nil
	}
	return n, err
}
