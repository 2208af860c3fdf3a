package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/imagebuild"
)

// noise is n bytes that do not compress, so that layers holding them stay
// over the size up to which an index keeps members in memory (1 MiB).
func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// bigImages are two images on one base whose layers are over 1 MiB:
// gzip, zstd and uncompressed, with overwrites and whiteouts.
func bigImages() []*imagebuild.Image {
	var many []imagebuild.Entry
	for i := range 200 {
		many = append(many, imagebuild.F(fmt.Sprintf("usr/share/doc/f%03d", i), strings.Repeat("doc ", i)))
	}
	base := &imagebuild.Layer{Compression: imagebuild.Gzip, CreatedBy: "base", Entries: append([]imagebuild.Entry{
		imagebuild.FB("usr/lib/libbig.so", noise(1500<<10, 1)),
		imagebuild.F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
		imagebuild.F("etc/old", "to be deleted"),
	}, many...)}
	mid := &imagebuild.Layer{Compression: imagebuild.Zstd, CreatedBy: "mid", Entries: []imagebuild.Entry{
		imagebuild.FB("usr/lib/libbig.so", noise(1200<<10, 2)),
		imagebuild.WH("etc/old"),
		imagebuild.Opq("usr/share/doc"),
		imagebuild.F("usr/share/doc/README", "new docs"),
	}}
	top := func(seed uint64) *imagebuild.Layer {
		return &imagebuild.Layer{Compression: imagebuild.None, CreatedBy: "top", Entries: []imagebuild.Entry{
			imagebuild.FB("opt/app/bin", noise(1100<<10, seed)),
			imagebuild.F("opt/app/conf", "x=1"),
		}}
	}
	return []*imagebuild.Image{
		{Layers: []*imagebuild.Layer{base, mid, top(3)}},
		{Layers: []*imagebuild.Layer{base, mid, top(4)}},
	}
}

// writeFormat writes the images as one of the archive formats.
func writeFormat(t *testing.T, format string, imgs []*imagebuild.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "docker":
		_, err = imagebuild.WriteDockerArchive(&buf, imgs...)
	case "docker25":
		_, err = imagebuild.WriteDocker25Archive(&buf, imgs...)
	case "oci":
		ix := &imagebuild.Index{}
		for i, im := range imgs {
			ix.Manifests = append(ix.Manifests, imagebuild.Tagged(im, fmt.Sprint("v", i)))
		}
		_, err = imagebuild.WriteOCIArchive(&buf, ix)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// summary is what a scan must say the same way however its input was
// stored: every image's tree, layers and findings, and every problem.
func summary(t *testing.T, res *scan.Result) string {
	t.Helper()
	var b strings.Builder
	for _, ir := range res.Images {
		fmt.Fprintf(&b, "image %s\n", ir.Image.Ref())
		for _, lr := range ir.Layers {
			fmt.Fprintf(&b, "layer %s %s", lr.Blob, lr.Digest)
			if lr.Summary != nil {
				fmt.Fprintf(&b, " diff_id=%s size=%d entries=%d anomalies=%d", lr.Summary.DiffID, lr.Summary.UncompressedSize, len(lr.Summary.Entries), len(lr.Summary.Anomalies))
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Join(dump(ir.Tree), "\n"))
		for _, f := range ir.Findings {
			fmt.Fprintf(&b, "finding %s %s %d %s\n", f.Rule, f.Path, f.Layer, f.LayerDigest)
		}
	}
	var ps []string
	for _, p := range res.Problems {
		ps = append(ps, fmt.Sprintf("problem %s %s", p.Kind, p.Blob))
	}
	slices.Sort(ps)
	b.WriteString(strings.Join(ps, "\n"))
	return b.String()
}

// An input compressed as a whole is decompressed once: its layers are
// walked while it is indexed, and the scan says exactly what a scan of
// the same archive uncompressed says, even with the input gone once it
// was indexed. A layer that does not match what the images want (a
// tampered blob, a limit reached) is read again and reported as before.
func TestCompressedInputDecompressedOnce(t *testing.T) {
	imgs := bigImages()
	for _, format := range []string{"docker", "docker25", "oci"} {
		plain := writeFormat(t, format, imgs)
		tampered := bytes.Clone(plain)
		i := bytes.Index(tampered, noise(1100<<10, 3)[:4096])
		if i < 0 {
			t.Fatal("the top layer's file is not in the archive")
		}
		tampered[i+1000] ^= 0xff
		for _, tc := range []struct {
			name string
			tar  []byte
			opts scan.Options
			once bool           // the input is decompressed once
			kind integrity.Kind // a problem the scan must report, if any
			same bool           // the scan must say what the uncompressed one says
		}{
			{name: "intact", tar: plain, once: true, same: true},
			// A tampered layer is read again and verified as before: a
			// digest mismatch, or for a legacy layer its diff_id's.
			{name: "tampered", tar: tampered, kind: map[string]integrity.Kind{"docker": integrity.DiffIDMismatch}[format], same: true},
			// Limits stop walks at another point than in an archive read
			// in place, largest layer first: only the problem must be the
			// same.
			{name: "image bytes limit", tar: plain, opts: scan.Options{MaxImageBytes: 3 << 20}, kind: integrity.Limit},
			{name: "input entries limit", tar: plain, opts: scan.Options{MaxInputEntries: 150}, kind: integrity.Limit},
		} {
			if tc.name == "tampered" && tc.kind == "" {
				tc.kind = integrity.DigestMismatch
			}
			for _, c := range []imagebuild.Compression{imagebuild.Gzip, imagebuild.Zstd} {
				t.Run(fmt.Sprintf("%s/%s/%s", format, tc.name, c), func(t *testing.T) {
					dir := t.TempDir()
					plainPath := filepath.Join(dir, "image.tar")
					if err := os.WriteFile(plainPath, tc.tar, 0o644); err != nil {
						t.Fatal(err)
					}
					whole, err := imagebuild.CompressBytes(tc.tar, c)
					if err != nil {
						t.Fatal(err)
					}
					wholePath := filepath.Join(dir, "image.tar."+c.String())
					if err := os.WriteFile(wholePath, whole, 0o644); err != nil {
						t.Fatal(err)
					}
					opts := tc.opts
					opts.Parallel = 2
					want, err := scan.Run(context.Background(), plainPath, opts)
					if err != nil {
						t.Fatal(err)
					}
					defer want.Close()

					gone := filepath.Join(dir, "gone")
					var indexed scan.Progress // the last report while indexing
					var mu sync.Mutex
					opts.Progress = func(p scan.Progress) {
						mu.Lock()
						defer mu.Unlock()
						if p.Indexing {
							indexed = p
						}
						if tc.once {
							// The input disappears as soon as it is
							// opened: a second decompression pass would
							// fail.
							if _, err := os.Stat(wholePath); err == nil {
								if err := os.Rename(wholePath, gone); err != nil {
									t.Error(err)
								}
							}
						}
					}
					got, err := scan.Run(context.Background(), wholePath, opts)
					if err != nil {
						t.Fatal(err)
					}
					defer got.Close()
					if indexed.Bytes != int64(len(whole)) || indexed.TotalBytes != int64(len(whole)) {
						t.Errorf("indexing reported %d of %d bytes at the end, want %d of %d", indexed.Bytes, indexed.TotalBytes, len(whole), len(whole))
					}
					if tc.once {
						if _, err := os.Stat(gone); err != nil {
							t.Fatal("the input was never moved away: no progress reported")
						}
					}
					if tc.same {
						g, w := strings.Split(summary(t, got), "\n"), strings.Split(summary(t, want), "\n")
						for i := range max(len(g), len(w)) {
							if i >= len(g) || i >= len(w) || g[i] != w[i] {
								t.Fatalf("compressed as a whole, line %d differs from the uncompressed scan:\n%s\n\nuncompressed:\n%s", i+1, strings.Join(g[max(0, i-2):min(len(g), i+3)], "\n"), strings.Join(w[max(0, i-2):min(len(w), i+3)], "\n"))
							}
						}
					}
					if tc.kind != "" {
						for _, res := range []*scan.Result{want, got} {
							if !slices.ContainsFunc(res.Problems, func(p integrity.Problem) bool { return p.Kind == tc.kind }) {
								t.Errorf("%s: no %s problem: %v", res.Input.Path, tc.kind, res.Problems)
							}
						}
					}
				})
			}
		}
	}
}

// Every fixture written by a real tool or by the generator, compressed as
// a whole and read with every member sent through the early walks (none
// kept in memory), scans exactly as the same archive uncompressed: the
// early walks find the same layers, under the same names, aliases
// included, or leave them to the second pass.
func TestEarlyWalksOverFixtures(t *testing.T) {
	for _, in := range fixtureInputs(t) {
		if st, err := os.Stat(in.path); err != nil || st.IsDir() {
			continue
		}
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			plain := decompressWhole(t, in.path)
			b, err := os.ReadFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			whole, err := imagebuild.CompressBytes(b, imagebuild.Gzip)
			if err != nil {
				t.Fatal(err)
			}
			wholePath := filepath.Join(t.TempDir(), "image.tar.gz")
			if err := os.WriteFile(wholePath, whole, 0o644); err != nil {
				t.Fatal(err)
			}
			want := runScan(t, plain)
			opts := scan.Options{Parallel: 2}
			opts.Archive.SmallMember = -1
			got, err := scan.Run(context.Background(), wholePath, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			g, w := strings.Split(summary(t, got), "\n"), strings.Split(summary(t, want), "\n")
			for i := range max(len(g), len(w)) {
				if i >= len(g) || i >= len(w) || g[i] != w[i] {
					t.Fatalf("early walks, line %d differs from the uncompressed scan:\n%s\n\nuncompressed:\n%s", i+1, strings.Join(g[max(0, i-2):min(len(g), i+3)], "\n"), strings.Join(w[max(0, i-2):min(len(w), i+3)], "\n"))
				}
			}
		})
	}
}

// FuzzScan runs whole scans over mutated archives, compressed as a whole
// or not, with every member of a compressed one sent through the early
// walks: whatever the bytes, a scan returns a result or an error, and a
// result's trees hold clean paths.
func FuzzScan(f *testing.F) {
	for _, name := range []string{"xz-planted.docker.tar.gz", "xz-planted.docker.tar.zst", "whiteouts.oci.tar", "xz-planted.docker25.tar"} {
		b, err := os.ReadFile(filepath.Join(fixturesDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := scan.Options{Parallel: 2, MaxInputEntries: 10000, MaxImageBytes: 64 << 20}
		opts.Limits.MaxBytes = 16 << 20
		opts.Archive.SmallMember = -1
		res, err := scan.Run(context.Background(), p, opts)
		if err != nil {
			return
		}
		defer res.Close()
		for _, ir := range res.Images {
			for _, line := range dump(ir.Tree) {
				if !strings.HasPrefix(line, "/") || strings.Contains(line, "/../") {
					t.Fatalf("unclean path in %q", line)
				}
			}
		}
	})
}

// In a fleet, an input compressed as a whole verifies a layer an earlier
// input walked against the memo instead of walking it again, and a
// tampered copy of that layer is still caught.
func TestEarlyWalksUseTheMemo(t *testing.T) {
	plain := writeFormat(t, "oci", bigImages())
	tampered := bytes.Clone(plain)
	i := bytes.Index(tampered, noise(1100<<10, 3)[:4096]) // the first image's top layer, uncompressed
	if i < 0 {
		t.Fatal("the top layer's file is not in the archive")
	}
	tampered[i+1000] ^= 0xff
	dir := t.TempDir()
	var paths []string
	for n, b := range [][]byte{plain, plain, tampered} {
		whole, err := imagebuild.CompressBytes(b, imagebuild.Gzip)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("copy%d.tar.gz", n))
		if err := os.WriteFile(p, whole, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	memo := scan.NewMemo("")
	var results []*scan.Result
	for n, p := range paths {
		res, err := scan.Run(context.Background(), p, scan.Options{Parallel: 2, Memo: memo})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		results = append(results, res)
		if n == 0 && memo.Hits != 0 {
			t.Fatalf("%d memo hits on the first input", memo.Hits)
		}
		if n == 1 && memo.Hits != 4 {
			t.Fatalf("%d memo hits on the second input, want its 4 layer blobs", memo.Hits)
		}
	}
	if g, w := summary(t, results[1]), summary(t, results[0]); g != w {
		t.Errorf("the copy verified against the memo says otherwise:\n%s\n\nwalked:\n%s", g, w)
	}
	if !slices.ContainsFunc(results[2].Problems, func(p integrity.Problem) bool { return p.Kind == integrity.DigestMismatch }) {
		t.Errorf("tampered copy: no digest mismatch: %v", results[2].Problems)
	}
}
