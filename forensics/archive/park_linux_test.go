package archive

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func readMember(a *Archive, name string) (string, error) {
	rc, err := a.Open(name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

// parkWhileReading parks a while its member name (holding body) is read:
// one descriptor stays open until the member is closed (a tar's own, or a
// folder's member file), none after, and the member reads the same after
// Park, leaving none open.
func parkWhileReading(t *testing.T, a *Archive, base int, name, body string) {
	t.Helper()
	reading, err := a.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	a.Park()
	if n := openFDs(t); n != base+1 {
		t.Fatalf("parked while a member is read: %d descriptors open, want 1", n-base)
	}
	if b, err := io.ReadAll(reading); err != nil || string(b) != body {
		t.Fatalf("the member read while parked: %q, %v", b, err)
	}
	reading.Close()
	if n := openFDs(t); n != base {
		t.Fatalf("parked, read and closed: %d descriptors open, want none", n-base)
	}
	if got, err := readMember(a, name); err != nil || got != body {
		t.Fatalf("read after Park: %q, %v", got, err)
	}
	if n := openFDs(t); n != base {
		t.Fatalf("a member read after Park left %d descriptors open", n-base)
	}
}

// A parked tar input holds no descriptor, and its members still read,
// each through a descriptor of its own closed with it; one being read
// when it is parked keeps the input's until it is closed. A file replaced
// since, or written, is not read.
func TestPark(t *testing.T) {
	body := "the layer's bytes"
	p := writeFile(t, mkTar(t, append(slices.Clone(ociMembers), member{name: "blobs/sha256/cccc", body: body})...))
	base := openFDs(t)
	a, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t); n != base+1 {
		t.Fatalf("%d descriptors open for the input, want 1", n-base)
	}

	parkWhileReading(t, a, base, "blobs/sha256/cccc", body)

	// Written since (the same inode, another ctime, mtime set back).
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("x"), st.Size()-1)
	f.Close()
	time.Sleep(10 * time.Millisecond) // a ctime of its own, on a coarse clock
	os.Chtimes(p, st.ModTime(), st.ModTime())
	if _, err := readMember(a, "blobs/sha256/cccc"); !errors.Is(err, ErrChanged) {
		t.Fatalf("a file written since it was read: %v, want ErrChanged", err)
	}
	// Replaced by another.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, mkTar(t, ociMembers...), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := readMember(a, "blobs/sha256/cccc"); err == nil {
		t.Fatal("a file replaced since it was read was read")
	}
}

// A parked image layout folder holds no descriptor; its members still
// read, and are opened in the folder read, never in another renamed into
// its place.
func TestParkFolder(t *testing.T) {
	body := "the layer's bytes"
	dir := filepath.Join(t.TempDir(), "layout")
	for _, m := range append(slices.Clone(ociMembers), member{name: "blobs/sha256/cccc", body: body}) {
		if m.typ == tar.TypeDir {
			continue
		}
		p := filepath.Join(dir, m.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(m.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := openFDs(t)
	a, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n := openFDs(t); n != base+1 {
		t.Fatalf("%d descriptors open for the folder, want 1", n-base)
	}
	parkWhileReading(t, a, base, "blobs/sha256/cccc", body)
	if _, ok := a.Identity("blobs/sha256/cccc"); !ok {
		t.Error("no identity for a member of a parked folder")
	}
	if n := openFDs(t); n != base {
		t.Fatalf("the identity of a member after Park left %d descriptors open", n-base)
	}
	// Another folder renamed into its place.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(dir+".old")); err != nil {
		t.Fatal(err)
	}
	if _, err := readMember(a, "blobs/sha256/cccc"); !errors.Is(err, ErrChanged) {
		t.Fatalf("a folder replaced since it was read: %v, want ErrChanged", err)
	}
}
