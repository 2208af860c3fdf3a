//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A folder of archives may hold a pipe or a socket: it is skipped with a
// warning, never opened (a pipe would wait for a writer).
func TestExpandInputsSkipsPipes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.tar"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	in, warnings, err := expandInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 1 || filepath.Base(in[0].path) != "a.tar" {
		t.Errorf("inputs %+v, want a.tar alone", in)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "pipe: not a regular file") {
		t.Errorf("warnings %q", warnings)
	}
}
