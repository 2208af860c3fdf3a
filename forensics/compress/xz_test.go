package compress

import (
	"bytes"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func xzBytes(t testing.TB, data []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: dict}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withDictProps rewrites the LZMA2 dictionary byte of the first block
// header, and its CRC32, as a hostile writer would.
func withDictProps(t *testing.T, stream []byte, props byte) []byte {
	t.Helper()
	b := bytes.Clone(stream)
	size := (int(b[12]) + 1) * 4
	hdr := b[12 : 12+size]
	i := bytes.Index(hdr, []byte{0x21, 0x01}) // LZMA2 filter id, one props byte
	if i < 0 {
		t.Fatal("no LZMA2 filter in the block header")
	}
	hdr[i+2] = props
	crc := crc32.ChecksumIEEE(hdr[:size-4])
	hdr[size-4], hdr[size-3], hdr[size-2], hdr[size-1] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
	return b
}

func TestXZ(t *testing.T) {
	data := bytes.Repeat([]byte("liblzma "), 4096)
	for _, tc := range []struct {
		name    string
		stream  []byte
		dict    int64
		wantErr string
	}{
		{name: "dict-64KiB", stream: xzBytes(t, data, 64<<10), dict: 64 << 10},
		{name: "dict-8MiB", stream: xzBytes(t, data, 8<<20), dict: 8 << 20},
		{name: "dict-64MiB", stream: withDictProps(t, xzBytes(t, data, 8<<20), 28), dict: 64 << 20},
		{name: "dict-1GiB-refused", stream: withDictProps(t, xzBytes(t, data, 8<<20), 36), dict: 1 << 30, wantErr: "over the"},
		{name: "dict-4GiB-refused", stream: withDictProps(t, xzBytes(t, data, 8<<20), 40), dict: 1<<32 - 1, wantErr: "over the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d, ok := xzDict(tc.stream); !ok || d != tc.dict {
				t.Errorf("xzDict = %d, %v; want %d", d, ok, tc.dict)
			}
			rc, f, err := Reader(bytes.NewReader(tc.stream))
			if f != XZ {
				t.Fatalf("sniffed %q", f)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
		})
	}
}

// TestXZSmallStreamSmallMemory: a small xz stream (a .deb's control.tar.xz
// inside a layer) costs memory by its own dictionary, not a fixed 256 MiB
// floor that every stream allocated and zeroed before.
func TestXZSmallStreamSmallMemory(t *testing.T) {
	stream := xzBytes(t, []byte("Package: liblzma5\n"), 1<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 4 {
		rc, _, err := Reader(bytes.NewReader(stream))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Errorf("4 small xz streams allocated %d MiB", n>>20)
	}
}

func FuzzXZDict(f *testing.F) {
	f.Add(xzBytes(f, []byte("x"), 1<<20))
	f.Fuzz(func(t *testing.T, b []byte) {
		xzDict(b)
	})
}
