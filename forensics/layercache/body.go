package layercache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
)

// A layer entry's body holds what one walk of the layer gave: its summary
// and its detectors' results. All of it is JSON but the tar entries, the
// bulk (a base layer has thousands, some layers millions), which are
// binary: decoding them as gzip JSON was some 60% of an assembling scan's
// work, and an assembly reads every layer of the fleet back.
//
//	uvarint  the length of the JSON
//	JSON     {"summary":…,"detect":…}, the summary's Entries and FormatEntries left out
//	entries  the summary's Entries
//	entries  its FormatEntries
//
// where entries is a uvarint count, then for each entry:
//
//	uvarint  the bytes its path shares with the previous entry's path
//	string   the rest of its path
//	byte     its Type
//	byte     flags: which of link, sha256, name and xattrs follow
//	uvarint  mode
//	varint   size, offset, mtime, mtime_nsec, uid, gid
//	string   link, sha256, name, each when flagged
//	uvarint  the number of xattrs, then each key and value string, keys in
//	         order, when flagged
//
// and a string is a uvarint length and its bytes. Tar order keeps a
// folder's files together, so the shared prefix makes paths short.
//
// Nothing of a body is read before its entry's MAC is checked, and only
// strata writes under the key; yet every count and length is checked
// against the bytes left, so no body can make the decoder read past its
// end, panic (FuzzBody), or allocate more than a small multiple of its
// own size (an entry of at least minEntryBytes for each layer.Entry).

// Entry flags.
const (
	hasLink = 1 << iota
	hasSHA256
	hasName
	hasXattrs
)

// minEntryBytes is the fewest bytes an encoded entry takes: a shared
// length, a path length, type, flags, mode and six varints of one byte.
const minEntryBytes = 11

// MarshalResults encodes a layer's results as a layer entry's body. A nil
// summary is encoded as none, which UnmarshalResults refuses.
func MarshalResults(s *layer.Summary, d *detect.LayerResult) ([]byte, error) {
	o := body{Detect: d}
	if s == nil {
		s = &layer.Summary{}
	} else {
		rest := *s
		rest.Entries, rest.FormatEntries = nil, nil
		o.Summary = &rest
	}
	js, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(js)+64*(len(s.Entries)+len(s.FormatEntries))+16)
	b = binary.AppendUvarint(b, uint64(len(js)))
	b = append(b, js...)
	b = appendEntries(b, s.Entries)
	b = appendEntries(b, s.FormatEntries)
	return b, nil
}

func appendEntries(b []byte, es []*layer.Entry) []byte {
	b = binary.AppendUvarint(b, uint64(len(es)))
	prev := ""
	for _, e := range es {
		n := 0
		for n < len(prev) && n < len(e.Path) && prev[n] == e.Path[n] {
			n++
		}
		b = binary.AppendUvarint(b, uint64(n))
		b = appendString(b, e.Path[n:])
		prev = e.Path
		var flags byte
		if e.Link != "" {
			flags |= hasLink
		}
		if e.SHA256 != "" {
			flags |= hasSHA256
		}
		if e.Name != "" {
			flags |= hasName
		}
		if len(e.Xattrs) > 0 {
			flags |= hasXattrs
		}
		b = append(b, byte(e.Type), flags)
		b = binary.AppendUvarint(b, uint64(e.Mode))
		for _, v := range [...]int64{e.Size, e.Offset, e.MTime, int64(e.MTimeNsec), int64(e.UID), int64(e.GID)} {
			b = binary.AppendVarint(b, v)
		}
		if flags&hasLink != 0 {
			b = appendString(b, e.Link)
		}
		if flags&hasSHA256 != 0 {
			b = appendString(b, e.SHA256)
		}
		if flags&hasName != 0 {
			b = appendString(b, e.Name)
		}
		if flags&hasXattrs != 0 {
			keys := make([]string, 0, len(e.Xattrs))
			for k := range e.Xattrs {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b = binary.AppendUvarint(b, uint64(len(keys)))
			for _, k := range keys {
				b = appendString(b, k)
				b = appendString(b, e.Xattrs[k])
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UnmarshalResults decodes a layer entry's body.
func UnmarshalResults(b []byte) (*layer.Summary, *detect.LayerResult, error) {
	d := decoder{b: b}
	n := d.length()
	js := d.bytes(n)
	if d.err != nil {
		return nil, nil, d.err
	}
	var o body
	if err := json.Unmarshal(js, &o); err != nil {
		return nil, nil, err
	}
	if o.Summary == nil {
		return nil, nil, errors.New("no walk summary")
	}
	o.Summary.Entries = d.entries()
	o.Summary.FormatEntries = d.entries()
	if d.err == nil && d.off != len(d.b) {
		d.fail("bytes past the entries")
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	return o.Summary, o.Detect, nil
}

// decoder reads a body; its first error stops it, and every later read
// gives zero values.
type decoder struct {
	b   []byte
	off int
	err error
	buf []byte // the previous path, to extend
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("results at byte %d: %s", d.off, what)
	}
}

func (d *decoder) uvarint() uint64 { return number(d, binary.Uvarint) }

func (d *decoder) varint() int64 { return number(d, binary.Varint) }

// number reads one varint with read (binary.Uvarint or binary.Varint).
func number[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b[d.off:])
	if n <= 0 {
		d.fail("a bad number")
		return 0
	}
	d.off += n
	return v
}

// length reads a length, which must not pass the bytes left.
func (d *decoder) length() int {
	v := d.uvarint()
	if v > uint64(len(d.b)-d.off) {
		d.fail("a length past the end")
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) byte() byte {
	if d.err == nil && d.off >= len(d.b) {
		d.fail("the end of the results")
	}
	if d.err != nil {
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) string() string { return string(d.bytes(d.length())) }

// bounded reads a varint that must lie in [lo, hi].
func (d *decoder) bounded(lo, hi int64) int64 {
	v := d.varint()
	if v < lo || v > hi {
		d.fail("a number out of range")
		return 0
	}
	return v
}

func (d *decoder) entries() []*layer.Entry {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off)/minEntryBytes {
		d.fail("more entries than bytes for them")
		return nil
	}
	// One allocation for all: an entry never moves, and the entries of a
	// layer live and die together.
	slab := make([]layer.Entry, n)
	es := make([]*layer.Entry, n)
	prev := ""
	for i := range slab {
		e := &slab[i]
		shared := d.uvarint()
		if shared > uint64(len(prev)) {
			d.fail("a path sharing more than the path before it")
		}
		rest := d.bytes(d.length())
		if d.err != nil {
			return nil
		}
		d.buf = append(append(d.buf[:0], prev[:shared]...), rest...)
		e.Path = string(d.buf)
		prev = e.Path
		e.Type = layer.Type(d.byte())
		flags := d.byte()
		mode := d.uvarint()
		if mode > math.MaxUint32 {
			d.fail("a mode out of range")
		}
		e.Mode = fs.FileMode(mode)
		e.Size = d.varint()
		e.Offset = d.varint()
		e.MTime = d.varint()
		e.MTimeNsec = int32(d.bounded(math.MinInt32, math.MaxInt32))
		e.UID = int(d.bounded(math.MinInt, math.MaxInt))
		e.GID = int(d.bounded(math.MinInt, math.MaxInt))
		if flags&hasLink != 0 {
			e.Link = d.string()
		}
		if flags&hasSHA256 != 0 {
			if b := d.bytes(d.length()); string(b) == layer.EmptySHA256 {
				e.SHA256 = layer.EmptySHA256 // one string for every empty file, none made
			} else {
				e.SHA256 = string(b)
			}
		}
		if flags&hasName != 0 {
			e.Name = d.string()
		}
		if flags&hasXattrs != 0 {
			nx := d.uvarint()
			if nx == 0 || nx > uint64(len(d.b)-d.off)/2 {
				d.fail("an xattr count out of range")
			}
			if d.err == nil {
				e.Xattrs = make(map[string]string, min(nx, 8)) // grown as they are read
				for range nx {
					k := d.string()
					e.Xattrs[k] = d.string()
				}
			}
		}
		if flags&^(hasLink|hasSHA256|hasName|hasXattrs) != 0 {
			d.fail("unknown entry flags")
		}
		if d.err != nil {
			return nil
		}
		es[i] = e
	}
	return es
}
