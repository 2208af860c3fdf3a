package archive

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file of a layout folder has an identity, the same from its name
// (lstat) and from the open file Visit reads (fstat); its bytes rewritten
// in place, same size, mtime set back, it has another (ctime); a link put
// in its place has none; a tar input's members have none.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	blobDir := filepath.Join(dir, "blobs", "sha256")
	os.MkdirAll(blobDir, 0o755)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	p := filepath.Join(blobDir, "ab")
	os.WriteFile(p, []byte("layer bytes"), 0o644)
	a, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	name := "blobs/sha256/ab"
	id, ok := a.Identity(name)
	if !ok || id.Size != 11 || id.Inode == 0 || id.Mtime == 0 || id.Ctime == 0 {
		t.Fatalf("Identity = %+v, %v", id, ok)
	}
	var opened FileID
	var openedOK bool
	if err := a.Visit(context.Background(), []string{name}, 1, func(_ string, r io.Reader) error {
		opened, openedOK = OpenedIdentity(r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !openedOK || opened != id {
		t.Errorf("OpenedIdentity = %+v, %v; lstat gave %+v", opened, openedOK, id)
	}
	if _, ok := a.Identity("blobs/sha256/none"); ok {
		t.Error("an identity for a member the input lacks")
	}

	time.Sleep(10 * time.Millisecond) // a ctime the clock can tell apart
	os.WriteFile(p, []byte("LAYER BYTES"), 0o644)
	mtime := time.Unix(0, id.Mtime)
	os.Chtimes(p, mtime, mtime)
	again, ok := a.Identity(name)
	if !ok || again.Size != id.Size || again.Mtime != id.Mtime || again.Inode != id.Inode || again.Ctime == id.Ctime {
		t.Errorf("rewritten in place, mtime set back: %+v, %v; was %+v (only its ctime should differ)", again, ok, id)
	}

	os.Remove(p)
	os.Symlink("../../index.json", p)
	if got, ok := a.Identity(name); ok {
		t.Errorf("a link has identity %+v", got)
	}
}
