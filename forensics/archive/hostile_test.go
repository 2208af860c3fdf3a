package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// TestBombArchive is the regression test for the hostile suite's
// bomb-archive-* cases: an input compressed as a whole, holding a member of
// 16 GiB of zeros, kept the indexer decompressing until the deadline. It
// must stop at the ratio limit, say so as a limit problem naming the flag,
// and still index the members before the bomb.
func TestBombArchive(t *testing.T) {
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	for _, m := range []struct {
		name string
		size int64
	}{{"oci-layout", 30}, {"index.json", 20}} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Size: m.size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(m.size)))
	}
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Size: 16 << 30, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Flush() // the header only; the zeros follow as repeated frames
	frame := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	in := frame(head.Bytes())
	chunk := frame(make([]byte, 64<<20))
	for range 256 {
		in = append(in, chunk...)
	}
	p := writeFile(t, in)

	for _, tc := range []struct {
		name      string
		ratio     float64
		wantLimit bool
	}{
		{"default", 0, true},
		{"raised", 1e9, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if !tc.wantLimit {
				// Raised, the limit lets the bomb run: the deadline is what
				// stops it, which proves the flag changes the outcome.
				ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
				defer cancel()
			}
			a, err := Open(ctx, p, Options{MaxRatio: tc.ratio})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			var limit *integrity.Problem
			for i, pr := range a.Problems {
				if pr.Kind == integrity.Limit {
					limit = &a.Problems[i]
				}
			}
			if !tc.wantLimit {
				// Raised, the limit lets the bomb run until the deadline
				// cuts it short: the flag changes the outcome.
				if limit != nil {
					t.Fatalf("ratio raised, yet a limit problem: %v", limit)
				}
				return
			}
			if limit == nil || !strings.Contains(limit.Detail, "--max-ratio") {
				t.Fatalf("want a limit problem naming --max-ratio, got %v", a.Problems)
			}
			if _, ok := a.Stat("index.json"); !ok {
				t.Error("index.json, before the bomb, is not indexed")
			}
			if a.Info.SHA256 == "" {
				t.Error("no digest of the input")
			}
		})
	}
}
