package containerd

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const testPageSize = 4096

// metaDBBytes writes a database shaped as containerd's meta.db
// (core/metadata/buckets.go) with bbolt itself: images with their
// targets, a container with labels, snapshots, and enough content
// records to need branch pages, a value long enough for overflow pages
// and small buckets bbolt keeps inline.
func metaDBBytes(t testing.TB, records int) []byte {
	t.Helper()
	name := filepath.Join(t.TempDir(), "meta.db")
	db, err := bolt.Open(name, 0o600, &bolt.Options{PageSize: testPageSize})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucket([]byte("v1"))
		if err != nil {
			return err
		}
		v1.Put([]byte("version"), binary.AppendVarint(nil, 3))
		ns, _ := v1.CreateBucket([]byte("default"))
		images, _ := ns.CreateBucket([]byte("images"))
		im, _ := images.CreateBucket([]byte("docker.io/library/app:1"))
		target, _ := im.CreateBucket([]byte("target"))
		target.Put([]byte("digest"), []byte("sha256:"+strings.Repeat("ab", 32)))
		target.Put([]byte("mediatype"), []byte("application/vnd.oci.image.manifest.v1+json"))
		target.Put([]byte("size"), binary.AppendVarint(nil, 866))
		created, _ := time.Unix(1700000000, 0).MarshalBinary()
		containers, _ := ns.CreateBucket([]byte("containers"))
		c, _ := containers.CreateBucket([]byte("web-1"))
		c.Put([]byte("image"), []byte("docker.io/library/app:1"))
		c.Put([]byte("snapshotter"), []byte("overlayfs"))
		c.Put([]byte("snapshotKey"), []byte("web-1"))
		c.Put([]byte("createdat"), created)
		c.Put([]byte("spec"), []byte(strings.Repeat("s", 3*testPageSize))) // overflow pages
		labels, _ := c.CreateBucket([]byte("labels"))
		labels.Put([]byte("nerdctl/name"), []byte("web"))
		sn, _ := ns.CreateBucket([]byte("snapshots"))
		ov, _ := sn.CreateBucket([]byte("overlayfs"))
		s, _ := ov.CreateBucket([]byte("web-1"))
		s.Put([]byte("name"), []byte("default/3/web-1"))
		s.Put([]byte("parent"), []byte("sha256:"+strings.Repeat("cd", 32)))
		blobs, _ := ns.CreateBucket([]byte("content"))
		blob, _ := blobs.CreateBucket([]byte("blob"))
		for i := range records {
			b, _ := blob.CreateBucket(fmt.Appendf(nil, "sha256:%064x", i))
			b.Put([]byte("size"), binary.AppendVarint(nil, int64(i)))
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

func readBytes(t testing.TB, data []byte) (*boltBucket, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return readBolt(name)
}

func TestReadBolt(t *testing.T) {
	db, err := readBytes(t, metaDBBytes(t, 300))
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	m := parseMetaDB(db, func(what string) { bad = append(bad, what) })
	if len(bad) > 0 || len(m.namespaces) != 1 {
		t.Fatalf("namespaces %+v, bad %v", m.namespaces, bad)
	}
	ns := m.namespaces[0]
	if len(ns.images) != 1 || ns.images[0].name != "docker.io/library/app:1" || ns.images[0].target.Size != 866 {
		t.Errorf("images %+v", ns.images)
	}
	if len(ns.containers) != 1 || ns.containers[0].labels["nerdctl/name"] != "web" || ns.containers[0].created.Unix() != 1700000000 ||
		len(ns.containers[0].spec) != 3*testPageSize {
		t.Errorf("containers %+v", ns.containers)
	}
	if ns.snapshots["overlayfs"]["web-1"].name != "default/3/web-1" {
		t.Errorf("snapshots %+v", ns.snapshots)
	}
	if n := len(db.bucket("v1", "default", "content", "blob").Buckets); n != 300 {
		t.Errorf("%d content records, want 300", n)
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

func TestReadBoltDamaged(t *testing.T) {
	good := metaDBBytes(t, 300)
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

// FuzzReadBolt: no database, however damaged, makes the reader panic,
// fault or hang. The meta pages' checksums are made right again, so that
// damage reaches the pages below them.
func FuzzReadBolt(f *testing.F) {
	f.Add(metaDBBytes(f, 0))
	f.Add(metaDBBytes(f, 40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		d := append([]byte(nil), data...)
		fixMeta(d)
		for _, in := range [][]byte{data, d} {
			db, err := readBytes(t, in)
			if err == nil {
				parseMetaDB(db, func(string) {})
				parseSnapshotDB(db)
			}
		}
	})
}

func TestConfigRoot(t *testing.T) {
	tests := []struct{ config, want string }{
		{"root = \"/srv/containerd\"\n", "/srv/containerd"},
		{"version = 3\nroot = '/data/ctd' # moved\nstate = \"/run/x\"\n", "/data/ctd"},
		{"# root = \"/no\"\nversion = 2\n", ""},
		{"[plugins]\nroot = \"/not/top\"\n", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := configRoot([]byte(tc.config)); got != tc.want {
			t.Errorf("configRoot(%q) = %q, want %q", tc.config, got, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	spec := `{"process":{"args":["/bin/sh","-c","x"]}}`
	// types.Any{TypeUrl: field 1, Value: field 2}, as boltutil.WriteAny
	// marshals it.
	msg := append([]byte{0x0a, 3}, "url"...)
	msg = append(msg, 0x12, byte(len(spec)))
	msg = append(msg, spec...)
	tests := []struct {
		name string
		spec []byte
		want string
	}{
		{"spec", msg, "/bin/sh -c x"},
		{"none", nil, ""},
		{"cut short", msg[:10], ""},
		{"length past the end", []byte{0x12, 0xff, 0x01}, ""},
	}
	for _, tc := range tests {
		if got := strings.Join(command(tc.spec), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"nerdctl/name": "web"}, "web"},
		{map[string]string{"io.kubernetes.pod.name": "api-7f", "io.kubernetes.container.name": "app"}, "api-7f/app"},
		{map[string]string{"io.kubernetes.pod.name": "api-7f"}, "api-7f"},
		{nil, "c1"},
	}
	for _, tc := range tests {
		if got := displayName("c1", tc.labels); got != tc.want {
			t.Errorf("displayName(%v) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}
