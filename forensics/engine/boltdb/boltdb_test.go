package boltdb

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-forensics/strata/forensics/engine"
)

const testPageSize = 4096

// dbBytes writes a database with bbolt itself: enough records in one
// bucket to need branch pages, a value long enough for overflow pages,
// small buckets bbolt keeps inline, and buckets nested in buckets.
func dbBytes(t testing.TB, records int) []byte {
	t.Helper()
	name := filepath.Join(t.TempDir(), "test.db")
	db, err := bolt.Open(name, 0o600, &bolt.Options{PageSize: testPageSize})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		top.Put([]byte("long"), []byte(strings.Repeat("s", 3*testPageSize))) // overflow pages
		inner, _ := top.CreateBucket([]byte("inner"))
		inner.Put([]byte("k"), []byte("v"))
		deeper, _ := inner.CreateBucket([]byte("deeper"))
		deeper.Put([]byte("k2"), []byte("v2"))
		many, _ := tx.CreateBucket([]byte("many"))
		for i := range records {
			b, _ := many.CreateBucket(fmt.Appendf(nil, "record-%06d", i))
			b.Put([]byte("n"), binary.AppendVarint(nil, int64(i)))
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readBytes(t testing.TB, data []byte) (*Bucket, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return Read(name)
}

func TestRead(t *testing.T) {
	db, err := readBytes(t, dbBytes(t, 300))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(db.Bucket("top").Get("long")); got != 3*testPageSize {
		t.Errorf("long value of %d bytes", got)
	}
	if got := string(db.Bucket("top", "inner", "deeper").Get("k2")); got != "v2" {
		t.Errorf("nested value %q", got)
	}
	if got := string(db.Bucket("top", "inner").Values()["k"]); got != "v" {
		t.Errorf("inline bucket's value %q", got)
	}
	if n := len(db.Bucket("many").Buckets()); n != 300 {
		t.Errorf("%d records, want 300", n)
	}
	var none *Bucket
	if none.Bucket("x") != nil || none.Get("x") != nil || none.Buckets() != nil || none.Values() != nil || db.Bucket("top", "no", "such") != nil {
		t.Error("a missing bucket is not empty")
	}
}

// ReadEvidence reads a copy and records the file's sha256; the evidence
// is left as it was, and a damaged database is an error naming it.
func TestReadEvidence(t *testing.T) {
	ev := t.TempDir()
	good := dbBytes(t, 10)
	os.WriteFile(filepath.Join(ev, "state.db"), good, 0o400)
	os.WriteFile(filepath.Join(ev, "bad.db"), good[:testPageSize], 0o400)
	root, err := os.OpenRoot(ev)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c := engine.NewCustody(root)
	db, err := ReadEvidence(c, "state.db")
	if err != nil || len(db.Bucket("many").Buckets()) != 10 {
		t.Fatalf("read %v, %v", db, err)
	}
	if c.Files() != 1 {
		t.Errorf("%d files in custody, want 1", c.Files())
	}
	if _, err := ReadEvidence(c, "bad.db"); err == nil || !strings.Contains(err.Error(), "bad.db") {
		t.Errorf("damaged database: %v", err)
	}
	if _, err := ReadEvidence(c, "none.db"); err == nil {
		t.Error("no error for a missing database")
	}
	names, _ := os.ReadDir(ev)
	if len(names) != 2 {
		t.Errorf("the evidence folder holds %d files after reading", len(names))
	}
}

// fixMeta recomputes both meta pages' checksums, so that a change to a
// page reaches the pages below instead of failing the meta check.
func fixMeta(data []byte) {
	for _, off := range []int{0, testPageSize} {
		if len(data) < off+pageHeaderSize+metaSize {
			return
		}
		m := data[off+pageHeaderSize:]
		h := fnv.New64a()
		h.Write(m[:56])
		binary.LittleEndian.PutUint64(m[56:], h.Sum64())
	}
}

// page returns the first page from id 2 on with flags.
func page(t *testing.T, data []byte, flags uint16) ([]byte, uint64) {
	t.Helper()
	for id := uint64(2); int(id+1)*testPageSize <= len(data); id++ {
		p := data[id*testPageSize:]
		if binary.LittleEndian.Uint64(p) == id && binary.LittleEndian.Uint16(p[8:]) == flags && binary.LittleEndian.Uint16(p[10:]) > 0 {
			return p, id
		}
	}
	t.Fatalf("no page of flags %#x", flags)
	return nil, 0
}

func TestReadDamaged(t *testing.T) {
	good := dbBytes(t, 300)
	le := binary.LittleEndian
	tests := []struct {
		name   string
		damage func(t *testing.T, d []byte) []byte
		err    string // "" for a database still read (from its other meta page)
	}{
		{"empty", func(t *testing.T, d []byte) []byte { return nil }, "no valid meta page"},
		{"truncated to 1000 bytes", func(t *testing.T, d []byte) []byte { return d[:1000] }, "no valid meta page"},
		{"truncated to one page", func(t *testing.T, d []byte) []byte { return d[:testPageSize] }, "less than its two meta pages"},
		{"truncated mid-tree", func(t *testing.T, d []byte) []byte { return d[:len(d)/2] }, "not a readable bbolt database"},
		{"garbage", func(t *testing.T, d []byte) []byte {
			for i := range d {
				d[i] = byte(i*131 + 7)
			}
			return d
		}, "no valid meta page"},
		{"both meta pages broken", func(t *testing.T, d []byte) []byte {
			d[pageHeaderSize+20] ^= 1
			d[testPageSize+pageHeaderSize+20] ^= 1
			return d
		}, "no valid meta page"},
		{"newer meta page broken", func(t *testing.T, d []byte) []byte {
			newer := 0
			if le.Uint64(d[testPageSize+pageHeaderSize+48:]) > le.Uint64(d[pageHeaderSize+48:]) {
				newer = testPageSize
			}
			d[newer+pageHeaderSize+60] ^= 1 // its checksum
			return d
		}, ""},
		{"page size not a power of two", func(t *testing.T, d []byte) []byte {
			le.PutUint32(d[pageHeaderSize+8:], 5000)
			le.PutUint32(d[testPageSize+pageHeaderSize+8:], 5000)
			fixMeta(d)
			return d
		}, "page size 5000"},
		{"root past the end", func(t *testing.T, d []byte) []byte {
			le.PutUint64(d[pageHeaderSize+16:], 1<<40)
			le.PutUint64(d[testPageSize+pageHeaderSize+16:], 1<<40)
			fixMeta(d)
			return d
		}, "out of bounds"},
		{"branch page naming itself", func(t *testing.T, d []byte) []byte {
			p, id := page(t, d, branchPageFlag)
			le.PutUint64(p[pageHeaderSize+8:], id)
			return d
		}, "reached twice"},
		{"branch page naming a meta page", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, branchPageFlag)
			le.PutUint64(p[pageHeaderSize+8:], 1)
			return d
		}, "out of bounds"},
		{"branch page naming a page past the end", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, branchPageFlag)
			le.PutUint64(p[pageHeaderSize+8:], 1<<40)
			return d
		}, "out of bounds"},
		{"page that is another", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, leafPageFlag)
			le.PutUint64(p, 3)
			return d
		}, ""}, // unreachable or reached: either way no panic
		{"leaf page of an unknown type", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, branchPageFlag)
			child := le.Uint64(p[pageHeaderSize+8:])
			le.PutUint16(d[child*testPageSize+8:], 0x10)
			return d
		}, "neither a branch nor a leaf"},
		{"key past its page", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, branchPageFlag)
			child := le.Uint64(p[pageHeaderSize+8:])
			le.PutUint32(d[child*testPageSize+pageHeaderSize+8:], 1<<30)
			return d
		}, "past the page"},
		{"overflow past the end", func(t *testing.T, d []byte) []byte {
			p, _ := page(t, d, branchPageFlag)
			le.PutUint32(p[12:], 1<<30)
			return d
		}, "overflow pages past the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.damage(t, append([]byte(nil), good...))
			_, err := readBytes(t, d)
			if tc.err == "" {
				return // read or not, it did not panic
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

// FuzzRead: no database, however damaged, makes the reader panic,
// fault or hang. The meta pages' checksums are made right again, so that
// damage reaches the pages below them.
func FuzzRead(f *testing.F) {
	f.Add(dbBytes(f, 0))
	f.Add(dbBytes(f, 40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		d := append([]byte(nil), data...)
		fixMeta(d)
		for _, in := range [][]byte{data, d} {
			readBytes(t, in)
		}
	})
}
