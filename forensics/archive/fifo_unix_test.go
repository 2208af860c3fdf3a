//go:build unix

package archive

import (
	"context"
	"errors"
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
