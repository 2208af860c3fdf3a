package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWalkFolder: the descriptor-relative walk sees what fs.WalkDir over
// os.Root sees, in the same order, with the same modes and owners, and
// skips what it is told to.
func TestWalkFolder(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/b/c", "skip/deep", "z"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "a/b/file"), []byte("x"), 0o4755)
	os.WriteFile(filepath.Join(dir, "skip/deep/f"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "a/1"), []byte("12"), 0o644)
	os.Symlink("/etc", filepath.Join(dir, "a/link")) // a link, never followed
	os.Chmod(filepath.Join(dir, "z"), 0o1777)
	if err := syscall.Mkfifo(filepath.Join(dir, "z/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	record := func(walk func(fs.WalkDirFunc) error) string {
		var b strings.Builder
		err := walk(func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(&b, "%s error %v\n", p, err)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				t.Fatal(err)
			}
			uid, gid, _ := ownerOf(fi)
			fmt.Fprintf(&b, "%s %v %s %d %d:%d\n", p, fi.Mode(), fi.Name(), fi.Size(), uid, gid)
			if p == "skip" {
				return fs.SkipDir
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := record(func(fn fs.WalkDirFunc) error { return fs.WalkDir(root.FS(), ".", fn) })
	got := record(func(fn fs.WalkDirFunc) error { return walkFolder(root, fn) })
	if got != want {
		t.Errorf("walkFolder saw\n%s\nfs.WalkDir saw\n%s", got, want)
	}
	if strings.Contains(got, "skip/deep") || !strings.Contains(got, "a/link Lrwxrwxrwx") || !strings.Contains(got, "z/fifo p") {
		t.Errorf("walk:\n%s", got)
	}
}

// TestOpenFIFO: a FIFO where a layer's file was is refused at once, not
// waited on.
func TestOpenFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	b := &beneath{root: root}
	defer b.close()
	if rc, _, err := b.open("f"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("open FIFO: %v, want not a regular file", err)
	}
}
