package compress

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func skippable(nibble byte, data []byte) []byte {
	f := []byte{0x50 | nibble, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(f[4:], uint32(len(data)))
	return append(f, data...)
}

// zstd skippable frames (RFC 8878 §3.1.2), which zstd:chunked appends after
// its data frames, are zstd whether they come first or last, and decode to
// nothing.
func TestZstdSkippableFrames(t *testing.T) {
	var z bytes.Buffer
	w, _ := zstd.NewWriter(&z)
	w.Write([]byte("payload"))
	w.Close()
	tests := []struct {
		name string
		in   []byte
	}{
		{"frame then skippable frames", append(append(z.Bytes(), skippable(0, []byte("toc"))...), skippable(0, make([]byte, 64))...)},
		{"skippable frame first", append(skippable(0xf, []byte("\x1f\x8b not gzip")), z.Bytes()...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f := Sniff(tt.in); f != Zstd {
				t.Fatalf("sniffed %q, want zstd", f)
			}
			rc, f, err := Reader(bytes.NewReader(tt.in))
			if err != nil || f != Zstd {
				t.Fatalf("Reader: %q, %v", f, err)
			}
			defer rc.Close()
			out, err := io.ReadAll(rc)
			if err != nil || string(out) != "payload" {
				t.Fatalf("decoded %q, %v", out, err)
			}
		})
	}
	if f := Sniff([]byte{0x60, 0x2a, 0x4d, 0x18}); f != None {
		t.Errorf("0x184D2A60 sniffed as %q: it is no skippable frame magic", f)
	}
}
