package containerd

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-forensics/strata/forensics/engine/boltdb"
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

func readBytes(t testing.TB, data []byte) (*boltdb.Bucket, error) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return boltdb.Read(name)
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
	if n := len(db.Bucket("v1", "default", "content", "blob").Buckets()); n != 300 {
		t.Errorf("%d content records, want 300", n)
	}
}

// FuzzReadBolt: whatever a database that reads holds, meta.db's and
// metadata.db's records are read from it without a panic (the reader
// itself is fuzzed in package boltdb).
func FuzzReadBolt(f *testing.F) {
	f.Add(metaDBBytes(f, 0))
	f.Add(metaDBBytes(f, 40))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		db, err := readBytes(t, data)
		if err == nil {
			parseMetaDB(db, func(string) {})
			parseSnapshotDB(db)
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
