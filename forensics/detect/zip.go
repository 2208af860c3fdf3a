package detect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/flate"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// A zip archive (a .zip, a Python wheel, a Java jar) is read through its
// central directory, the only authoritative list of its members, which
// lies at its end: the archive is held in memory, within the layer's
// nested memory bound, and walked there. zipDir iterates the directory
// one record at a time rather than through archive/zip, which builds a
// File for every record first: a directory of a million tiny records
// would cost far more than the archive's own bytes.

// Zip record signatures and sizes (APPNOTE.TXT 6.3.10, §4.3).
const (
	zipEndSig      = 0x06054b50
	zip64EndSig    = 0x06064b50
	zip64LocSig    = 0x07064b50
	zipDirSig      = 0x02014b50
	zipLocalSig    = 0x04034b50
	zipEndLen      = 22
	zip64LocLen    = 20
	zip64EndLen    = 56
	zipDirLen      = 46
	zipLocalLen    = 30
	zipMaxComment  = 0xffff
	zipFlagCrypted = 0x1
)

// Zip compression methods strata reads.
const (
	zipStored  = 0
	zipDeflate = 8
	zipBzip2   = 12
	zipZstd    = 93
	zipXZ      = 95
)

// zipError is a malformed zip.
func zipError(off int64, format string, args ...any) error {
	return &ArchiveError{Format: "zip", Offset: off, Err: formatErr(format, args...)}
}

// zipEntry is one central directory record.
type zipEntry struct {
	name         string
	flags        uint16
	method       uint16
	crc          uint32
	csize, usize uint64
	offset       uint64 // of its local header, from the archive's start
}

// zipDir walks a zip archive's central directory.
type zipDir struct {
	b     []byte
	base  int64  // bytes before the archive (a self-extracting stub)
	pos   int64  // next record
	end   int64  // end of the directory
	count uint64 // records the end record declares
	seen  uint64
}

// openZipDir finds the end of central directory record (the last one
// whose comment fits the archive), and the zip64 one it points to.
func openZipDir(b []byte) (*zipDir, error) {
	size := int64(len(b))
	if size < zipEndLen {
		return nil, zipError(0, "%d bytes, too short for a zip", size)
	}
	lo := max(size-zipEndLen-zipMaxComment, 0)
	at := int64(-1)
	for i := size - zipEndLen; i >= lo; i-- {
		if binary.LittleEndian.Uint32(b[i:]) == zipEndSig && i+zipEndLen+int64(binary.LittleEndian.Uint16(b[i+20:])) <= size {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, zipError(size, "no end of central directory record")
	}
	e := b[at:]
	count := uint64(binary.LittleEndian.Uint16(e[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(e[12:]))
	dirOff := uint64(binary.LittleEndian.Uint32(e[16:]))
	endAt := at
	if count == 0xffff || dirSize == 0xffffffff || dirOff == 0xffffffff {
		if loc := at - zip64LocLen; loc >= 0 && binary.LittleEndian.Uint32(b[loc:]) == zip64LocSig {
			off := binary.LittleEndian.Uint64(b[loc+8:])
			if off > uint64(size-zip64EndLen) || binary.LittleEndian.Uint32(b[off:]) != zip64EndSig {
				return nil, zipError(loc, "zip64 locator points to no zip64 end record (offset %d)", off)
			}
			z := b[off:]
			count = binary.LittleEndian.Uint64(z[32:])
			dirSize = binary.LittleEndian.Uint64(z[40:])
			dirOff = binary.LittleEndian.Uint64(z[48:])
			endAt = int64(off)
		}
	}
	if dirSize > uint64(endAt) || dirOff > uint64(endAt) {
		return nil, zipError(at, "central directory of %d bytes at %d does not fit before its end record at %d", dirSize, dirOff, endAt)
	}
	// As archive/zip does: bytes before the directory's declared offset
	// are a prefix the offsets do not count.
	base := endAt - int64(dirSize) - int64(dirOff)
	if base < 0 {
		base = 0
	}
	return &zipDir{b: b, base: base, pos: base + int64(dirOff), end: base + int64(dirOff) + int64(dirSize), count: count}, nil
}

// next returns the next record, or io.EOF after the count the end record
// declares (or at the end of the directory, if it ends first).
func (z *zipDir) next() (*zipEntry, error) {
	if z.seen >= z.count || z.pos >= z.end {
		if z.seen < z.count {
			return nil, zipError(z.pos, "central directory ends after %d of %d records", z.seen, z.count)
		}
		return nil, io.EOF
	}
	b := z.b
	p := z.pos
	if p+zipDirLen > int64(len(b)) || binary.LittleEndian.Uint32(b[p:]) != zipDirSig {
		return nil, zipError(p, "no central directory record")
	}
	r := b[p:]
	e := &zipEntry{
		flags:  binary.LittleEndian.Uint16(r[8:]),
		method: binary.LittleEndian.Uint16(r[10:]),
		crc:    binary.LittleEndian.Uint32(r[16:]),
		csize:  uint64(binary.LittleEndian.Uint32(r[20:])),
		usize:  uint64(binary.LittleEndian.Uint32(r[24:])),
		offset: uint64(binary.LittleEndian.Uint32(r[42:])),
	}
	nameLen := int64(binary.LittleEndian.Uint16(r[28:]))
	extraLen := int64(binary.LittleEndian.Uint16(r[30:]))
	commentLen := int64(binary.LittleEndian.Uint16(r[32:]))
	recLen := zipDirLen + nameLen + extraLen + commentLen
	if p+recLen > int64(len(b)) {
		return nil, zipError(p, "central directory record of %d bytes past the archive's end", recLen)
	}
	e.name = string(r[zipDirLen : zipDirLen+nameLen])
	extra := r[zipDirLen+nameLen : zipDirLen+nameLen+extraLen]
	// The zip64 extra field holds, in this order, whichever of the sizes
	// and the offset overflowed 32 bits.
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if id == 0x0001 {
			f := extra[4 : 4+n]
			for _, v := range []*uint64{&e.usize, &e.csize, &e.offset} {
				if *v != 0xffffffff {
					continue
				}
				if len(f) < 8 {
					return nil, zipError(p, "zip64 extra field too short for %q", e.name)
				}
				*v = binary.LittleEndian.Uint64(f)
				f = f[8:]
			}
		}
		extra = extra[4+n:]
	}
	z.pos += recLen
	z.seen++
	return e, nil
}

// data returns a member's stored bytes, found through its local header.
func (z *zipDir) data(e *zipEntry) ([]byte, error) {
	b := z.b
	size := uint64(len(b))
	off := uint64(z.base) + e.offset
	if off < e.offset || off > size || size-off < zipLocalLen || binary.LittleEndian.Uint32(b[off:]) != zipLocalSig {
		return nil, zipError(int64(min(off, size)), "no local header for %q at %d", e.name, e.offset)
	}
	l := b[off:]
	start := off + zipLocalLen + uint64(binary.LittleEndian.Uint16(l[26:])) + uint64(binary.LittleEndian.Uint16(l[28:]))
	if start > size || e.csize > size-start {
		return nil, zipError(int64(off), "data of %q (%d bytes at %d) past the archive's end", e.name, e.csize, start)
	}
	return b[start : start+e.csize], nil
}

// crcReader checks a member's CRC-32 and size against its directory
// record once the member has been read to its end.
type crcReader struct {
	r        io.Reader
	h        hash.Hash32
	n        uint64
	eof      bool
	mismatch string
	e        *zipEntry
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += uint64(n)
	if err == io.EOF && !c.eof {
		c.eof = true
		switch {
		case c.n != c.e.usize:
			c.mismatch = fmt.Sprintf("%d bytes, its directory record says %d", c.n, c.e.usize)
		case c.h.Sum32() != c.e.crc:
			c.mismatch = fmt.Sprintf("CRC-32 %08x, its directory record says %08x", c.h.Sum32(), c.e.crc)
		}
	}
	return n, err
}

// walkZip holds a zip in memory, within the layer's memory bound, and
// reads its members. size is its length when known, else -1.
func (ns *nestedScan) walkZip(where string, r io.Reader, size int64, depth int) error {
	left := ns.lim.memory - ns.ln.held
	tooBig := func(n string) {
		ns.limit(limitMemory, where, fmt.Sprintf("a zip archive of %s bytes, with %d of the %d-byte nested memory bound left to hold it (a zip is read from its end, so it is held whole)", n, max(left, 0), ns.lim.memory))
	}
	if size > left {
		tooBig(fmt.Sprint(size))
		return nil
	}
	var b []byte
	if size >= 0 {
		// The size is known (a tar, ar or cpio member): one allocation of
		// exactly that, where a growing buffer would double.
		b = make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("zip: %w", err)
		}
	} else {
		var err error
		if b, err = io.ReadAll(io.LimitReader(r, left+1)); err != nil {
			return fmt.Errorf("zip: %w", err)
		}
		if int64(len(b)) > left {
			tooBig(fmt.Sprintf("more than %d", left))
			return nil
		}
	}
	ns.ln.held += int64(cap(b))
	defer func() { ns.ln.held -= int64(cap(b)) }()
	return ns.walkZipBytes(where, b, depth)
}

// walkZipBytes reads the members of the zip archive b. A member that
// cannot be read is noted and the next one read: the archive is in
// memory, so one broken member breaks no other.
func (ns *nestedScan) walkZipBytes(where string, b []byte, depth int) error {
	z, err := openZipDir(b)
	if err != nil {
		return err
	}
	var fr io.ReadCloser // one inflater, reset for every member
	for {
		e, err := z.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(e.name) > 0 && e.name[len(e.name)-1] == '/' && e.usize == 0 {
			continue // a folder
		}
		name := memberName(e.name)
		if e.flags&zipFlagCrypted != 0 {
			ns.fail(join(where, name), kindZip, errors.New("encrypted: not read"))
			continue
		}
		data, err := z.data(e)
		if err != nil {
			ns.fail(join(where, name), kindZip, err)
			continue
		}
		var dec io.Reader
		var release func()
		switch e.method {
		case zipStored:
			dec = bytes.NewReader(data)
		case zipDeflate:
			if fr == nil {
				fr = flate.NewReader(bytes.NewReader(data))
			} else if err := fr.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
				return fmt.Errorf("zip: %w", err)
			}
			dec = fr
		case zipBzip2, zipZstd, zipXZ:
			f := map[uint16]compress.Format{zipBzip2: compress.Bzip2, zipZstd: compress.Zstd, zipXZ: compress.XZ}[e.method]
			mem, ok := compress.DecoderMemory(f, data)
			if !ok {
				ns.fail(join(where, name), kindZip, fmt.Errorf("%s member: no window or dictionary size readable", f))
				continue
			}
			if !ns.reserve(mem) {
				ns.limit(limitMemory, join(where, name), fmt.Sprintf("a %s decoder needing %d bytes, with %d of the %d-byte nested memory bound left", f, mem, ns.lim.memory-ns.ln.held, ns.lim.memory))
				continue
			}
			rc, err := compress.OpenLimited(bytes.NewReader(data), f, mem)
			if err != nil {
				ns.release(mem)
				ns.fail(join(where, name), kindZip, err)
				continue
			}
			dec, release = rc, func() { rc.Close(); ns.release(mem) }
		default:
			ns.fail(join(where, name), kindZip, fmt.Errorf("compression method %d not read", e.method))
			continue
		}
		// The compressed size is all the input a member has: the ratio is
		// checked against it from the first byte on.
		csize := int64(e.csize)
		rs := &ratioStop{max: ns.lim.ratio}
		rr := iox.NewRatioReader(dec, func() int64 { return csize }, ns.lim.ratio, func(n, c int64) error {
			rs.n, rs.compressed = n, c
			return rs
		})
		cr := &crcReader{r: rr, h: crc32.NewIEEE(), e: e}
		err = ns.member(where, name, cr, int64(e.usize), depth)
		if release != nil {
			release()
		}
		switch {
		case ns.ratioOf(err, rs, join(where, name)):
		case isStop(err):
			return err
		case err != nil:
			ns.fail(join(where, name), kindZip, err)
		case cr.mismatch != "":
			ns.fail(join(where, name), kindZip, fmt.Errorf("%w: read %s", ErrFormat, cr.mismatch))
		}
	}
}
