package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// layerTar is a small layer: a folder, a file, a hard link, a symlink and
// a whiteout.
func layerTar(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}, "")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/motd", Mode: 0o644}, "hello\n")
	add(&tar.Header{Typeflag: tar.TypeLink, Name: "etc/motd2", Linkname: "etc/motd", Mode: 0o644}, "")
	add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "etc/link", Linkname: "/etc/motd", Mode: 0o777}, "")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/.wh.gone", Mode: 0o600}, "")
	tw.Close()
	return b.Bytes()
}

// splitOf records layer as moby does (layer_store.go: NewInputTarStream
// with a JSON packer over gzip and no file putter) and lays its files out
// in a diff folder as the overlay driver applies them.
func splitOf(t *testing.T, layer []byte) (*Split, string) {
	t.Helper()
	dir := t.TempDir()
	var ts bytes.Buffer
	zw := gzip.NewWriter(&ts)
	packed(t, layer, zw)
	tsPath := filepath.Join(dir, "tar-split.json.gz")
	os.WriteFile(tsPath, ts.Bytes(), 0o600)
	diff := filepath.Join(dir, "diff")
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		p := filepath.Join(diff, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, os.FileMode(h.Mode))
		case tar.TypeReg:
			if base := filepath.Base(h.Name); strings.HasPrefix(base, ".wh.") {
				// A 0/0 device on disk, where the examiner may make one.
				mkWhiteout(filepath.Join(filepath.Dir(p), strings.TrimPrefix(base, ".wh.")))
				continue
			}
			data, _ := io.ReadAll(tr)
			os.WriteFile(p, data, os.FileMode(h.Mode))
		case tar.TypeLink:
			os.Link(filepath.Join(diff, h.Linkname), p)
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
		}
	}
	root, err := os.OpenRoot(diff)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &Split{Name: "layer", Diff: root, Open: func() (io.ReadCloser, error) { return os.Open(tsPath) }}, diff
}

func rebuilt(t *testing.T, s *Split) ([]byte, []integrity.Problem) {
	t.Helper()
	var got []integrity.Problem
	r := s.Rebuild(func(ps []integrity.Problem) { got = ps })
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	return data, got
}

func TestRebuild(t *testing.T) {
	layer := layerTar(t)
	tests := []struct {
		name   string
		damage func(diff string)
		same   bool
		drift  string // what Changed says
		// sized says the rebuild says it too: its size shows it. A
		// change of bytes alone shows in the tar's sha256, and only
		// Changed, the second look, names the file.
		sized bool
	}{
		{"as pulled", func(string) {}, true, "", false},
		{"byte changed", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hellO\n"), 0o644) }, false, "content differs", false},
		{"shorter", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("he"), 0o644) }, false, "is 2 bytes, 6 when", true},
		// What a file grew by is not in the tar (which stays as pulled),
		// and is said.
		{"longer", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hello\nworld"), 0o644) }, true, "is longer", true},
		{"gone", func(d string) { os.Remove(filepath.Join(d, "etc/motd")); os.Remove(filepath.Join(d, "etc/motd2")) }, false, "cannot be read", true},
		{"a link now", func(d string) {
			os.Remove(filepath.Join(d, "etc/motd"))
			os.Symlink("/etc/hostname", filepath.Join(d, "etc/motd"))
		}, false, "cannot be read", true},
		{"planted, same tar", func(d string) { os.WriteFile(filepath.Join(d, "etc/planted"), []byte("x"), 0o644) }, true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, diff := splitOf(t, layer)
			tc.damage(diff)
			size, err := s.Size()
			if err != nil || size != int64(len(layer)) {
				t.Fatalf("Size = %d, %v; the tar is %d bytes", size, err, len(layer))
			}
			if quick, ok := s.quickSize(); !ok || quick != size {
				t.Fatalf("quickSize = %d, %v; the tar is %d bytes", quick, ok, len(layer))
			}
			data, ps := rebuilt(t, s)
			if len(data) != len(layer) {
				t.Errorf("rebuilt %d bytes, want %d: the tar must stay whole", len(data), len(layer))
			}
			if same := sha256.Sum256(data) == sha256.Sum256(layer); same != tc.same {
				t.Errorf("rebuilt tar same as pulled: %v, want %v", same, tc.same)
			}
			oneSaying := func(ps []integrity.Problem, want string) bool {
				return want == "" && len(ps) == 0 || want != "" && len(ps) == 1 && strings.Contains(ps[0].Detail, want)
			}
			wantRebuild := ""
			if tc.sized {
				wantRebuild = tc.drift
			}
			if !oneSaying(ps, wantRebuild) {
				t.Errorf("rebuild: problems %v, want one saying %q", ps, wantRebuild)
			}
			changed, err := s.Changed(context.Background())
			if err != nil || !oneSaying(changed, tc.drift) {
				t.Errorf("Changed = %v, %v; want one saying %q", changed, err, tc.drift)
			}
		})
	}
}

func TestDrift(t *testing.T) {
	layer := layerTar(t)
	tests := []struct {
		name   string
		damage func(diff string)
		want   []string
	}{
		{"as pulled", func(string) {}, nil},
		{"planted file", func(d string) { os.WriteFile(filepath.Join(d, "etc/x.so"), []byte("x"), 0o644) }, []string{"drift: planted: /etc/x.so"}},
		{"planted folder", func(d string) { os.MkdirAll(filepath.Join(d, "opt/a/b"), 0o755) }, []string{"drift: planted: /opt: a folder"}},
		// etc/motd2 is a hard link: one more name of the same file.
		{"mode changed", func(d string) { os.Chmod(filepath.Join(d, "etc/motd"), os.ModeSetuid|0o755) },
			[]string{"drift: mode changed: /etc/motd is 4755, 0644", "drift: mode changed: /etc/motd2 is 4755, 0644"}},
		{"owner changed", func(d string) { os.Chown(filepath.Join(d, "etc/motd"), 1, 2) },
			[]string{"drift: owner changed: /etc/motd is 1:2, 0:0", "drift: owner changed: /etc/motd2 is 1:2, 0:0"}},
		{"link gone", func(d string) { os.Remove(filepath.Join(d, "etc/link")) }, []string{"drift: gone: /etc/link (a symbolic link)"}},
		{"whiteout lost in a copy", func(d string) { os.Remove(filepath.Join(d, "etc/gone")) },
			[]string{"1 whiteouts of the layer are not in its folder"}},
		// fuse-overlayfs (rootless containers/storage) keeps the tar's own
		// .wh. file where the kernel's overlay has a 0/0 device.
		{"whiteout as a .wh. file", func(d string) {
			os.Remove(filepath.Join(d, "etc/gone"))
			os.WriteFile(filepath.Join(d, "etc/.wh.gone"), nil, 0o600)
		}, nil},
		{"link made a file", func(d string) {
			os.Remove(filepath.Join(d, "etc/link"))
			os.WriteFile(filepath.Join(d, "etc/link"), nil, 0o644)
		}, []string{"drift: type changed: /etc/link is a file, a symbolic link"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "owner") && os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			s, diff := splitOf(t, layer)
			if _, err := os.Lstat(filepath.Join(diff, "etc/gone")); err != nil {
				t.Skip("the layer's whiteout could not be made (mknod needs root)")
			}
			tc.damage(diff)
			ps, err := s.Drift(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if (p.Kind != integrity.Drift && p.Kind != integrity.Degraded) || p.Blob != "layer" {
					t.Errorf("record %+v", p)
				}
				got = append(got, p.Detail)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("drift %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("drift %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}

// TestCompareContent: headers read from a layer's bytes (containerd's
// blobs) carry each file's sha256, so a folder's file whose bytes changed
// is named, as a tar-split rebuild names it.
func TestCompareContent(t *testing.T) {
	layer := layerTar(t)
	headers := func() *Headers {
		hs := NewHeaders()
		tr := tar.NewReader(bytes.NewReader(layer))
		for {
			h, err := tr.Next()
			if err != nil {
				return hs
			}
			hs.Add(h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid)
			if h.Typeflag == tar.TypeReg {
				data, _ := io.ReadAll(tr)
				sum := sha256.Sum256(data)
				hs.AddContent(h.Name, int64(len(data)), sum[:])
			}
		}
	}
	tests := []struct {
		name   string
		damage func(diff string)
		want   []string
	}{
		{"as unpacked", func(string) {}, nil},
		{"byte changed", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hellO\n"), 0o644) },
			[]string{"drift: changed: /etc/motd content differs"}}, // motd2, a hard link, has no bytes of its own in the tar
		{"byte appended", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hello\n!"), 0o644) },
			[]string{"drift: changed: /etc/motd is 7 bytes, 6"}},
		{"file gone", func(d string) { os.Remove(filepath.Join(d, "etc/motd")) }, []string{"drift: gone: /etc/motd (a file)"}},
		{"planted link", func(d string) { os.Symlink("/etc/shadow", filepath.Join(d, "etc/shadow")) },
			[]string{"drift: planted: /etc/shadow: a symbolic link"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, diff := splitOf(t, layer)
			tc.damage(diff)
			root, err := os.OpenRoot(diff)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			ps, err := headers().Compare(context.Background(), "snapshot", root, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if p.Kind != integrity.Drift || p.Blob != "snapshot" {
					t.Errorf("record %+v", p)
				}
				got = append(got, p.Detail)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("drift %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("drift %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}

// A tar-split that is not one is an error naming it, never a panic nor
// unbounded memory.
func FuzzSplit(f *testing.F) {
	var ts bytes.Buffer
	zw := gzip.NewWriter(&ts)
	packed(f, layerTar(f), zw)
	f.Add(ts.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		s := &Split{Name: "layer", Diff: root, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		if _, err := s.Size(); err != nil {
			return
		}
		r := s.Rebuild(nil)
		io.Copy(io.Discard, r)
		r.Close()
		s.Drift(context.Background(), 0)
	})
}

// packed writes layer's tar-split to zw, and closes it, as moby's
// layer_store.go does (NewInputTarStreamWithDone, no file putter).
func packed(t testing.TB, layer []byte, zw *gzip.Writer) {
	t.Helper()
	r, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(layer), storage.NewJSONPacker(zw), storage.NewDiscardFilePutter())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	zw.Close()
}
