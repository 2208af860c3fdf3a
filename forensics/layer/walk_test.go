package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type tentry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
	pax  map[string]string
}

func mkTar(t testing.TB, es ...tentry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link, PAXRecords: e.pax, Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func compressWith(t testing.TB, kind string, b []byte) []byte {
	var buf bytes.Buffer
	switch kind {
	case "none":
		return b
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "xz":
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
	}
	return buf.Bytes()
}

func TestWalkEntries(t *testing.T) {
	raw := mkTar(t,
		tentry{name: "./", typ: tar.TypeDir},
		tentry{name: "/", typ: tar.TypeDir}, // umoci writes the root so: no anomaly
		tentry{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		tentry{name: "usr/bin/tool", body: "tool", mode: 0o4755},
		tentry{name: "/abs", body: "abs"},
		tentry{name: "usr/bin/hard", typ: tar.TypeLink, link: "usr/bin/tool"},
		tentry{name: "usr/lib/l.so", typ: tar.TypeSymlink, link: "l.so.1"},
		tentry{name: "etc/.wh.passwd"},
		tentry{name: "var/cache/.wh..wh..opq"},
		tentry{name: ".wh..wh.plnk/123"},
		tentry{name: "../../escape", body: "x"},
		tentry{name: "cap", body: "c", pax: map[string]string{"SCHILY.xattr.security.capability": "\x01\x02"}},
	)
	for _, kind := range []string{"none", "gzip", "zstd", "xz"} {
		t.Run(kind, func(t *testing.T) {
			s, err := Walk(context.Background(), bytes.NewReader(compressWith(t, kind, raw)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			diff := sha256.Sum256(raw)
			if s.DiffID.Encoded() != hex.EncodeToString(diff[:]) {
				t.Errorf("diff_id %s, want sha256 of the uncompressed tar", s.DiffID)
			}
			if s.UncompressedSize != int64(len(raw)) {
				t.Errorf("uncompressed size %d, want %d", s.UncompressedSize, len(raw))
			}
			var got []string
			for _, e := range s.Entries {
				got = append(got, fmt.Sprintf("%s %s %s %o", e.Type, e.Path, e.Link, e.Mode))
			}
			want := []string{
				"dir /usr  755",
				"file /usr/bin/tool  40000755",
				"file /abs  644",
				"hardlink /usr/bin/hard /usr/bin/tool 644",
				"symlink /usr/lib/l.so l.so.1 644",
				"whiteout /etc/passwd  644",
				"opaque /var/cache  644",
				"file /escape  644",
				"file /cap  644",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if s.Entries[1].SHA256 != sum("tool") || s.Entries[3].SHA256 != sum("tool") || s.Entries[3].Size != 4 {
				t.Errorf("file and hardlink digests: %q %q", s.Entries[1].SHA256, s.Entries[3].SHA256)
			}
			if s.Entries[8].Xattrs["security.capability"] != "\x01\x02" {
				t.Errorf("xattrs not kept: %v", s.Entries[8].Xattrs)
			}
			kinds := map[string]bool{}
			for _, a := range s.Anomalies {
				kinds[a.Kind] = true
			}
			if !kinds[AnomalyAbsolute] || !kinds[AnomalyTraversal] {
				t.Errorf("anomalies %v, want absolute and traversal", s.Anomalies)
			}
			for _, a := range s.Anomalies {
				if a.Path == "/" {
					t.Errorf("the root entry was reported: %+v", a)
				}
			}
		})
	}
}

func TestWalkOffsetsPointAtContent(t *testing.T) {
	raw := mkTar(t, tentry{name: "a", body: "first"}, tentry{name: "b", body: strings.Repeat("x", 1000)},
		tentry{name: strings.Repeat("long/", 40) + "c", body: "third"})
	s, err := Walk(context.Background(), bytes.NewReader(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.Entries {
		got := raw[e.Offset : e.Offset+e.Size]
		if sum(string(got)) != e.SHA256 {
			t.Errorf("%s: bytes at offset %d do not hash to the entry's sha256", e.Path, e.Offset)
		}
	}
}

type recSink struct {
	bytes.Buffer
	done string
}

func (r *recSink) Done(e *Entry, err error) { r.done = e.SHA256 }

func TestWalkSinks(t *testing.T) {
	raw := mkTar(t, tentry{name: "lib/liblzma.so.5", body: "ELF..."}, tentry{name: "etc/x", body: "no"})
	sinks := map[string]*recSink{}
	_, err := Walk(context.Background(), bytes.NewReader(raw), Options{Sinks: func(e *Entry) []Sink {
		if strings.Contains(e.Path, "liblzma") {
			s := &recSink{}
			sinks[e.Path] = s
			return []Sink{s}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := sinks["/lib/liblzma.so.5"]
	if s == nil || s.String() != "ELF..." || s.done != sum("ELF...") {
		t.Fatalf("sink saw %+v", s)
	}
	if len(sinks) != 1 {
		t.Fatalf("sinks for %d files, want 1", len(sinks))
	}
}

func TestWalkErrors(t *testing.T) {
	raw := mkTar(t, tentry{name: "a", body: strings.Repeat("a", 4096)}, tentry{name: "b", body: "b"})
	many := make([]tentry, 20)
	for i := range many {
		many[i] = tentry{name: fmt.Sprint(i), body: "x"}
	}
	bomb := compressWith(t, "gzip", make([]byte, 80<<20))
	tests := []struct {
		name    string
		in      []byte
		opts    Options
		wantErr error
		entries int
	}{
		{"truncated inside a file", raw[:1024], Options{}, io.ErrUnexpectedEOF, 0},
		{"truncated gzip", compressWith(t, "gzip", raw)[:100], Options{}, io.ErrUnexpectedEOF, 1},
		{"entry limit", mkTar(t, many...), Options{Limits: Limits{MaxEntries: 5}}, ErrLimit, 5},
		{"byte limit", raw, Options{Limits: Limits{MaxBytes: 2048}}, ErrLimit, 0},
		{"ratio limit", bomb, Options{}, ErrLimit, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Walk(context.Background(), bytes.NewReader(tt.in), tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if s == nil || len(s.Entries) != tt.entries {
				t.Fatalf("partial entries = %d, want %d", len(s.Entries), tt.entries)
			}
		})
	}
}

func TestWalkNotATar(t *testing.T) {
	_, err := Walk(context.Background(), strings.NewReader(strings.Repeat("garbage!", 100)), Options{})
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FormatError with an offset", err)
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(mkTar(f, tentry{name: "a", body: "x"}, tentry{name: "b/.wh.c"}, tentry{name: "d/.wh..wh..opq"}))
	f.Add(compressWith(f, "gzip", mkTar(f, tentry{name: "../x", body: "y"})))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	// eStargz from the builder, with and without its footer, and an
	// ordinary layer with the metadata names; zstd:chunked.
	esgz, _, _ := buildEStargz(f, mkTar(f, tentry{name: "a", body: "x"}, tentry{name: "stargz.index.json", body: "y"}))
	f.Add(esgz)
	f.Add(footerless(esgz))
	f.Add(withFooter(f, gzipOf(f, mkTar(f, tentry{name: ".no.prefetch.landmark", body: "\x0f"}, tentry{name: "stargz.index.json", body: `{"version":1,"entries":[]}`}))))
	f.Add(zstdChunked(f, mkTar(f, tentry{name: "a", body: "x"}), true))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := walkModes(t, b, Options{Limits: Limits{MaxEntries: 1000, MaxBytes: 1 << 20}})
		if s == nil {
			t.Fatal("nil summary")
		}
		// Metadata is left out only of an eStargz layer read to its end,
		// and only the builder's: root names, a one-byte 0x0f landmark,
		// the TOC last.
		if len(s.FormatEntries) > 0 && (s.Format != FormatEStargz || err != nil) {
			t.Fatalf("format entries %v in a %q layer (err %v)", s.FormatEntries, s.Format, err)
		}
		for i, e := range s.FormatEntries {
			last := i == len(s.FormatEntries)-1
			switch {
			case last && e.Path == "/stargz.index.json":
			case !last && (e.Path == "/.prefetch.landmark" || e.Path == "/.no.prefetch.landmark") && e.SHA256 == sum("\x0f"):
			default:
				t.Fatalf("format entry %d of %d: %+v", i, len(s.FormatEntries), e)
			}
		}
		for _, e := range s.Entries {
			if !strings.HasPrefix(e.Path, "/") || strings.Contains(e.Path, "/../") || strings.HasSuffix(e.Path, "/..") {
				t.Fatalf("uncleaned path %q", e.Path)
			}
		}
	})
}

func BenchmarkWalk(b *testing.B) {
	var es []tentry
	for i := range 2000 {
		es = append(es, tentry{name: fmt.Sprintf("usr/share/f%d", i), body: strings.Repeat("x", 4096)})
	}
	raw := mkTar(b, es...)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Walk(context.Background(), bytes.NewReader(raw), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// cores lends a core whenever asked; with flap set, it asks for it back
// every other time it is asked whether it is wanted.
type cores struct {
	flap bool
	n    atomic.Int64
}

func (c *cores) TryEnter() (func(), bool) { return func() {}, true }
func (c *cores) Wanted() bool             { return c.flap && c.n.Add(1)%2 == 0 }

// walkModes walks b inline, with a core lent throughout, and with a core
// lent and taken back again and again, and fails unless all three give
// the same summary and error.
func walkModes(t *testing.T, b []byte, opts Options) (*Summary, error) {
	t.Helper()
	inline, ierr := Walk(context.Background(), bytes.NewReader(b), opts)
	for _, flap := range []bool{false, true} {
		opts.Cores = &cores{flap: flap}
		ahead, aerr := Walk(context.Background(), bytes.NewReader(b), opts)
		if fmt.Sprint(ierr) != fmt.Sprint(aerr) {
			t.Fatalf("read ahead (flapping %v): err %v, inline %v", flap, aerr, ierr)
		}
		if !reflect.DeepEqual(inline, ahead) {
			t.Fatalf("read ahead (flapping %v): summary differs from inline:\n%+v\n%+v", flap, ahead, inline)
		}
	}
	return inline, ierr
}

// A walk reading ahead on a lent core learns exactly what an inline walk
// learns, errors and their offsets included.
func TestWalkAheadMatchesInline(t *testing.T) {
	var es []tentry
	for i := range 300 {
		es = append(es, tentry{name: fmt.Sprintf("usr/lib/f%d", i), body: strings.Repeat(string(rune('a'+i%26)), 1+i*97)})
	}
	es = append(es, tentry{name: "usr/lib/.wh.f3"}, tentry{name: "opt/.wh..wh..opq"}, tentry{name: "l", typ: tar.TypeSymlink, link: "usr/lib/f1"})
	raw := mkTar(t, es...)
	for _, kind := range []string{"none", "gzip", "zstd", "xz"} {
		b := compressWith(t, kind, raw)
		t.Run(kind, func(t *testing.T) {
			if _, err := walkModes(t, b, Options{}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(kind+" truncated", func(t *testing.T) {
			if _, err := walkModes(t, b[:len(b)*2/3], Options{}); err == nil {
				t.Fatal("no error from a truncated blob")
			}
		})
		t.Run(kind+" byte limit", func(t *testing.T) {
			if _, err := walkModes(t, b, Options{Limits: Limits{MaxBytes: 1 << 20}}); !errors.Is(err, ErrLimit) {
				t.Fatalf("err %v, want a limit", err)
			}
		})
	}
	t.Run("ratio limit", func(t *testing.T) {
		if _, err := walkModes(t, compressWith(t, "gzip", make([]byte, 80<<20)), Options{}); !errors.Is(err, ErrLimit) {
			t.Fatalf("err %v, want a limit", err)
		}
	})
}
