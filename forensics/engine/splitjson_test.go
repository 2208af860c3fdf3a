package engine

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/vbatts/tar-split/tar/storage"
)

// FuzzSplitReader holds splitReader to storage's own unpacker: the same
// entries, in the same order, and an error where it errs.
func FuzzSplitReader(f *testing.F) {
	var ts bytes.Buffer
	zw := gzip.NewWriter(&ts)
	packed(f, layerTar(f), zw)
	zr, err := gzip.NewReader(&ts)
	if err != nil {
		f.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add([]byte(`{"type":1,"name_raw":"/w==","size":3,"payload":"AAAAAAAAAAA=","position":0}` + "\n"))
	f.Add([]byte(`{"type":2,"payload":null,"position":0}` + "\n" + ` {"type":1,"name":"a\u00e9","size":1,"payload":"","position":1}`))
	f.Add([]byte(`{"type":1,"name":"a","size":1,"payload":"","position":1}` + "\n" + `{"type":1,"name":"./a","size":1,"payload":"","position":2}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := storage.NewJSONUnpacker(bytes.NewReader(data))
		got := newSplitReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			we, werr := want.Next()
			ge, gerr := got.Next()
			if (werr == nil) != (gerr == nil) || errors.Is(werr, io.EOF) != errors.Is(gerr, io.EOF) {
				t.Fatalf("entry %d: error %v, storage's unpacker %v", i, gerr, werr)
			}
			if werr != nil {
				return
			}
			if !sameEntry(ge, we) {
				t.Fatalf("entry %d: %+v, storage's unpacker %+v", i, ge, we)
			}
		}
	})
}

func sameEntry(a, b *storage.Entry) bool {
	return a.Type == b.Type && a.Name == b.Name && bytes.Equal(a.NameRaw, b.NameRaw) && a.Size == b.Size &&
		bytes.Equal(a.Payload, b.Payload) && a.Position == b.Position
}

// TestSplitReaderFastPath: what storage's packer writes is read without
// encoding/json (the fuzz target checks that it is read right).
func TestSplitReaderFastPath(t *testing.T) {
	var ts bytes.Buffer
	zw := gzip.NewWriter(&ts)
	packed(t, layerTar(t), zw)
	zr, _ := gzip.NewReader(&ts)
	u := newSplitReader(zr)
	var n int
	for {
		e, err := u.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if u.dec != nil {
			t.Fatalf("entry %d (%+v) went to encoding/json", n, e)
		}
	}
	if n == 0 {
		t.Fatal("no entries")
	}
}
