package compress

import (
	"bufio"
	"compress/bzip2"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
)

// LZMA is the classic .lzma format (lzma_alone), the payload of old rpm
// packages. It has no magic number, so Sniff never names it: a caller that
// knows (an rpm header naming its payload compressor, a .lzma name) asks
// for it, and SniffLZMA checks that the header is plausible.
const LZMA Format = "lzma"

// Memory a decoder holds besides its window or dictionary: the gzip and
// flate state (a 32 KiB window, Huffman tables, buffers), or a zstd or xz
// decoder's block buffers. Estimates, rounded up.
const (
	gzipMemory    = 128 << 10
	decoderExtra  = 512 << 10
	bzip2PerLevel = 100_000 * 4 // bzip2 keeps one uint32 per byte of its block
)

// zstdDefaultWindow is assumed for a zstd stream whose first frame header
// is not at its start: zstd's own levels up to 19 use at most 8 MiB.
const zstdDefaultWindow = 8 << 20

// lzmaHeaderLen is the classic LZMA header: properties, a little-endian
// dictionary size and a little-endian uncompressed size (all ones when
// unknown).
const lzmaHeaderLen = 13

// SniffLZMA reports whether head starts with a plausible classic LZMA
// header: a properties byte a decoder accepts (lc+lp <= 4 as xz-utils
// writes them, pb <= 4), a dictionary of at least 4 KiB, and a size that
// is either unknown or below a pebibyte. It cannot prove a stream is LZMA;
// it only keeps arbitrary bytes named .lzma from reaching the decoder.
func SniffLZMA(head []byte) bool {
	if len(head) < lzmaHeaderLen {
		return false
	}
	p := head[0]
	if p >= 9*5*5 {
		return false
	}
	lc, lp := int(p%9), int(p/9%5)
	if lc+lp > 4 {
		return false
	}
	dict := binary.LittleEndian.Uint32(head[1:5])
	size := binary.LittleEndian.Uint64(head[5:13])
	return dict >= lzma.MinDictCap && (size == ^uint64(0) || size < 1<<50)
}

// lzmaDict is the dictionary a classic LZMA header declares, and what a
// decoder allocates for it: no more than the stream's size when the header
// gives one (ulikunitz/xz clips it so), and at least lzma.MinDictCap.
func lzmaDict(head []byte) (declared, alloc int64, ok bool) {
	if !SniffLZMA(head) {
		return 0, 0, false
	}
	declared = int64(binary.LittleEndian.Uint32(head[1:5]))
	alloc = declared
	if size := int64(binary.LittleEndian.Uint64(head[5:13])); size >= 0 && size < alloc {
		alloc = size
	}
	return declared, max(alloc, lzma.MinDictCap), true
}

// zstdWindow is the window size the first frame of a zstd stream declares
// (RFC 8878 §3.1.1.1.2), or false when head starts with a skippable frame,
// is too short, or is no zstd frame. A single-segment frame's window is its
// content size.
func zstdWindow(head []byte) (int64, bool) {
	if len(head) < 5 || head[0] != 0x28 || head[1] != 0xb5 || head[2] != 0x2f || head[3] != 0xfd {
		return 0, false
	}
	fhd := head[4]
	single := fhd&0x20 != 0
	if !single {
		if len(head) < 6 {
			return 0, false
		}
		wd := head[5]
		exp, mant := int64(wd>>3), int64(wd&7)
		base := int64(1) << (10 + exp)
		return base + base/8*mant, true
	}
	dictLen := [4]int{0, 1, 2, 4}[fhd&3]
	fcsLen := [4]int{1, 2, 4, 8}[fhd>>6]
	off := 5 + dictLen
	if len(head) < off+fcsLen {
		return 0, false
	}
	b := head[off : off+fcsLen]
	var fcs uint64
	switch fcsLen {
	case 1:
		fcs = uint64(b[0])
	case 2:
		fcs = uint64(binary.LittleEndian.Uint16(b)) + 256
	case 4:
		fcs = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		fcs = binary.LittleEndian.Uint64(b)
	}
	if fcs > 1<<62 {
		fcs = 1 << 62
	}
	return int64(fcs), true
}

// xzMemory is xzDict for memory accounting: a stream whose first record
// is its index (an empty stream) needs no dictionary at all.
func xzMemory(head []byte) (int64, bool) {
	if len(head) > 12 && head[12] == 0 {
		return 0, true
	}
	return xzDict(head)
}

// DecoderMemory estimates the memory a decoder of f holds for the stream
// that starts with head: its window or dictionary as the stream's header
// declares it, plus the decoder's own buffers. ok is false when head does
// not say (too short, an xz block header this package cannot parse, a
// classic LZMA header no encoder writes); OpenLimited then refuses the
// stream rather than guess. A zstd stream whose first frame is skippable
// is assumed to need zstdDefaultWindow: its decoder refuses more.
func DecoderMemory(f Format, head []byte) (n int64, ok bool) {
	switch f {
	case None:
		return 0, true
	case Gzip:
		return gzipMemory, true
	case Bzip2:
		level := int64(9)
		if len(head) >= 4 && head[3] >= '1' && head[3] <= '9' {
			level = int64(head[3] - '0')
		}
		return level*bzip2PerLevel + decoderExtra, true
	case Zstd:
		w, ok := zstdWindow(head)
		if !ok {
			// A skippable frame first (or a stream too short to say): the
			// zstd decoder enforces whatever bound it is opened with, so a
			// guess is safe here; a later frame asking for more is refused.
			w = zstdDefaultWindow
		}
		return min(w, MaxZstdWindow) + decoderExtra, true
	case XZ:
		d, ok := xzMemory(head)
		if !ok {
			return 0, false
		}
		return d + decoderExtra, true
	case LZMA:
		_, d, ok := lzmaDict(head)
		if !ok {
			return 0, false
		}
		return d + decoderExtra, true
	}
	return 0, false
}

// OpenLimited is Open for a decoder that may hold at most maxMem bytes of
// window or dictionary: a stream declaring more is refused before anything
// is allocated (nested archives, whose decoders stack up, open theirs with
// what is left of a budget). The bounds Open applies (MaxZstdWindow,
// MaxXZDict) still hold. A later xz block or zstd frame declaring more
// than the first is refused by the zstd decoder; ulikunitz/xz sizes each
// block's dictionary itself, so only the first xz block is checked here.
func OpenLimited(r io.Reader, f Format, maxMem int64) (io.ReadCloser, error) {
	switch f {
	case None:
		return Open(r, f)
	case Gzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err := zr.Reset(r); err != nil {
			gzipPool.Put(zr)
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &pooledGzip{zr}, nil
	case Bzip2:
		br := bufio.NewReaderSize(r, 16)
		head, _ := br.Peek(4)
		if n, _ := DecoderMemory(Bzip2, head); n > maxMem {
			return nil, fmt.Errorf("bzip2: a block size needing %d bytes, over the %d-byte bound", n, maxMem)
		}
		return io.NopCloser(bzip2.NewReader(br)), nil
	case Zstd:
		w := min(maxMem, MaxZstdWindow)
		if w < zstd.MinWindowSize {
			return nil, fmt.Errorf("zstd: %d bytes left for a window, under zstd's minimum of %d", maxMem, zstd.MinWindowSize)
		}
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(uint64(w)), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, nil
	case XZ:
		br := bufio.NewReaderSize(r, 2048)
		head, _ := br.Peek(12 + 1024)
		d, ok := xzMemory(head)
		if !ok {
			return nil, fmt.Errorf("xz: no dictionary size readable in the first block header; not opened under a %d-byte bound", maxMem)
		}
		if d > min(maxMem, MaxXZDict) {
			return nil, fmt.Errorf("xz: a dictionary of %d bytes declared at offset %d, over the %d-byte bound", d, 12, min(maxMem, MaxXZDict))
		}
		return openXZ(br)
	case LZMA:
		return openLZMA(r, min(maxMem, MaxXZDict))
	}
	return nil, fmt.Errorf("unknown compression %q", f)
}

// gzipPool keeps gzip readers for OpenLimited, whose inflater and buffer
// hold some 40 KiB: nested archives open one for every compressed file of
// a layer (man pages, changelogs), and allocating each anew cost more than
// inflating most of them.
var gzipPool sync.Pool

// pooledGzip returns its reader to gzipPool on Close; it must not be read
// after.
type pooledGzip struct{ *gzip.Reader }

func (p *pooledGzip) Close() error {
	if p.Reader != nil {
		gzipPool.Put(p.Reader)
		p.Reader = nil
	}
	return nil
}

// openLZMA reads a classic LZMA stream whose decoder allocates at most
// maxDict bytes of dictionary, checked against the header before anything
// is allocated. ulikunitz/xz's lzma.ReaderConfig.DictCap is an upper bound
// on the declared dictionary (unlike xz.ReaderConfig's), though it
// allocates no more than the stream's size: it is set to the declared one
// once what will be allocated is known to fit.
func openLZMA(r io.Reader, maxDict int64) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64)
	head, _ := br.Peek(lzmaHeaderLen)
	declared, alloc, ok := lzmaDict(head)
	if !ok {
		return nil, fmt.Errorf("lzma: no plausible header (properties %s)", hexPrefix(head, 5))
	}
	if alloc > maxDict {
		return nil, fmt.Errorf("lzma: a dictionary of %d bytes declared, over the %d-byte bound", alloc, maxDict)
	}
	cfg := lzma.ReaderConfig{DictCap: int(min(max(declared, lzma.MinDictCap), lzma.MaxDictCap))}
	zr, err := cfg.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return io.NopCloser(zr), nil
}

func hexPrefix(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return fmt.Sprintf("%x", b)
}
