package layercache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/layer"
)

func entry(name string, n int) Entry {
	sum := &layer.Summary{DiffID: digest.FromString("diff " + name)}
	for range n {
		sum.Entries = append(sum.Entries, &layer.Entry{Path: "/f"})
	}
	return Entry{Digest: digest.FromString(name), Summary: sum}
}

const fp = "0123456789abcdef-rules"

func TestMemoryBound(t *testing.T) {
	c := New("")
	c.maxEntries = 10
	a, b, d := entry("a", 4), entry("b", 4), entry("d", 4)
	c.Put(a, fp)
	c.Put(b, fp)
	if _, ok := c.Get(a.Digest, fp); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.Put(d, fp) // 12 entries > 10: b, the least recently used, goes
	if _, ok := c.Get(b.Digest, fp); ok {
		t.Error("b kept past the bound")
	}
	for _, e := range []Entry{a, d} {
		if _, ok := c.Get(e.Digest, fp); !ok {
			t.Errorf("%s dropped", e.Digest)
		}
	}
	if c.entries != 8 {
		t.Errorf("%d entries counted, want 8", c.entries)
	}
	big := entry("big", 50) // alone over the bound: kept, the rest dropped
	c.Put(big, fp)
	if _, ok := c.Get(big.Digest, fp); !ok || c.lru.Len() != 1 {
		t.Errorf("a lone entry over the bound: kept %v, %d held", ok, c.lru.Len())
	}
}

// A folder keeps what memory drops, and a damaged, foreign or stale
// entry on disk is a miss, never an error or a wrong answer.
func TestDisk(t *testing.T) {
	dir := t.TempDir()
	c := New(dir)
	a := entry("a", 3)
	c.Put(a, fp)
	fresh := New(dir)
	got, ok := fresh.Get(a.Digest, fp)
	if !ok || len(got.Summary.Entries) != 3 || got.Digest != a.Digest {
		t.Fatalf("from disk: %+v %v", got, ok)
	}
	if d := fresh.DigestFor(a.Summary.DiffID, fp); d != a.Digest {
		t.Errorf("DigestFor = %q", d)
	}
	if _, ok := New(dir).Get(a.Digest, "fedcba9876543210-other"); ok {
		t.Error("an entry of other rules taken")
	}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".json.gz") {
			return os.WriteFile(p, []byte("not gzip"), 0o644)
		}
		return os.WriteFile(p, []byte("sha256:not-a-digest"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	damaged := New(dir)
	if _, ok := damaged.Get(a.Digest, fp); ok {
		t.Error("a damaged entry taken")
	}
	if d := damaged.DigestFor(a.Summary.DiffID, fp); d != "" {
		t.Errorf("a damaged diff_id entry gives %q", d)
	}
}
