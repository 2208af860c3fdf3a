package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/corpus"
)

type member struct {
	name, body, link string
	typ              byte
}

func mkTar(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o644, Linkname: m.link}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, m.body)
	}
	tw.Close()
	return buf.Bytes()
}

func compressed(t testing.TB, f compress.Format, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch f {
	case compress.None:
		return b
	case compress.Gzip:
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case compress.Zstd:
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case compress.XZ:
		w, _ := xz.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case compress.Bzip2:
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 not installed (make tools installs it)")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, b []byte) string {
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	return p
}

var ociMembers = []member{
	{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
	{name: "index.json", body: `{"schemaVersion":2,"manifests":[]}`},
	{name: "blobs/", typ: tar.TypeDir},
	{name: "blobs/sha256/aaaa", body: strings.Repeat("big", 1<<19)},
	{name: "./blobs/sha256/bbbb", body: "small"},
}

func TestOpenFormats(t *testing.T) {
	raw := mkTar(t, ociMembers...)
	// The link comes before its target, as docker save may order them.
	docker := mkTar(t, member{name: "manifest.json", body: "[]"},
		member{name: "def/layer.tar", typ: tar.TypeSymlink, link: "../abc/layer.tar"}, member{name: "abc/layer.tar", body: "L"})
	docker25 := mkTar(t, append([]member{{name: "manifest.json", body: "[]"}}, ociMembers...)...)
	tests := []struct {
		name   string
		in     []byte
		format Format
		comp   compress.Format
	}{
		{"oci archive", raw, OCIArchive, compress.None},
		{"oci archive gzip", compressed(t, compress.Gzip, raw), OCIArchive, compress.Gzip},
		{"oci archive zstd", compressed(t, compress.Zstd, raw), OCIArchive, compress.Zstd},
		{"oci archive xz", compressed(t, compress.XZ, raw), OCIArchive, compress.XZ},
		{"oci archive bzip2", compressed(t, compress.Bzip2, raw), OCIArchive, compress.Bzip2},
		{"docker legacy", docker, DockerArchive, compress.None},
		{"docker 25", docker25, DockerArchive, compress.None},
		{"docker 25 gzip", compressed(t, compress.Gzip, docker25), DockerArchive, compress.Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.in)
			a, err := Open(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Wait(); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(tt.in)
			if a.Info.Format != tt.format || a.Info.Compression != tt.comp || a.Info.SHA256 != hex.EncodeToString(sum[:]) || a.Info.Size != int64(len(tt.in)) {
				t.Fatalf("info = %+v", a.Info)
			}
			if len(a.Problems) > 0 {
				t.Fatalf("problems: %v", a.Problems)
			}
			if tt.format == OCIArchive || tt.name == "docker 25" || tt.name == "docker 25 gzip" {
				if !a.Info.OCI {
					t.Error("OCI layout not recognised")
				}
				checkMember(t, a, "blobs/sha256/bbbb", "small")
				checkMember(t, a, "blobs/sha256/aaaa", strings.Repeat("big", 1<<19))
			} else {
				checkMember(t, a, "def/layer.tar", "L") // the alias reads its target
			}
		})
	}
}

func checkMember(t *testing.T, a *Archive, name, want string) {
	t.Helper()
	rc, err := a.Open(name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != want {
		t.Fatalf("Open(%s) read %d bytes, err %v", name, len(got), err)
	}
}

func TestVisitReadsEachOnceInOrder(t *testing.T) {
	for _, comp := range []compress.Format{compress.None, compress.Gzip} {
		t.Run(string(comp)+"_", func(t *testing.T) {
			p := writeFile(t, compressed(t, comp, mkTar(t, ociMembers...)))
			a, err := Open(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			var mu sync.Mutex
			got := map[string]string{}
			err = a.Visit(context.Background(), []string{"blobs/sha256/bbbb", "blobs/sha256/aaaa", "blobs/sha256/missing", "blobs/sha256/aaaa"}, 2,
				func(name string, r io.Reader) error {
					b, err := io.ReadAll(r)
					mu.Lock()
					defer mu.Unlock()
					if _, dup := got[name]; dup {
						t.Errorf("%s visited twice", name)
					}
					if err != nil {
						got[name] = "error: " + err.Error()
						return nil
					}
					got[name] = string(b)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if got["blobs/sha256/bbbb"] != "small" || len(got["blobs/sha256/aaaa"]) != 3<<19 || !strings.Contains(got["blobs/sha256/missing"], "not exist") {
				t.Fatalf("visited %d members: %q", len(got), got["blobs/sha256/missing"])
			}
		})
	}
}

func TestOpenFolder(t *testing.T) {
	dir := t.TempDir()
	for _, m := range ociMembers {
		if m.typ == tar.TypeDir {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(m.name, "./")))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(m.body), 0o644)
	}
	// A link out of the folder is never followed.
	os.Symlink("/etc/passwd", filepath.Join(dir, "blobs", "sha256", "cccc"))
	a, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Info.Format != OCILayout || a.Info.SHA256 == "" {
		t.Fatalf("info = %+v", a.Info)
	}
	if _, ok := a.Stat("blobs/sha256/cccc"); ok {
		t.Fatal("a symlink leading out of the folder was indexed")
	}
	checkMember(t, a, "blobs/sha256/bbbb", "small")
}

func TestOpenRefusesStreams(t *testing.T) {
	for _, p := range []string{os.DevNull, "-"} {
		a, err := Open(context.Background(), p, Options{})
		if err == nil {
			a.Close()
			t.Fatalf("Open(%s): no error", p)
		}
		if !errors.Is(err, ErrNotAFile) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("Open(%s): %v, want ErrNotAFile naming the input", p, err)
		}
	}
}

func TestOpenBroken(t *testing.T) {
	full := mkTar(t, ociMembers...)
	// A tar whose first header is damaged is a broken archive, not a file
	// of another kind: a byte of its name flipped (the checksum no longer
	// matches, the ustar magic stands), or the magic itself cleared.
	badSum := slices.Clone(full)
	badSum[3] ^= 1
	noMagic := slices.Clone(full)
	copy(noMagic[257:263], make([]byte, 6))
	magicFlip := slices.Clone(full)
	magicFlip[258] ^= 0x40
	tests := []struct {
		name        string
		in          []byte
		wantErr     bool
		wantProblem integrity.Kind
		unknown     bool // the error is ErrUnknownFormat: not an archive at all
	}{
		{"empty file", nil, true, "", false},
		{"zeros", make([]byte, 4096), true, "", false},
		{"not a tar", []byte(strings.Repeat("nonsense", 200)), true, "", true},
		{"a short text", []byte("hello\n"), true, "", true},
		{"gzip of a text", compressed(t, compress.Gzip, []byte(strings.Repeat("notes ", 300))), true, "", true},
		{"first header's checksum broken", badSum, true, "", false},
		{"first header's magic cleared", noMagic, true, "", false},
		{"a bit of the first header's magic flipped", magicFlip, true, "", false},
		{"tar of something else", mkTar(t, member{name: "hello.txt", body: "hi"}), true, "", true},
		{"truncated inside a member", full[:len(full)/2], false, integrity.Truncated, false},
		{"truncated gzip", compressed(t, compress.Gzip, full)[:300], false, integrity.Truncated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Open(context.Background(), writeFile(t, tt.in), Options{})
			if tt.wantErr {
				if err == nil {
					a.Close()
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), "in") {
					t.Fatalf("error does not name the file: %v", err)
				}
				if errors.Is(err, ErrUnknownFormat) != tt.unknown {
					t.Fatalf("errors.Is(%v, ErrUnknownFormat) = %v, want %v", err, !tt.unknown, tt.unknown)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if len(a.Problems) == 0 || a.Problems[0].Kind != tt.wantProblem {
				t.Fatalf("problems = %v, want %s", a.Problems, tt.wantProblem)
			}
		})
	}
}

func TestInputUnchanged(t *testing.T) {
	in := compressed(t, compress.Gzip, mkTar(t, ociMembers...))
	p := writeFile(t, in)
	before, _ := os.Stat(p)
	a, err := Open(context.Background(), p, Options{TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkMember(t, a, "blobs/sha256/aaaa", strings.Repeat("big", 1<<19))
	a.Close()
	after, _ := os.Stat(p)
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, in) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the input changed")
	}
}

// FuzzOpen opens whatever bytes as an input and reads every member it
// indexes. Seeds: two small archives, then every committed input, sound
// and hostile (layout folders as tars).
func FuzzOpen(f *testing.F) {
	f.Add(mkTar(f, ociMembers...))
	f.Add(compressed(f, compress.Gzip, mkTar(f, member{name: "manifest.json", body: "[]"})))
	for _, b := range corpus.Inputs(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := writeFile(t, b)
		a, err := Open(context.Background(), p, Options{MaxMembers: 1000})
		if err != nil {
			return
		}
		defer a.Close()
		for _, m := range a.Members() {
			rc, err := a.Open(m.Name)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
		}
	})
}

// Early is offered the members of an input compressed as a whole that are
// too big to keep, at their offsets, in the index's one pass; a member it
// leaves half read is still read to its end, and the input's digest still
// covers every byte.
func TestEarlyMembers(t *testing.T) {
	big1 := strings.Repeat("a", 2*smallMember)
	big2 := strings.Repeat("b", smallMember+1)
	raw := mkTar(t, member{name: "manifest.json", body: "[]"}, member{name: "big1", body: big1}, member{name: "dir/big2", body: big2})
	type offer struct {
		name         string
		offset, size int64
		read         string
	}
	for _, f := range []compress.Format{compress.Gzip, compress.Zstd} {
		t.Run(string(f), func(t *testing.T) {
			whole := compressed(t, f, raw)
			p := writeFile(t, whole)
			var offers []offer
			a, err := Open(context.Background(), p, Options{Early: func(name string, offset, size int64, r io.Reader) {
				n := size
				if name == "big1" {
					n = size / 2 // stops half way
				}
				b, err := io.ReadAll(io.LimitReader(r, n))
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				offers = append(offers, offer{name, offset, size, string(b)})
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if len(a.Problems) > 0 {
				t.Fatalf("problems: %v", a.Problems)
			}
			want := []offer{{"big1", 0, int64(len(big1)), big1[:len(big1)/2]}, {"dir/big2", 0, int64(len(big2)), big2}}
			if len(offers) != len(want) {
				t.Fatalf("offered %d members, want %d (the small one is kept, not offered)", len(offers), len(want))
			}
			for i, o := range offers {
				m, ok := a.Stat(o.name)
				if !ok || o.name != want[i].name || o.offset != m.Offset || o.size != want[i].size || o.read != want[i].read {
					t.Errorf("offer %d: %s at %d, %d bytes (%d read); want %s at %d, %d bytes", i, o.name, o.offset, o.size, len(o.read), want[i].name, m.Offset, want[i].size)
				}
			}
			sum := sha256.Sum256(whole)
			if err := a.Wait(); err != nil || a.Info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("input sha256 %s (%v), want %x", a.Info.SHA256, err, sum)
			}
			checkMember(t, a, "dir/big2", big2)
		})
	}
	// A cut-short input: the member Early was reading is missing, as
	// without Early.
	cut := compressed(t, compress.Gzip, raw)
	p := writeFile(t, cut[:len(cut)/2])
	a, err := Open(context.Background(), p, Options{Early: func(string, int64, int64, io.Reader) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.Stat("big1"); ok || !slices.ContainsFunc(a.Problems, func(p integrity.Problem) bool { return p.Kind == integrity.Truncated }) {
		t.Fatalf("a cut-short member kept, or no truncation problem: %v", a.Problems)
	}
}

// TestVisitSmallMembersReadsNoPass: in an input compressed as a whole, the
// members the index kept in memory are visited from memory: a visit of
// those alone decompresses nothing (the input is gone by then).
func TestVisitSmallMembersReadsNoPass(t *testing.T) {
	p := writeFile(t, compressed(t, compress.Gzip, mkTar(t, ociMembers...)))
	a, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	var got string
	err = a.Visit(context.Background(), []string{"blobs/sha256/bbbb"}, 1, func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = string(b)
		return err
	})
	if err != nil || got != "small" {
		t.Fatalf("Visit: %q, %v", got, err)
	}
}

// Visit starts members read in place largest first; VisitInOrder in the
// order asked for (one at a time, so the order is the calls').
func TestVisitInOrderKeepsTheOrderAsked(t *testing.T) {
	p := writeFile(t, mkTar(t, ociMembers...))
	a, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	names := []string{"blobs/sha256/bbbb", "blobs/sha256/aaaa"} // small, then big
	for _, tc := range []struct {
		visit func(context.Context, []string, int, func(string, io.Reader) error) error
		want  []string
	}{
		{a.Visit, []string{"blobs/sha256/aaaa", "blobs/sha256/bbbb"}},
		{a.VisitInOrder, names},
	} {
		var got []string
		err := tc.visit(context.Background(), names, 1, func(name string, r io.Reader) error {
			got = append(got, name)
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("visited %q (%v), want %q", got, err, tc.want)
		}
	}
}
