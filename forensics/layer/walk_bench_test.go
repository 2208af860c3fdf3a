package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-forensics/strata/bench/synth"
)

// benchBlob is a realistic 64 MiB gzip layer: 6,000 files of mixed sizes
// and kinds (see bench/synth).
func benchBlob(b *testing.B) *synth.Blob {
	b.Helper()
	blob, err := synth.GzipLayer(64, 6000, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	return blob
}

// BenchmarkWalkGzipLayer is Walk over a gzip layer: decompression, the
// diff_id, the tar walk and a sha256 of every file, without detectors.
func BenchmarkWalkGzipLayer(b *testing.B) {
	blob := benchBlob(b)
	b.SetBytes(blob.TarSize)
	b.ReportAllocs()
	for b.Loop() {
		s, err := Walk(context.Background(), bytes.NewReader(blob.Gzip), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if s.DiffID != blob.DiffID {
			b.Fatalf("diff_id %s, want %s", s.DiffID, blob.DiffID)
		}
	}
}

// BenchmarkGzipLayerLimit is the same layer read by the least code that
// does the same hashing (the limit program's work for one layer): the
// floor BenchmarkWalkGzipLayer is measured against.
func BenchmarkGzipLayerLimit(b *testing.B) {
	blob := benchBlob(b)
	b.SetBytes(blob.TarSize)
	b.ReportAllocs()
	buf := make([]byte, 256<<10)
	for b.Loop() {
		outer := sha256.New()
		zr, err := gzip.NewReader(io.TeeReader(bytes.NewReader(blob.Gzip), outer))
		if err != nil {
			b.Fatal(err)
		}
		diff := sha256.New()
		un := io.TeeReader(zr, diff)
		tr := tar.NewReader(un)
		fh := sha256.New()
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				fh.Reset()
				if _, err := io.CopyBuffer(fh, tr, buf); err != nil {
					b.Fatal(err)
				}
				fh.Sum(nil)
			}
		}
		if _, err := io.CopyBuffer(io.Discard, un, buf); err != nil {
			b.Fatal(err)
		}
		diff.Sum(nil)
		outer.Sum(nil)
	}
}
