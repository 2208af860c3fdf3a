package archive

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An overlay upper folder is read as the layer tar it stands for: a 0/0
// character device (a file the container deleted) is a ".wh." entry, an
// opaque folder gets ".wh..wh..opq", and the overlay's xattrs stay out.
func TestListUpper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts are device nodes, and trusted.* xattrs need root")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc/ssl"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/motd"), []byte("rw\n"), 0o644)
	if err := syscall.Mknod(filepath.Join(dir, "etc/passwd"), syscall.S_IFCHR, 0); err != nil {
		t.Skipf("mknod: %v", err)
	}
	if err := syscall.Setxattr(filepath.Join(dir, "etc/ssl"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("setxattr: %v (the temporary folder's filesystem keeps no trusted xattrs)", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, problems, err := ListUpper(context.Background(), root, 0, "rw")
	if err != nil || len(problems) > 0 {
		t.Fatalf("ListUpper: %v %v", problems, err)
	}
	rc := f.Open()
	defer rc.Close()
	tr := tar.NewReader(rc)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s keeps %s", h.Name, k)
			}
		}
		got = append(got, h.Name)
	}
	want := []string{"etc/", "etc/motd", "etc/.wh.passwd", "etc/ssl/", "etc/ssl/.wh..wh..opq"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("entries %q, want %q", got, want)
	}
}

// A rootless upper folder, as fuse-overlayfs writes it (containers/storage
// with a mount_program): deletions are ".wh." files already, and an
// opaque folder carries user.overlay.opaque, which an unprivileged
// examiner can read. The layer tar is the same as a rootful one's.
func TestListUpperRootless(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc/ssl"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/.wh.passwd"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "etc/motd"), []byte("rw\n"), 0o644)
	if err := syscall.Setxattr(filepath.Join(dir, "etc/ssl"), "user.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("setxattr: %v (the temporary folder's filesystem keeps no user xattrs)", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, problems, err := ListUpper(context.Background(), root, 0, "rw")
	if err != nil || len(problems) > 0 {
		t.Fatalf("ListUpper: %v %v", problems, err)
	}
	rc := f.Open()
	defer rc.Close()
	tr := tar.NewReader(rc)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s keeps %s", h.Name, k)
			}
		}
		got = append(got, h.Name)
	}
	want := []string{"etc/", "etc/.wh.passwd", "etc/motd", "etc/ssl/", "etc/ssl/.wh..wh..opq"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("entries %q, want %q", got, want)
	}
}
