package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	b := NewBeneath(root)
	defer b.Close()
	if rc, _, err := b.Open("f"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("open FIFO: %v, want not a regular file", err)
	}
}

// TestBeneath: what openat2 says of a name is what os.Root says, a link
// is never taken for what it points to, and nothing out of the folder is
// reached.
func TestBeneath(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	for _, d := range []string{"d/e", "empty"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "d/e/data"), []byte("blob"), 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("examiner's"), 0o644)
	for link, to := range map[string]string{"d/link": "e", "d/file-link": "e/data", "out": outside, "d/up": "../.."} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	b := NewBeneath(root)
	defer b.Close()

	describe := func(fi fs.FileInfo, err error) string {
		if err != nil {
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return "not there"
			case strings.Contains(err.Error(), "escapes"):
				return "escapes"
			}
			return "error"
		}
		return fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
	}
	for _, name := range []string{"d", "d/e", "d/e/data", "d/link", "d/file-link", "d/link/data", "out", "out/secret", "d/up/x", "missing", "d/missing/x", "d/e/data/x"} {
		got, err := b.Lstat(name)
		want, werr := root.Lstat(name)
		if describe(got, err) != describe(want, werr) {
			t.Errorf("Lstat(%s): %s, os.Root says %s", name, describe(got, err), describe(want, werr))
		}
		if err == nil && werr == nil && !sameInode(got, want) {
			t.Errorf("Lstat(%s): another file than os.Root's", name)
		}
	}
	lists := []struct {
		name, want, fails string
	}{
		{name: "d", want: "e file-link link up"},
		{name: "empty", want: ""},
		{name: "d/link", fails: "a L---------, not a folder"},
		{name: "d/e/data", fails: "not a folder"},
		{name: "out", fails: "not a folder"},
		{name: "out/secret", fails: "escapes"},
		{name: "missing", fails: "no such file"},
	}
	for _, c := range lists {
		ents, err := b.ReadDir(c.name)
		if c.fails != "" {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(c.fails, "a L---------, ")) {
				t.Errorf("ReadDir(%s): %v, want an error saying %q", c.name, err, c.fails)
			}
			continue
		}
		if err != nil {
			t.Errorf("ReadDir(%s): %v", c.name, err)
			continue
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("ReadDir(%s) = %q, want %q", c.name, got, c.want)
		}
	}
	if rc, _, err := b.Open("d/file-link"); err == nil {
		rc.Close()
		t.Error("Open went through a link")
	}
	if rc, _, err := b.Open("out/secret"); err == nil {
		rc.Close()
		t.Error("Open left the folder")
	}
}

func sameInode(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
