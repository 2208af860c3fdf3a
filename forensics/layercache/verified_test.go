package layercache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
)

// A verification record reads back as written, with its making, from a
// folder of its own that no rules fingerprint names; edited, swapped,
// made under another key or by another version, it is rejected and named.
func TestVerificationRecord(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2024, 3, 29, 11, 0, 0, 0, time.UTC)
	var named []Rejection
	c := open(t, Config{Dir: dir, Now: func() time.Time { return at }, Rejected: func(r Rejection) { named = append(named, r) }})
	a, b := digest.FromString("a"), digest.FromString("b")
	id := archive.FileID{Size: 3457, Mtime: 1711670400_123456789, Ctime: 1711670401_987654321, Inode: 42}
	for _, d := range []digest.Digest{a, b} {
		if err := c.PutVerified(Verification{Digest: d, File: id, By: "shard 1/4"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "verified", "sha256", a.Encoded()+".entry")); err != nil {
		t.Fatalf("no record where VerifiedPath says: %v", err)
	}
	v, ok, rej := c.GetVerified(a)
	if !ok || rej != nil || v.File != id || v.By != "shard 1/4" || v.Origin == nil || !v.Origin.Created.Equal(at) ||
		v.Origin.KeyID != c.KeyID() || v.Origin.ToolVersion != "1.0.0 (test)" {
		t.Fatalf("GetVerified = %+v, %v, %v", v, ok, rej)
	}
	if _, ok, rej := c.GetVerified(digest.FromString("none")); ok || rej != nil {
		t.Errorf("a blob never verified: %v, %v", ok, rej)
	}

	pa, pb := filepath.Join(dir, VerifiedPath(a)), filepath.Join(dir, VerifiedPath(b))
	orig, _ := os.ReadFile(pa)
	check := func(name string, want Reason, c *Cache) {
		t.Helper()
		named = nil
		if _, ok, rej := c.GetVerified(a); ok || rej == nil || rej.Reason != want || rej.Kind != KindVerified {
			t.Errorf("%s: taken or misnamed: %v, %+v", name, ok, rej)
		} else if len(named) != 1 || named[0].String() == "" || !bytes.Contains([]byte(named[0].String()), []byte("verification of layer "+a.String())) {
			t.Errorf("%s: named %v", name, named)
		}
		if err := os.WriteFile(pa, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Another inode written in: the MAC no longer matches.
	os.WriteFile(pa, bytes.Replace(orig, []byte(`"inode":42`), []byte(`"inode":43`), 1), 0o644)
	check("edited", Unauthenticated, c)
	rb, _ := os.ReadFile(pb)
	os.WriteFile(pa, rb, 0o644)
	check("swapped", Wrong, c)
	check("other key", OtherKey, open(t, Config{Dir: dir, Key: testKey(t, "x"), Rejected: func(r Rejection) { named = append(named, r) }}))
	check("other version", OtherToolVersion, open(t, Config{Dir: dir, ToolVersion: "2.0.0", Rejected: func(r Rejection) { named = append(named, r) }}))
	if _, ok, _ := c.GetVerified(a); !ok {
		t.Error("the record restored is not taken")
	}

	// A cache with no folder records nothing and finds nothing.
	m := Memory()
	if err := m.PutVerified(Verification{Digest: a, File: id, By: "scan"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.GetVerified(a); ok {
		t.Error("a memory cache keeps verification records")
	}
}
