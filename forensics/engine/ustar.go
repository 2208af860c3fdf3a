package engine

import (
	"bytes"
	"strconv"
)

const blockSize = 512

// header is what Drift keeps of one tar header; size is that of the
// data that follows it.
type header struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	size     int64
}

// ustarHeader reads the one plain POSIX ustar header (a layer's usual
// member: a name of up to 255 bytes, octal numbers, no extended records)
// that block starts with, as tar-split's tar reader would, without it: the
// reader costs more for each of a layer's headers than the rest of the
// drift check. ok is false for anything else (a PAX or GNU record, a
// GNU or V7 header, a base-256 number, a bad checksum, the end-of-archive
// blocks), which the reader then reads. FuzzUstarHeader holds the two to
// the same answer.
func ustarHeader(block []byte) (h header, ok bool) {
	if len(block) < blockSize {
		return h, false
	}
	b := block[:blockSize]
	if string(b[257:263]) != "ustar\x00" || string(b[263:265]) != "00" || string(b[508:512]) == "tar\x00" {
		return h, false // not POSIX ustar, or star's (whose prefix is shorter)
	}
	switch h.typ = b[156]; h.typ {
	case '0', '1', '2', '3', '4', '5', '6':
	default:
		return h, false // '\x00' is renamed by the reader, and the rest are records or rare
	}
	if !checksumOK(b) {
		return h, false
	}
	// The reader refuses a header whose modification time or device
	// numbers do not parse, though Drift keeps neither: so are they checked.
	var mode, uid, gid, size, unused int64
	for _, f := range []struct {
		v     *int64
		field []byte
	}{{&mode, b[100:108]}, {&uid, b[108:116]}, {&gid, b[116:124]}, {&size, b[124:136]},
		{&unused, b[136:148]}, {&unused, b[329:337]}, {&unused, b[337:345]}} {
		v, ok := octal(f.field)
		if !ok {
			return h, false
		}
		*f.v = v
	}
	name := cstring(b[0:100])
	if prefix := cstring(b[345:500]); prefix != "" {
		name = prefix + "/" + name
	}
	if name == "" {
		return h, false
	}
	if h.typ != '0' {
		size = 0 // the reader gives links, devices and folders no data, whatever the field says
	}
	h.name, h.mode, h.uid, h.gid, h.size = name, mode, int(uid), int(gid), size
	return h, true
}

// checksumOK checks the header's unsigned checksum (the field counted as
// spaces), the one every writer of these years computes.
func checksumOK(b []byte) bool {
	want, ok := octal(b[148:156])
	if !ok {
		return false
	}
	var sum int64
	for i, c := range b[:blockSize] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// octal parses a numeric field written in octal, spaces and NULs around it.
func octal(b []byte) (int64, bool) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		return 0, false // base-256
	}
	b = bytes.Trim(b, " \x00")
	if len(b) == 0 {
		return 0, true
	}
	v, err := strconv.ParseUint(string(b), 8, 63)
	return int64(v), err == nil
}

// cstring is b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
