package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-forensics/strata/forensics/compress"
)

// recorder is a RegionWatcher that keeps what it was shown.
type recorder struct {
	bytes.Buffer
	gaps    bool
	endOff  int64
	endErr  error
	endings int
}

func (r *recorder) Watch(off int64, b []byte, err error) {
	if err != nil {
		r.endOff, r.endErr = off, err
		r.endings++
		return
	}
	if off != int64(r.Len()) || len(b) == 0 {
		r.gaps = true
	}
	r.Write(b)
}

// A watcher of the background hash is shown every byte of the input once,
// in order, then the end; a watcher no hash takes is told so at once.
func TestHashWatchers(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), readBuffer/8+5) // spans reads
	raw := mkTar(t, append(slices.Clone(ociMembers), member{name: "blobs/sha256/cccc", body: string(big)})...)
	p := writeFile(t, raw)
	a, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	w1, w2 := &recorder{}, &recorder{}
	if !a.StartHash(w1, nil, w2) {
		t.Fatal("StartHash did not start the hash of an uncompressed tar")
	}
	late := &recorder{}
	if a.StartHash(late) {
		t.Fatal("StartHash started a second hash")
	}
	if late.endings != 1 || !errors.Is(late.endErr, ErrNotHashed) || late.Len() != 0 {
		t.Fatalf("a watcher no hash took: %d endings, %v, %d bytes", late.endings, late.endErr, late.Len())
	}
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, w := range []*recorder{w1, w2} {
		if !bytes.Equal(w.Bytes(), raw) || w.gaps {
			t.Errorf("watcher %d: shown %d bytes (gaps %v), want the %d of the input in order", i, w.Len(), w.gaps, len(raw))
		}
		if w.endings != 1 || w.endErr != io.EOF || w.endOff != int64(len(raw)) {
			t.Errorf("watcher %d: ended %d times, last at %d with %v; want once, at %d with io.EOF", i, w.endings, w.endOff, w.endErr, len(raw))
		}
	}
}

// Inputs with no background hash (a folder, an input compressed as a
// whole) start none, and tell their watchers so.
func TestHashWatchersNoHash(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"oci-layout": `{"imageLayoutVersion":"1.0.0"}`, "index.json": `{"schemaVersion":2,"manifests":[]}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range map[string]string{
		"folder":     dir,
		"compressed": writeFile(t, compressed(t, compress.Gzip, mkTar(t, ociMembers...))),
	} {
		t.Run(name, func(t *testing.T) {
			a, err := Open(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			w := &recorder{}
			if a.StartHash(w) {
				t.Fatal("StartHash started a hash")
			}
			if w.endings != 1 || !errors.Is(w.endErr, ErrNotHashed) {
				t.Fatalf("%d endings, %v; want ErrNotHashed once", w.endings, w.endErr)
			}
		})
	}
}
