package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCustodyReadSmall: a file read for its first bytes is hashed whole,
// as ReadFile would record it, so the chain of custody does not depend on
// how much of it the reader needed.
func TestCustodyReadSmall(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("sha256:"), 1000)
	if err := os.WriteFile(filepath.Join(dir, "link"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("link", filepath.Join(dir, "alias"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	small, whole := NewCustody(root), NewCustody(root)
	head, n, err := small.ReadSmall("link", 10)
	if err != nil || n != int64(len(big)) || !bytes.Equal(head, big[:10]) {
		t.Errorf("read %q, %d bytes, %v", head, n, err)
	}
	if _, err := whole.ReadFile("link"); err != nil {
		t.Fatal(err)
	}
	if a, b := must(small.Digest()), must(whole.Digest()); a != b {
		t.Errorf("custody %s after ReadSmall, %s after ReadFile", a, b)
	}
	if _, _, err := small.ReadSmall("alias", 10); err == nil {
		t.Error("a link was followed")
	}
	small.Made("(made) x", []byte("x"))
	if small.Files() != 2 {
		t.Errorf("%d files in custody", small.Files())
	}
}

func must(sum string, _ int64) string { return sum }
