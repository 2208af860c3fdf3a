package corpus

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestInputs(t *testing.T) {
	if n := len(Inputs(t)); n < 2 {
		t.Fatalf("%d committed inputs", n)
	}
}

// TarFolder keeps a folder's files and its symlinks as links, never
// following them out of the folder.
func TestTarFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x.oci")
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "blobs", "out")); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(TarFolder(t, dir)))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(h.Typeflag) + h.Linkname + string(b)
	}
	want := map[string]string{"blobs": "5", "blobs/out": "2/etc/passwd", "oci-layout": "0{}"}
	if len(got) != len(want) {
		t.Fatalf("tar holds %q, want %q", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
}
