//go:build unix

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// rfsFolder writes a small root filesystem below a new folder, next to a
// file outside it that nothing may read, and returns the folder and the
// outside file's secret.
func rfsFolder(t *testing.T) (dir, secret string) {
	t.Helper()
	base := t.TempDir()
	secret = "SECRET-OUTSIDE-" + filepath.Base(base)
	if err := os.WriteFile(filepath.Join(base, "outside"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "host")
	for _, d := range []string{"etc", "usr/bin", "usr/lib", "var/lib/dpkg", "tmp", "loop"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/os-release":       "ID=debian\n",
		"usr/bin/sshd":         "\x7fELF sshd",
		"usr/lib/liblzma.so.5": "\x7fELF liblzma",
		"var/lib/dpkg/status":  "Package: liblzma5\n",
		"etc/empty":            "",
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("/etc", filepath.Join(dir, "etc/abs")))
	must(os.Symlink("../../outside", filepath.Join(dir, "etc/out")))
	must(os.Symlink("../loop", filepath.Join(dir, "loop/self"))) // a loop
	must(os.Symlink("b", filepath.Join(dir, "loop/a")))
	must(os.Symlink("a", filepath.Join(dir, "loop/b")))
	must(os.Link(filepath.Join(dir, "usr/bin/sshd"), filepath.Join(dir, "usr/bin/sshd-hard")))
	must(syscall.Mkfifo(filepath.Join(dir, "tmp/fifo"), 0o644))
	if l, err := net.Listen("unix", filepath.Join(dir, "tmp/sock")); err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return dir, secret
}

// readTar lists a tar's headers by name with each regular file's bytes.
func readTar(t *testing.T, b []byte) (order []string, hdrs map[string]*tar.Header, bodies map[string]string) {
	t.Helper()
	hdrs, bodies = map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return order, hdrs, bodies
		}
		if err != nil {
			t.Fatalf("the synthesised tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, h.Name)
		hdrs[h.Name], bodies[h.Name] = h, string(body)
	}
}

// openWithin opens p, failing the test when it takes longer than a few
// seconds (a FIFO opened would wait for a writer forever).
func openWithin(t *testing.T, p string) (*Archive, error) {
	t.Helper()
	type opened struct {
		a   *Archive
		err error
	}
	done := make(chan opened, 1)
	go func() {
		a, err := Open(context.Background(), p, Options{})
		done <- opened{a, err}
	}()
	select {
	case o := <-done:
		if o.a != nil {
			t.Cleanup(func() { o.a.Close() })
		}
		return o.a, o.err
	case <-time.After(20 * time.Second):
		t.Fatal("Open blocks")
	}
	return nil, nil
}

func readLayer(t *testing.T, a *Archive) []byte {
	t.Helper()
	r, ok := a.RootFS()
	if !ok {
		t.Fatal("not a root filesystem")
	}
	rc, err := a.Open(r.Layer.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	done := make(chan []byte, 1)
	go func() {
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Error(err)
		}
		done <- b
	}()
	select {
	case b := <-done:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("reading the layer blocks")
	}
	return nil
}

func TestOpenRootfsDir(t *testing.T) {
	dir, secret := rfsFolder(t)
	a, err := openWithin(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Info.Format != RootfsDir {
		t.Fatalf("format %s, want %s", a.Info.Format, RootfsDir)
	}
	r, _ := a.RootFS()
	if r.Name != "host" || r.Container || r.Layer.Name != "host" || len(a.Members()) != 1 {
		t.Errorf("RootFS() = %+v, members %+v", r, a.Members())
	}
	b := readLayer(t, a)
	if bytes.Contains(b, []byte(secret)) {
		t.Fatal("the layer holds the bytes of a file outside the folder")
	}
	if int64(len(b)) != r.Layer.Size || a.Info.Size != r.Layer.Size {
		t.Errorf("the layer is %d bytes, listed as %d (input %d)", len(b), r.Layer.Size, a.Info.Size)
	}
	if again := readLayer(t, a); !bytes.Equal(again, b) {
		t.Error("two reads of the folder's tar differ")
	}
	if err := a.Wait(); err != nil || a.Info.SHA256 != sha256Hex(b) {
		t.Errorf("Wait: %v; sha256 %s, want the tar's %s", err, a.Info.SHA256, sha256Hex(b))
	}

	order, hdrs, bodies := readTar(t, b)
	want := []string{"etc/", "etc/abs", "etc/empty", "etc/os-release", "etc/out", "loop/", "loop/a", "loop/b", "loop/self",
		"tmp/", "tmp/fifo", "usr/", "usr/bin/", "usr/bin/sshd", "usr/bin/sshd-hard", "usr/lib/", "usr/lib/liblzma.so.5",
		"var/", "var/lib/", "var/lib/dpkg/", "var/lib/dpkg/status"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("entries\n%q\nwant, in walk order,\n%q", order, want)
	}
	for name, wantLink := range map[string]string{"etc/abs": "/etc", "etc/out": "../../outside", "loop/self": "../loop", "loop/a": "b"} {
		if h := hdrs[name]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != wantLink {
			t.Errorf("%s: %+v, want a link to %s, never followed", name, h, wantLink)
		}
	}
	if h := hdrs["usr/bin/sshd-hard"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/sshd" || h.Size != 0 {
		t.Errorf("usr/bin/sshd-hard: %+v, want a hard link to usr/bin/sshd", h)
	}
	if h := hdrs["tmp/fifo"]; h == nil || h.Typeflag != tar.TypeFifo {
		t.Errorf("tmp/fifo: %+v, want a FIFO entry", h)
	}
	if bodies["usr/lib/liblzma.so.5"] != "\x7fELF liblzma" || bodies["usr/bin/sshd"] != "\x7fELF sshd" {
		t.Errorf("contents: %q", bodies)
	}
	if h := hdrs["tmp/"]; h.Mode != 0o755 || h.ModTime.Nanosecond() != 0 || h.Uname != "" {
		t.Errorf("tmp/: mode %o, mtime %v, user %q: want docker export's header", h.Mode, h.ModTime, h.Uname)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp/sock")); err == nil {
		if len(r.LeftOut) != 1 || !strings.Contains(r.LeftOut[0], "/tmp/sock: a socket") {
			t.Errorf("LeftOut = %q, want the socket", r.LeftOut)
		}
	}
	if len(a.Problems) != 0 {
		t.Errorf("problems: %v", a.Problems)
	}
}

// A file that cannot be read is a problem naming its path, and is not in
// the layer; the rest is read.
func TestRootfsDirUnreadable(t *testing.T) {
	dir, _ := rfsFolder(t)
	if os.Geteuid() != 0 {
		// For real: no read permission.
		if err := os.Chmod(filepath.Join(dir, "etc/os-release"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(dir, "etc/os-release"), 0o644) })
	} else {
		// Root reads whatever the permissions: fail as they would.
		openListed = func(root *os.Root, name string) (*os.File, error) {
			if name == "etc/os-release" {
				return nil, &fs.PathError{Op: "openat", Path: name, Err: syscall.EACCES}
			}
			return openFile(root, name)
		}
		t.Cleanup(func() { openListed = openFile })
	}
	a, err := openWithin(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Problems) != 1 || a.Problems[0].Kind != integrity.Unreadable || a.Problems[0].Blob != "/etc/os-release" ||
		!strings.Contains(a.Problems[0].Detail, "permission denied") {
		t.Fatalf("problems %+v, want /etc/os-release unreadable", a.Problems)
	}
	_, hdrs, bodies := readTar(t, readLayer(t, a))
	if hdrs["etc/os-release"] != nil || bodies["usr/lib/liblzma.so.5"] == "" {
		t.Errorf("the unreadable file is in the layer, or the rest is not: %v", hdrs)
	}
}

// A file changed after the folder was listed is not read as another: the
// read of the layer stops with an error naming it, and no digest is
// claimed for the folder.
func TestRootfsDirChanged(t *testing.T) {
	dir, _ := rfsFolder(t)
	a, err := openWithin(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/lib/liblzma.so.5"), []byte("\x7fELF liblzma, patched"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := a.RootFS()
	rc, err := a.Open(r.Layer.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, errChanged) || !strings.Contains(err.Error(), "/usr/lib/liblzma.so.5") {
		t.Errorf("reading a changed folder: %v", err)
	}
	if err := a.Wait(); err == nil {
		t.Errorf("Wait claims sha256 %s for a folder that changed", a.Info.SHA256)
	}
}

// A folder holding an image is still read as one, and a folder of
// anything else is refused as before.
func TestOpenDirNotRootfs(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	if _, err := Open(context.Background(), dir, Options{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Open(folder of notes) = %v, want ErrUnknownFormat", err)
	}
	os.MkdirAll(filepath.Join(dir, "usr"), 0o755)
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("[]"), 0o644)
	a, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Info.Format != DockerArchive {
		t.Errorf("a folder with a manifest.json is %s", a.Info.Format)
	}
}

func TestIsRootFSDir(t *testing.T) {
	dir, _ := rfsFolder(t)
	if !IsRootFSDir(dir) || IsRootFSDir(t.TempDir()) || IsRootFSDir(filepath.Join(dir, "etc/os-release")) {
		t.Error("IsRootFSDir tells a root filesystem from an empty folder or a file wrongly")
	}
}
