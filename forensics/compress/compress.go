// Package compress recognises a stream's compression from its magic bytes,
// never from a file name or a media type (tools mislabel both), and opens a
// streaming decompressor for it.
package compress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Format is a compression format, or None.
type Format string

const (
	None  Format = ""
	Gzip  Format = "gzip"
	Zstd  Format = "zstd"
	XZ    Format = "xz"
	Bzip2 Format = "bzip2"
)

var magics = []struct {
	f     Format
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Bzip2, []byte{'B', 'Z', 'h'}},
}

// Sniff names the compression of a stream starting with head. A zstd
// stream may start with a skippable frame (magic 0x184D2A50 to 0x184D2A5F,
// RFC 8878 §3.1.2), which decoders skip; zstd:chunked writes such frames
// after its data frames, and a producer may put one first.
func Sniff(head []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.f
		}
	}
	if len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18 {
		return Zstd
	}
	return None
}

// MaxZstdWindow bounds the memory a zstd frame may ask for; a hostile frame
// declaring a huge window is refused instead of allocating it.
const MaxZstdWindow = 128 << 20

// Reader sniffs r and returns a reader of its decompressed bytes. The
// returned Closer releases decompressor resources; it does not close r.
func Reader(r io.Reader) (io.ReadCloser, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, None, err
	}
	f := Sniff(head)
	rc, err := Open(br, f)
	return rc, f, err
}

// Open returns a decompressor for f over r.
func Open(r io.Reader, f Format) (io.ReadCloser, error) {
	switch f {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, nil
	case XZ:
		return openXZ(r)
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case LZMA:
		return openLZMA(r, MaxXZDict)
	}
	return nil, fmt.Errorf("unknown compression %q", f)
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
