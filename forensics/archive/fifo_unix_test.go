//go:build unix

package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A named pipe as input is refused at once: opening it would wait for a
// writer forever.
func TestOpenRefusesAFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		a, err := Open(context.Background(), p, Options{})
		if err == nil {
			a.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotAFile) {
			t.Fatalf("Open(fifo): %v, want ErrNotAFile", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open(fifo) hangs")
	}
}

// OpenRegular opens a regular file only: not a link to one, even one that
// stays below the root (which os.Root itself follows, O_NOFOLLOW or not),
// and not a FIFO, without waiting on it.
func TestOpenRegularRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("file", filepath.Join(dir, "link"))
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.Symlink("../file", filepath.Join(dir, "d", "up"))
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if f, err := OpenRegular(root, "file"); err != nil {
		t.Errorf("a regular file: %v", err)
	} else {
		f.Close()
	}
	for _, name := range []string{"link", "d/up", "pipe", "d"} {
		done := make(chan error, 1)
		go func() {
			f, err := OpenRegular(root, name)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s opened", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still opening", name)
		}
	}
}
