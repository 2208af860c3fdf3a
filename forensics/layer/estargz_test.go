package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// buildEStargz converts a tar with the real eStargz builder, and returns the
// blob and the builder's diff_id.
func buildEStargz(t testing.TB, raw []byte, prioritized ...string) ([]byte, string, string) {
	t.Helper()
	opts := []estargz.Option{estargz.WithParallelism(1)}
	if len(prioritized) > 0 {
		opts = append(opts, estargz.WithPrioritizedFiles(prioritized))
	}
	b, err := estargz.Build(io.NewSectionReader(bytes.NewReader(raw), 0, int64(len(raw))), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	blob, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return blob, b.DiffID().Encoded(), b.TOCDigest().Encoded()
}

// footerless returns the gzip members of an eStargz blob before its footer.
func footerless(b []byte) []byte { return b[:len(b)-estargz.FooterSize] }

// garble flips a byte of the footer's "STARGZ" magic: the gzip stream stays
// valid (the Extra field has no checksum), the footer no longer proves
// anything.
func garble(b []byte) []byte {
	c := slices.Clone(b)
	i := bytes.LastIndex(c, []byte("STARGZ"))
	c[i] = 'X'
	return c
}

// forgeOffset rewrites the footer's TOC offset to lie past the blob.
func forgeOffset(b []byte) []byte {
	c := slices.Clone(b)
	i := bytes.LastIndex(c, []byte("STARGZ"))
	copy(c[i-16:i], fmt.Sprintf("%016x", len(c)*2))
	return c
}

// withFooter appends an eStargz footer, made as estargz gzip.go
// gzipFooterBytes makes it, to a gzip stream of an ordinary tar.
func withFooter(t testing.TB, gz []byte) []byte {
	sub := fmt.Sprintf("%016xSTARGZ", len(gz)/2)
	extra := append([]byte{'S', 'G', byte(len(sub)), 0}, sub...)
	footer := estargz.CreateGzipFooter(extra)
	if len(footer) != estargz.FooterSize {
		t.Fatalf("footer of %d bytes", len(footer))
	}
	return append(slices.Clone(gz), footer...)
}

func gzipOf(t testing.TB, b []byte) []byte { return compressWith(t, "gzip", b) }

func TestWalkEStargz(t *testing.T) {
	files := mkTar(t,
		tentry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		tentry{name: "etc/os-release", body: "ID=test\n"},
		tentry{name: "usr/lib/liblzma.so.5", body: strings.Repeat("ELF", 5000)},
		tentry{name: "etc/stargz.index.json", body: "not at the root: a file"},
	)
	esgz, diffID, tocDigest := buildEStargz(t, files)
	esgzPrio, diffIDPrio, _ := buildEStargz(t, files, "etc/os-release")
	plainTOC := mkTar(t, tentry{name: "a", body: "a"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`})
	plainLandmark := mkTar(t, tentry{name: ".no.prefetch.landmark", body: "\x0f"}, tentry{name: "a", body: "a"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`})
	notLast := mkTar(t, tentry{name: ".no.prefetch.landmark", body: "\x0f"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`}, tentry{name: "b", body: "b"})
	fatLandmark := mkTar(t, tentry{name: ".prefetch.landmark", body: "payload"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`})
	oddLandmark := mkTar(t, tentry{name: ".prefetch.landmark", body: "X"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`})
	notJSON := mkTar(t, tentry{name: ".no.prefetch.landmark", body: "\x0f"}, tentry{name: "stargz.index.json", body: "#!/bin/sh\nevil\n"})
	spelled := mkTar(t, tentry{name: ".no.prefetch.landmark", body: "\x0f"}, tentry{name: "x/../stargz.index.json", body: `{"version":1,"entries":[]}`})
	meta := []string{"/stargz.index.json", "/.no.prefetch.landmark", "/.prefetch.landmark"}

	tests := []struct {
		name    string
		blob    []byte
		diffID  string // "" for sha256 of the decompressed blob
		format  string
		dropped []string // the metadata paths left out of the tree
		kept    []string // metadata paths that must stay in the tree
	}{
		{"builder", esgz, diffID, FormatEStargz, []string{"/.no.prefetch.landmark", "/stargz.index.json"}, nil},
		{"builder with prioritized files", esgzPrio, diffIDPrio, FormatEStargz, []string{"/.prefetch.landmark", "/stargz.index.json"}, nil},
		{"builder without footer", footerless(esgz), diffID, "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"builder with garbled footer", garble(esgz), diffID, "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"builder with forged offset", forgeOffset(esgz), diffID, "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"plain gzip with a root stargz.index.json", gzipOf(t, plainTOC), "", "", nil, []string{"/stargz.index.json"}},
		{"plain gzip with landmark and TOC", gzipOf(t, plainLandmark), "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"footer, TOC not last", withFooter(t, gzipOf(t, notLast)), "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"footer, landmark with a payload", withFooter(t, gzipOf(t, fatLandmark)), "", FormatEStargz, []string{"/stargz.index.json"}, []string{"/.prefetch.landmark"}},
		{"footer, landmark not 0x0f", withFooter(t, gzipOf(t, oddLandmark)), "", FormatEStargz, []string{"/stargz.index.json"}, []string{"/.prefetch.landmark"}},
		{"footer, TOC not JSON", withFooter(t, gzipOf(t, notJSON)), "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"footer, TOC with an unusual spelling", withFooter(t, gzipOf(t, spelled)), "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"footer, valid", withFooter(t, gzipOf(t, plainLandmark)), "", FormatEStargz, []string{"/.no.prefetch.landmark", "/stargz.index.json"}, nil},
		{"zstd with the names", compressWith(t, "zstd", plainLandmark), "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
		{"uncompressed with the names", plainLandmark, "", "", nil, []string{"/.no.prefetch.landmark", "/stargz.index.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := walkModes(t, tt.blob, Options{}); err != nil {
				t.Fatal(err)
			}
			var sunk []string
			var called []string
			opts := Options{
				Sinks: func(e *Entry) []Sink {
					s := &recSink{}
					sunk = append(sunk, e.Path)
					return []Sink{&checkSink{t: t, rec: s}}
				},
				Entry: func(e *Entry) { called = append(called, e.Path) },
			}
			s, err := Walk(context.Background(), bytes.NewReader(tt.blob), opts)
			if err != nil {
				t.Fatal(err)
			}
			dec := decompressed(t, tt.blob)
			want := tt.diffID
			if want == "" {
				want = sum(string(dec))
			}
			if s.DiffID.Encoded() != want || sum(string(dec)) != want {
				t.Errorf("diff_id %s, want %s", s.DiffID.Encoded(), want)
			}
			if s.UncompressedSize != int64(len(dec)) {
				t.Errorf("uncompressed size %d, want %d", s.UncompressedSize, len(dec))
			}
			if s.Format != tt.format {
				t.Errorf("format %q, want %q", s.Format, tt.format)
			}
			var paths []string
			for _, e := range s.Entries {
				paths = append(paths, e.Path)
			}
			var dropped []string
			for _, e := range s.FormatEntries {
				dropped = append(dropped, e.Path)
			}
			slices.Sort(dropped)
			want2 := slices.Clone(tt.dropped)
			slices.Sort(want2)
			if !slices.Equal(dropped, want2) {
				t.Errorf("format entries %v, want %v", dropped, want2)
			}
			for _, m := range meta {
				in := slices.Contains(paths, m)
				if slices.Contains(tt.kept, m) != in {
					t.Errorf("%s in the tree: %v, want %v (entries %v)", m, in, !in, paths)
				}
				if slices.Contains(tt.kept, m) != slices.Contains(sunk, m) {
					t.Errorf("%s given to the sinks: %v (sinks %v)", m, slices.Contains(sunk, m), sunk)
				}
			}
			// Released landmarks reach the callback late; the set is the same.
			if !slices.Equal(slices.Sorted(slices.Values(paths)), slices.Sorted(slices.Values(called))) {
				t.Errorf("Entry callback saw %v, entries are %v", called, paths)
			}
			if !slices.Contains(paths, "/etc/stargz.index.json") && strings.HasPrefix(tt.name, "builder") {
				t.Errorf("a stargz.index.json below the root was dropped: %v", paths)
			}
			// Entries keep tar order and their offsets point at their content.
			for i := 1; i < len(s.Entries); i++ {
				if s.Entries[i].Offset <= s.Entries[i-1].Offset {
					t.Errorf("entries out of tar order: %v", paths)
				}
			}
			for _, e := range append(slices.Clone(s.Entries), s.FormatEntries...) {
				if e.Type == File && sum(string(dec[e.Offset:e.Offset+e.Size])) != e.SHA256 {
					t.Errorf("%s: sha256 does not match the bytes at its offset", e.Path)
				}
			}
			if tt.name == "builder" {
				// The TOC entry's digest is the toc.digest annotation's.
				if toc := s.FormatEntries[len(s.FormatEntries)-1]; toc.Path != "/stargz.index.json" || toc.SHA256 != tocDigest {
					t.Errorf("TOC entry %+v, want the builder's TOC digest %s", toc, tocDigest)
				}
			}
		})
	}
}

// checkSink fails a test when it is written to after Done.
type checkSink struct {
	t    *testing.T
	rec  *recSink
	done bool
}

func (c *checkSink) Write(p []byte) (int, error) {
	if c.done {
		c.t.Error("sink written after Done")
	}
	return c.rec.Write(p)
}

func (c *checkSink) Done(e *Entry, err error) {
	c.done = true
	if err == nil && sum(c.rec.String()) != e.SHA256 {
		c.t.Errorf("%s: sink saw bytes hashing to %s, entry says %s", e.Path, sum(c.rec.String()), e.SHA256)
	}
}

func decompressed(t testing.TB, b []byte) []byte {
	t.Helper()
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) || (len(b) > 4 && b[0]&0xf0 == 0x50 && bytes.Equal(b[1:4], []byte{0x2a, 0x4d, 0x18})):
		r, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return b
}

// skippable is a zstd skippable frame (RFC 8878 §3.1.2) with the given
// magic nibble.
func skippable(nibble byte, data []byte) []byte {
	f := []byte{0x50 | nibble, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(f[4:], uint32(len(data)))
	return append(f, data...)
}

// zstdChunkedFooter builds the footer frame as containers/storage
// minimal/compression.go footerDataToBlob does.
func zstdChunkedFooterFrame(manifestOff, manifestLen, tarSplitOff, tarSplitLen uint64) []byte {
	d := make([]byte, 64)
	binary.LittleEndian.PutUint64(d[0:], manifestOff)
	binary.LittleEndian.PutUint64(d[8:], manifestLen)
	binary.LittleEndian.PutUint64(d[16:], manifestLen*3)
	binary.LittleEndian.PutUint64(d[24:], 1) // ManifestTypeCRFS
	binary.LittleEndian.PutUint64(d[32:], tarSplitOff)
	binary.LittleEndian.PutUint64(d[40:], tarSplitLen)
	binary.LittleEndian.PutUint64(d[48:], tarSplitLen*4)
	copy(d[56:], "GNUlInUx")
	return skippable(0, d)
}

// zstdChunked lays a tar out as zstd:chunked does: the tar in zstd frames
// (one per file here), then skippable frames for the TOC and the tar-split
// data (arbitrary bytes: a decoder must not look inside), then the footer.
func zstdChunked(t testing.TB, raw []byte, footer bool) []byte {
	t.Helper()
	var b []byte
	for off := 0; off < len(raw); off += 1536 {
		b = append(b, compressWith(t, "zstd", raw[off:min(off+1536, len(raw))])...)
	}
	toc := compressWith(t, "zstd", []byte(`{"version":1,"entries":[{"type":"reg","name":"a"}]}`))
	manifestOff := uint64(len(b) + 8)
	b = append(b, skippable(0, toc)...)
	tarSplit := []byte("\x00\xff arbitrary tar-split bytes, even a zstd magic \x28\xb5\x2f\xfd and a gzip one \x1f\x8b")
	tarSplitOff := uint64(len(b) + 8)
	b = append(b, skippable(0, tarSplit)...)
	if footer {
		b = append(b, zstdChunkedFooterFrame(manifestOff, uint64(len(toc)), tarSplitOff, uint64(len(tarSplit)))...)
	}
	return b
}

func TestWalkZstdChunked(t *testing.T) {
	raw := mkTar(t, tentry{name: "usr/", typ: tar.TypeDir}, tentry{name: "usr/a", body: strings.Repeat("a", 3000)}, tentry{name: "b", body: "b"})
	plainDiff := sha256.Sum256(raw)
	withSkip := func(b []byte) []byte { return append(skippable(7, []byte("leading skippable frame")), b...) }
	forged := zstdChunked(t, raw, false)
	forged = append(forged, zstdChunkedFooterFrame(1<<40, 1, 0, 1)...)
	tests := []struct {
		name   string
		blob   []byte
		format string
	}{
		{"zstd:chunked", zstdChunked(t, raw, true), FormatZstdChunked},
		{"skippable frames, no footer", zstdChunked(t, raw, false), ""},
		{"footer with offsets past the blob", forged, ""},
		{"starting with a skippable frame", withSkip(zstdChunked(t, raw, true)), FormatZstdChunked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := walkModes(t, tt.blob, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.DiffID.Encoded() != hex.EncodeToString(plainDiff[:]) {
				t.Errorf("diff_id %s, want sha256 of the plain tar", s.DiffID)
			}
			if s.UncompressedSize != int64(len(raw)) {
				t.Errorf("uncompressed size %d, want %d", s.UncompressedSize, len(raw))
			}
			if s.Compression != "zstd" || s.Format != tt.format {
				t.Errorf("compression %q format %q, want zstd and %q", s.Compression, s.Format, tt.format)
			}
			if len(s.Entries) != 3 || len(s.FormatEntries) != 0 {
				t.Errorf("entries %d, format entries %d", len(s.Entries), len(s.FormatEntries))
			}
		})
	}
	t.Run("truncated inside a skippable frame", func(t *testing.T) {
		b := zstdChunked(t, raw, true)
		if _, err := Walk(context.Background(), bytes.NewReader(b[:len(b)-20]), Options{}); err == nil {
			t.Fatal("no error from a blob cut inside its footer frame")
		}
	})
}

// A walk that fails releases the held candidates: the partial summary has
// them as ordinary files.
func TestWalkEStargzBrokenKeepsNames(t *testing.T) {
	esgz, _, _ := buildEStargz(t, mkTar(t, tentry{name: "a", body: strings.Repeat("a", 10000)}))
	var ahead bytes.Buffer
	ahead.Write(esgz)
	ahead.WriteString("trailing garbage that is no gzip member")
	s, err := Walk(context.Background(), bytes.NewReader(ahead.Bytes()), Options{})
	if err == nil {
		t.Fatal("no error from trailing garbage")
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err %v, want a FormatError", err)
	}
	var paths []string
	for _, e := range s.Entries {
		paths = append(paths, e.Path)
	}
	if !slices.Contains(paths, "/stargz.index.json") || !slices.Contains(paths, "/.no.prefetch.landmark") || s.Format != "" {
		t.Errorf("entries %v format %q: a broken eStargz layer must keep its metadata names", paths, s.Format)
	}
}

// TestWalkZstdChunkedBuildah walks a zstd:chunked layer written by a real
// producer: buildah 1.28.2 (Debian 12), `buildah push --compression-format
// zstd:chunked` of the top layer of fixtures/testdata/xz-planted.oci.tar.
// Its containers/storage writes the 40-byte footer with the GnUlInUx magic
// (the 64-byte GNUlInUx footer came later).
func TestWalkZstdChunkedBuildah(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "zstd-chunked-buildah-1.28.bin"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := walkModes(t, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != FormatZstdChunked || s.DiffID != "sha256:46c2660c991dc8773d7c31d52248c12d251c0d7590382f1b726a7f1b90cf1bca" || len(s.Entries) != 1 {
		t.Errorf("format %q, diff_id %s, %d entries", s.Format, s.DiffID, len(s.Entries))
	}
}
