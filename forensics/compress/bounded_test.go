package compress

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
)

func lzmaBytes(t testing.TB, data []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := lzma.WriterConfig{DictCap: dict}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lzmaSized is lzmaBytes with the uncompressed size in the header.
func lzmaSized(t testing.TB, data []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := lzma.WriterConfig{DictCap: dict, SizeInHeader: true, Size: int64(len(data))}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zstdFrame is a zstd frame declaring window bytes (a power of two from
// 1 KiB) and holding one raw block of data.
func zstdFrame(window int64, data []byte) []byte {
	exp := byte(0)
	for int64(1)<<(10+exp) < window {
		exp++
	}
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, exp << 3}
	h := uint32(1) | uint32(len(data))<<3 // last block, raw, its size
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, data...)
}

// withLZMADict rewrites a classic LZMA header's dictionary size.
func withLZMADict(b []byte, dict uint32) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[1:5], dict)
	return b
}

// TestDecoderMemory reads the window or dictionary each format's header
// declares, and OpenLimited refuses a stream needing more than it is
// given, before allocating it.
func TestDecoderMemory(t *testing.T) {
	data := bytes.Repeat([]byte("liblzma "), 4096)
	lz := lzmaBytes(t, data, 1<<20)
	cases := []struct {
		name   string
		f      Format
		stream []byte
		out    []byte // what it decodes to
		mem    int64  // what DecoderMemory says, -1 for not ok
		limit  int64  // OpenLimited's bound
		err    string
	}{
		{"gzip", Gzip, gzipBytes(t, data), data, gzipMemory, 1 << 20, ""},
		{"bzip2 level 9 header", Bzip2, []byte("BZh9"), nil, 9*bzip2PerLevel + decoderExtra, 1 << 20, "over the"},
		{"bzip2 level 1 header", Bzip2, []byte("BZh1"), nil, bzip2PerLevel + decoderExtra, 1 << 20, "unexpected EOF"},
		{"zstd window 8 MiB", Zstd, zstdFrame(8<<20, []byte("hello")), []byte("hello"), 8<<20 + decoderExtra, 16 << 20, ""},
		{"zstd window over the bound", Zstd, zstdFrame(8<<20, []byte("hello")), nil, 8<<20 + decoderExtra, 1 << 20, "window"},
		{"zstd single segment", Zstd, zstdBytes(t, data, zstd.WithSingleSegment(true)), data, int64(len(data)) + decoderExtra, 1 << 20, ""},
		{"zstd skippable frame first", Zstd, append([]byte{0x50, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 'x'}, zstdFrame(1<<20, []byte("hi"))...), []byte("hi"), zstdDefaultWindow + decoderExtra, 16 << 20, ""},
		{"xz 8 MiB", XZ, xzBytes(t, data, 8<<20), data, 8<<20 + decoderExtra, 16 << 20, ""},
		{"xz over the bound", XZ, xzBytes(t, data, 8<<20), nil, 8<<20 + decoderExtra, 4 << 20, "over the"},
		{"lzma 1 MiB, size unknown", LZMA, lz, data, 1<<20 + decoderExtra, 2 << 20, ""},
		{"lzma, its size below its dictionary", LZMA, lzmaSized(t, data, 1<<20), data, max(int64(len(data)), lzma.MinDictCap) + decoderExtra, 2 << 20, ""},
		{"lzma dictionary over the bound", LZMA, withLZMADict(lz, 64<<20), nil, 64<<20 + decoderExtra, 1 << 20, "over the"},
		{"lzma garbage", LZMA, []byte("plain text that is not lzma"), nil, -1, 1 << 20, "no plausible header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := c.stream
			if len(head) > 1036 {
				head = head[:1036]
			}
			mem, ok := DecoderMemory(c.f, head)
			if !ok {
				mem = -1
			}
			if mem != c.mem {
				t.Errorf("DecoderMemory = %d, want %d", mem, c.mem)
			}
			rc, err := OpenLimited(bytes.NewReader(c.stream), c.f, c.limit)
			if err == nil {
				var out []byte
				out, err = io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(out, c.out) {
					t.Errorf("decoded %d bytes, want %d", len(out), len(c.out))
				}
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("OpenLimited: %v, want %q", err, c.err)
			}
		})
	}
}

func TestSniffLZMA(t *testing.T) {
	lz := lzmaBytes(t, []byte("x"), 1<<20)
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"lzma_alone", lz, true},
		{"short", lz[:12], false},
		{"properties out of range", append([]byte{225}, lz[1:]...), false},
		{"lc+lp over 4", append([]byte{4 + 9*1}, lz[1:]...), false},
		{"tiny dictionary", withLZMADict(lz, 1024), false},
		{"text", []byte("#!/bin/sh\necho hello\n"), false},
	}
	for _, c := range cases {
		if got := SniffLZMA(c.head); got != c.want {
			t.Errorf("%s: SniffLZMA = %v, want %v", c.name, got, c.want)
		}
	}
	if f := Sniff(lz); f != None {
		t.Errorf("Sniff named an lzma stream %q: it has no magic and must be asked for", f)
	}
}

// FuzzLZMA reads arbitrary bytes as a classic LZMA stream under a small
// bound: no panic, and nothing allocated beyond the bound (a header's
// dictionary over it is refused before the decoder exists).
func FuzzLZMA(f *testing.F) {
	f.Add(lzmaBytes(f, []byte("liblzma"), 1<<20))
	f.Add(withLZMADict(lzmaBytes(f, []byte("liblzma"), 1<<20), 1<<31))
	f.Add([]byte{0x5d, 0, 0, 0x10, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		const bound = 4 << 20
		mem, ok := DecoderMemory(LZMA, b)
		if ok && mem < 0 {
			t.Fatalf("negative memory %d", mem)
		}
		rc, err := OpenLimited(bytes.NewReader(b), LZMA, bound)
		if err != nil {
			if ok && mem <= bound && SniffLZMA(b) && strings.Contains(err.Error(), "over the") {
				t.Fatalf("refused a %d-byte dictionary under a %d-byte bound: %v", mem, bound, err)
			}
			return
		}
		if !ok {
			t.Fatalf("opened a stream DecoderMemory cannot size")
		}
		io.Copy(io.Discard, io.LimitReader(rc, 16<<20))
		rc.Close()
	})
}

// FuzzDecoderMemory sizes arbitrary heads as every format: no panic, never
// a negative size.
func FuzzDecoderMemory(f *testing.F) {
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xff})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xc3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("BZh9"))
	f.Fuzz(func(t *testing.T, head []byte) {
		for _, fm := range []Format{None, Gzip, Bzip2, Zstd, XZ, LZMA} {
			if n, ok := DecoderMemory(fm, head); ok && n < 0 {
				t.Fatalf("%s: negative memory %d", fm, n)
			}
		}
	})
}
