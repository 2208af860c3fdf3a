package compress

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// MaxXZDict bounds the dictionary an xz stream may ask for, like
// MaxZstdWindow: xz -9 uses 64 MiB, and a hostile header declaring up to
// 4 GiB is refused instead of allocated.
const MaxXZDict = 256 << 20

// openXZ reads an xz stream with the dictionary its first block declares.
// ulikunitz/xz treats ReaderConfig.DictCap as a floor, not a cap (it takes
// the larger of it and the stream's), so the floor is the smallest allowed
// and the bound is checked here, before the reader allocates: a fixed large
// floor made every stream, even of a few bytes, allocate and zero it.
func openXZ(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 2048)
	// The stream header (12 bytes) and the first block header (at most
	// 1024 bytes) hold the LZMA2 filter's dictionary size.
	head, _ := br.Peek(12 + 1024)
	if dict, ok := xzDict(head); ok && dict > MaxXZDict {
		return nil, fmt.Errorf("xz: a dictionary of %d bytes declared at offset %d, over the %d-byte bound", dict, 12, MaxXZDict)
	}
	cfg := xz.ReaderConfig{DictCap: lzma.MinDictCap}
	zr, err := cfg.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	return io.NopCloser(zr), nil
}

// xzDict finds the LZMA2 dictionary size in the first block header of an
// xz stream (xz file format 1.2.1, §3.1 block header, §5.3.1 LZMA2). ok is
// false when head holds no such header; the decoder then says why.
func xzDict(head []byte) (dict int64, ok bool) {
	const streamHeader = 12
	if len(head) < streamHeader+2 || head[streamHeader] == 0 {
		return 0, false // too short, or an index: no block
	}
	size := (int(head[streamHeader]) + 1) * 4
	if len(head) < streamHeader+size {
		return 0, false
	}
	b := head[streamHeader+2 : streamHeader+size-4] // after size and flags, before the CRC32
	flags := head[streamHeader+1]
	for _, present := range []bool{flags&0x40 != 0, flags&0x80 != 0} {
		if present {
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return 0, false
			}
			b = b[n:]
		}
	}
	for range int(flags&0x03) + 1 {
		id, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		psize, n := binary.Uvarint(b)
		if n <= 0 || psize > uint64(len(b[n:])) {
			return 0, false
		}
		props := b[n : n+int(psize)]
		b = b[n+int(psize):]
		if id == 0x21 && len(props) == 1 {
			bits := props[0] & 0x3f
			switch {
			case bits > 40:
				return 0, false
			case bits == 40:
				return 1<<32 - 1, true
			}
			return int64(2|(bits&1)) << (bits/2 + 11), true
		}
	}
	return 0, false
}
