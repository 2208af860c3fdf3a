package containerd_test

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/engine/containerd"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"

var (
	storeOnce sync.Once
	storeDir  string
	webUpper  string // container web's writable snapshot folder, relative to the root
)

// realStore is a root written by Debian's containerd 1.6 with ctr: in
// namespace default the xz-planted OCI fixture and the clean docker-archive
// fixture imported (and unpacked), container "web" created from the clean
// image with the xz-planted image's backdoored liblzma look-alike written
// into its writable snapshot as a running container would write it, and
// container "idle" from the xz-planted image; in namespace k8s.io the
// clean and the xz-planted docker-archive fixtures imported. Made once,
// copied by every test.
func realStore(t *testing.T) string {
	t.Helper()
	fixtures, err := filepath.Abs("../../../fixtures/testdata")
	if err != nil {
		t.Fatal(err)
	}
	storeOnce.Do(func() {
		root, outs := engines.Containerd(t,
			engines.CtrStep{Namespace: "default", Args: []string{"images", "import", "--base-name", "strata-fixtures/xz-planted", filepath.Join(fixtures, "xz-planted.oci.tar")}},
			engines.CtrStep{Namespace: "default", Args: []string{"images", "import", filepath.Join(fixtures, "clean.docker.tar")}},
			engines.CtrStep{Namespace: "k8s.io", Args: []string{"images", "import", filepath.Join(fixtures, "clean.docker.tar")}},
			engines.CtrStep{Namespace: "k8s.io", Args: []string{"images", "import", filepath.Join(fixtures, "xz-planted.docker.tar")}},
			engines.CtrStep{Namespace: "default", Args: []string{"containers", "create", "--label", "nerdctl/name=web",
				"docker.io/strata-fixtures/clean:latest", "web-1", "/usr/sbin/sshd", "-D"}},
			engines.CtrStep{Namespace: "default", Args: []string{"containers", "create", "strata-fixtures/xz-planted:latest", "idle"}},
			// Prints the mount it would make, naming the upper folder;
			// mounts nothing.
			engines.CtrStep{Namespace: "default", Args: []string{"snapshots", "mounts", "/nowhere", "web-1"}},
		)
		m := regexp.MustCompile(`upperdir=([^,\s]+)`).FindStringSubmatch(outs[len(outs)-1])
		if m == nil {
			t.Fatalf("no upperdir in %q", outs[len(outs)-1])
		}
		rel, err := filepath.Rel(root, m[1])
		if err != nil {
			t.Fatal(err)
		}
		webUpper = rel
		keep, err := os.MkdirTemp("", "strata-containerd-store")
		if err != nil {
			t.Fatal(err)
		}
		c := engines.Copy(t, root)
		storeDir = filepath.Join(keep, "root")
		if err := os.Rename(c, storeDir); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(storeDir, webUpper, lib)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, backdoor(t, filepath.Join(fixtures, "xz-planted.oci.tar")), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if storeDir == "" {
		t.Skip("no containerd store (see the first test's log)")
	}
	return engines.Copy(t, storeDir)
}

// backdoor returns the backdoored liblzma look-alike of the xz-planted
// OCI archive: the layer blob that holds it, decompressed and read as a
// tar.
func backdoor(t *testing.T, archive string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s: %v", archive, lib, err)
		}
		if !strings.HasPrefix(h.Name, "blobs/sha256/") || h.Typeflag != tar.TypeReg {
			continue
		}
		zr, _, err := compress.Reader(tr)
		if err != nil {
			continue
		}
		lt := tar.NewReader(zr)
		for {
			lh, err := lt.Next()
			if err != nil {
				break
			}
			if "/"+strings.TrimPrefix(lh.Name, "./") == lib {
				data, err := io.ReadAll(lt)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
		}
		zr.Close()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if storeDir != "" {
		os.RemoveAll(filepath.Dir(storeDir))
	}
	os.Exit(code)
}

func scanStore(t *testing.T, root string) *scan.Result {
	t.Helper()
	_, eng := builtin.Engine(t, detect.Options{})
	res, err := scan.Run(context.Background(), root, scan.Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

func TestRealContainerdStore(t *testing.T) {
	root := realStore(t)
	before := engines.Listing(t, root)
	res := scanStore(t, root)
	if res.Input.Format != "containerd" {
		t.Errorf("format %q", res.Input.Format)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine store fails integrity: %v", res.Integrity().Problems)
	}
	refs, names := map[string]bool{}, map[string]bool{}
	engine := map[string]string{}
	for _, ir := range res.Images {
		refs[ir.Image.Ref()] = true
		for _, n := range ir.Image.Names {
			names[n] = true
		}
		if c := ir.Image.Container; c != nil {
			engine[c.Name] = c.Engine
		}
	}
	for _, want := range []string{"strata-fixtures/xz-planted:latest", "docker.io/strata-fixtures/clean:latest",
		"docker.io/strata-fixtures/xz-planted:latest", "container:web", "container:idle"} {
		if !refs[want] {
			t.Errorf("no image %s in %v", want, refs)
		}
	}
	// The clean image is in both namespaces: the k8s.io record is named
	// with its namespace.
	if !names["k8s.io/docker.io/strata-fixtures/clean:latest"] {
		t.Errorf("no name k8s.io/docker.io/strata-fixtures/clean:latest in %v", names)
	}
	if engine["web"] != "containerd (default)" {
		t.Errorf("container web's engine %q", engine["web"])
	}
	var inRW bool
	for _, f := range res.Findings {
		if f.Image == "container:web" && f.Path == lib && f.Writable && strings.HasPrefix(f.Rule, "xz-backdoor") {
			inRW = true
		}
		if f.Image == "docker.io/strata-fixtures/clean:latest" {
			t.Errorf("finding in the clean image: %+v", f)
		}
	}
	if !inRW {
		t.Errorf("the liblzma written into container web's writable layer was not found: %+v", res.Findings)
	}
	var notes int
	for _, p := range res.Problems {
		if p.Kind == integrity.Unverifiable && p.Reason == integrity.WritableLayer {
			notes++
		}
	}
	if notes != 2 {
		t.Errorf("%d writable-layer notes, want one per container", notes)
	}
	res.Close()
	if after := engines.Listing(t, root); after != before {
		t.Error("the store changed while it was read")
	}
}

// TestFindRoot: containerd's root is found below an evidence root where
// the evidence's own config.toml puts it, else at the default places.
func TestFindRoot(t *testing.T) {
	tests := []struct {
		name   string
		at     string // where the root goes below the evidence root
		config string // the evidence's /etc/containerd/config.toml
	}{
		{"the root itself", ".", ""},
		{"default root", "var/lib/containerd", ""},
		{"config.toml root", "srv/ctd", "version = 2\nroot = \"/srv/ctd\"\n\n[plugins]\n"},
		{"docker's own containerd", "var/lib/docker/containerd/daemon", ""},
		{"k3s", "var/lib/rancher/k3s/agent/containerd", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := realStore(t)
			ev := root
			if tc.at != "." {
				ev = filepath.Join(t.TempDir(), "ev")
				if err := os.MkdirAll(filepath.Dir(filepath.Join(ev, tc.at)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(root, filepath.Join(ev, tc.at)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.config != "" {
				os.MkdirAll(filepath.Join(ev, "etc/containerd"), 0o755)
				os.WriteFile(filepath.Join(ev, "etc/containerd/config.toml"), []byte(tc.config), 0o644)
			}
			if !containerd.Is(ev) || !scan.IsStore(ev) {
				t.Fatal("not found")
			}
			s, err := containerd.Open(context.Background(), ev)
			if err != nil || s == nil {
				t.Fatalf("Open: %v, %v", s, err)
			}
			defer s.Close()
			if len(s.(*containerd.Store).Catalog()) != 2 {
				t.Errorf("containers %+v", s.(*containerd.Store).Catalog())
			}
		})
	}
}

// snapshotWith returns a committed snapshot folder (not container web's)
// that holds path p.
func snapshotWith(t *testing.T, root, p string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs"))
	for _, d := range dirs {
		if rel, _ := filepath.Rel(root, d); rel == webUpper {
			continue
		}
		if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
			return d
		}
	}
	t.Fatalf("no snapshot holds %s", p)
	return ""
}

// layerBlob returns the content blob of the xz-planted image's layer that
// holds the backdoor (the largest blob).
func layerBlob(t *testing.T, root string) string {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(root, "io.containerd.content.v1.content/blobs/sha256/*"))
	var best string
	var size int64
	for _, b := range blobs {
		if fi, err := os.Stat(b); err == nil && fi.Size() > size {
			best, size = b, fi.Size()
		}
	}
	return best
}

func TestRealContainerdStoreTampered(t *testing.T) {
	meta := "io.containerd.metadata.v1.bolt/meta.db"
	tests := []struct {
		name   string
		damage func(t *testing.T, root string)
		kind   integrity.Kind // "": the scan fails, saying detail
		detail string         // in the record of that kind
		fails  bool
	}{
		{"content blob byte flipped", func(t *testing.T, root string) {
			b := layerBlob(t, root)
			data, _ := os.ReadFile(b)
			data[len(data)/2] ^= 0xff
			os.WriteFile(b, data, 0o644)
		}, integrity.DigestMismatch, "", true},
		{"meta.db truncated", func(t *testing.T, root string) {
			os.Truncate(filepath.Join(root, meta), 1000)
		}, "", "meta.db: not a readable bbolt database: no valid meta page", true},
		{"meta.db garbage", func(t *testing.T, root string) {
			data := make([]byte, 64<<10)
			for i := range data {
				data[i] = byte(i * 131)
			}
			os.WriteFile(filepath.Join(root, meta), data, 0o644)
		}, "", "meta.db: not a readable bbolt database: no valid meta page", true},
		{"file planted in a snapshot", func(t *testing.T, root string) {
			d := snapshotWith(t, root, lib)
			os.WriteFile(filepath.Join(d, "usr/lib/x86_64-linux-gnu/libplanted.so"), []byte("x"), 0o644)
		}, integrity.Drift, "drift: planted: /usr/lib/x86_64-linux-gnu/libplanted.so", true},
		{"file changed in a snapshot", func(t *testing.T, root string) {
			f := filepath.Join(snapshotWith(t, root, lib), lib)
			data, _ := os.ReadFile(f)
			data[len(data)/2] ^= 0xff
			os.WriteFile(f, data, 0o644)
		}, integrity.Drift, "drift: changed: " + lib + " content differs", true},
		{"mode changed in a snapshot", func(t *testing.T, root string) {
			os.Chmod(filepath.Join(snapshotWith(t, root, lib), lib), os.ModeSetuid|0o755)
		}, integrity.Drift, "drift: mode changed: " + lib, true},
		{"symlink to the examiner's /etc", func(t *testing.T, root string) {
			f := filepath.Join(snapshotWith(t, root, lib), lib)
			os.Remove(f)
			os.Symlink("/etc/hostname", f)
			// and one in the writable layer
			os.Symlink("/etc/shadow", filepath.Join(root, webUpper, "shadow"))
		}, integrity.Drift, "type changed: " + lib + " is a symbolic link", true},
		{"interrupted ingest", func(t *testing.T, root string) {
			in := filepath.Join(root, "io.containerd.content.v1.content/ingest/0123abcd")
			os.MkdirAll(in, 0o755)
			os.WriteFile(filepath.Join(in, "data"), []byte("partial"), 0o644)
			os.WriteFile(filepath.Join(in, "ref"), []byte("default/1/layer-sha256:00"), 0o644)
			os.WriteFile(filepath.Join(in, "total"), []byte("1000"), 0o644)
		}, integrity.Unreferenced, "a download that never finished (default/1/layer-sha256:00): 7 bytes of 1000", false},
		{"orphan snapshot", func(t *testing.T, root string) {
			d := filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots/999/fs/usr/lib/x86_64-linux-gnu")
			os.MkdirAll(d, 0o755)
			data, _ := os.ReadFile(filepath.Join(root, webUpper, lib))
			os.WriteFile(filepath.Join(d, "liblzma.so.5.6.1"), data, 0o644)
		}, integrity.Unreferenced, "a snapshot folder the overlayfs snapshotter does not record", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := realStore(t)
			tc.damage(t, root)
			before := engines.Listing(t, root)
			if tc.kind == "" {
				// With no image names nothing is an image: the scan
				// stops, naming the database and what it found.
				res, err := scan.Run(context.Background(), root, scan.Options{})
				if err == nil {
					res.Close()
					t.Fatal("the scan of a store without its meta.db succeeds")
				}
				if !strings.Contains(err.Error(), tc.detail) {
					t.Errorf("error %q does not say %q", err, tc.detail)
				}
				if engines.Listing(t, root) != before {
					t.Error("the store changed while it was read")
				}
				return
			}
			res := scanStore(t, root)
			found := false
			for _, p := range res.Problems {
				if p.Kind == tc.kind && strings.Contains(p.Detail, tc.detail) {
					found = true
				}
			}
			for _, ir := range res.Images {
				for _, ps := range ir.LayerProblems {
					for _, p := range ps {
						if p.Kind == tc.kind && strings.Contains(p.Detail, tc.detail) {
							found = true
						}
					}
				}
			}
			if !found {
				t.Errorf("no %s record saying %q in %v", tc.kind, tc.detail, res.Problems)
			}
			if res.Integrity().OK == tc.fails {
				t.Errorf("integrity OK %v, want %v: %v", res.Integrity().OK, !tc.fails, res.Integrity().Problems)
			}
			if tc.name == "orphan snapshot" {
				var scanned bool
				for _, f := range res.Findings {
					if strings.HasPrefix(f.Image, "unreferenced blob ") && f.Path == lib {
						scanned = true
					}
				}
				if !scanned {
					t.Errorf("the orphan snapshot was not scanned: %+v", res.Findings)
				}
			}
			res.Close()
			if engines.Listing(t, root) != before {
				t.Error("the store changed while it was read")
			}
		})
	}
}

// copyBucket copies bucket from into a new bucket name of to.
func copyBucket(to *bolt.Bucket, name []byte, from *bolt.Bucket) error {
	b, err := to.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	return from.ForEach(func(k, v []byte) error {
		if v == nil {
			return copyBucket(b, k, from.Bucket(k))
		}
		return b.Put(k, v)
	})
}

// TestDocker29Store: Docker 29's containerd store, which Debian's
// engines cannot make, written over the real store as dockerd writes it
// (moby daemon/containerd/image_snapshot.go): namespace moby holds the
// image, its unpacked layers, and for a container that is not running no
// container record, only its writable snapshot keyed by its ID on top of
// its <id>-init layer; Docker's own containers/<id>/config.v2.json names
// it. The store is dockerd's own containerd's, below the evidence root.
func TestDocker29Store(t *testing.T) {
	root := realStore(t)
	id := strings.Repeat("ab", 32)
	const img = "docker.io/strata-fixtures/clean:latest"
	db, err := bolt.Open(filepath.Join(root, "io.containerd.metadata.v1.bolt/meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var top []byte
	err = db.Update(func(tx *bolt.Tx) error {
		v1 := tx.Bucket([]byte("v1"))
		def := v1.Bucket([]byte("default"))
		moby, err := v1.CreateBucket([]byte("moby"))
		if err != nil {
			return err
		}
		images, _ := moby.CreateBucket([]byte("images"))
		if err := copyBucket(images, []byte(img), def.Bucket([]byte("images")).Bucket([]byte(img))); err != nil {
			return err
		}
		snaps := def.Bucket([]byte("snapshots")).Bucket([]byte("overlayfs"))
		top = append([]byte(nil), snaps.Bucket([]byte("web-1")).Get([]byte("parent"))...)
		sn, _ := moby.CreateBucket([]byte("snapshots"))
		ov, _ := sn.CreateBucket([]byte("overlayfs"))
		// The image's layers (sharing the default namespace's folders
		// here: containerd would have unpacked them again).
		for k := top; len(k) > 0; k = snaps.Bucket(k).Get([]byte("parent")) {
			if err := copyBucket(ov, k, snaps.Bucket(k)); err != nil {
				return err
			}
		}
		init, _ := ov.CreateBucket([]byte(id + "-init"))
		init.Put([]byte("name"), []byte("moby/100/"+id+"-init"))
		init.Put([]byte("parent"), top)
		rw, _ := ov.CreateBucket([]byte(id))
		rw.Put([]byte("name"), []byte("moby/101/"+id))
		rw.Put([]byte("parent"), []byte(id+"-init"))
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := bolt.Open(filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs/metadata.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = sdb.Update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket([]byte("v1")).Bucket([]byte("snapshots"))
		for _, s := range []struct {
			name string
			id   uint64
			kind byte
		}{{"moby/100/" + id + "-init", 100, 3}, {"moby/101/" + id, 101, 2}} {
			b, err := snaps.CreateBucket([]byte(s.name))
			if err != nil {
				return err
			}
			b.Put([]byte("id"), binary.AppendUvarint(nil, s.id))
			b.Put([]byte("kind"), []byte{s.kind})
		}
		return nil
	})
	sdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"100", "101"} {
		os.MkdirAll(filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots", n, "fs"), 0o755)
	}
	data, err := os.ReadFile(filepath.Join(root, webUpper, lib))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(root, "io.containerd.snapshotter.v1.overlayfs/snapshots/101/fs", lib)
	os.MkdirAll(filepath.Dir(f), 0o755)
	os.WriteFile(f, data, 0o644)

	ev := filepath.Join(t.TempDir(), "ev")
	os.MkdirAll(filepath.Join(ev, "var/lib/docker/containerd"), 0o755)
	if err := os.Rename(root, filepath.Join(ev, "var/lib/docker/containerd/daemon")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(ev, "var/lib/docker/containers", id, "config.v2.json")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte(`{"ID":"`+id+`","Name":"/mobyweb","Created":"2026-01-02T03:04:05Z","Path":"/usr/sbin/sshd","Args":["-D"],`+
		`"Image":"sha256:02ed548fcd707163382b0ae05715c546a19d5f3cae86e2c6b42eef0007487448","Driver":"overlayfs","Config":{"Image":"`+img+`"}}`), 0o600)

	before := engines.Listing(t, ev)
	res := scanStore(t, ev)
	if res.Input.Format != "containerd" {
		t.Errorf("format %q", res.Input.Format)
	}
	if !res.Integrity().OK {
		t.Errorf("integrity fails: %v", res.Integrity().Problems)
	}
	var ctr *image.Container
	names := map[string]bool{}
	for _, ir := range res.Images {
		if c := ir.Image.Container; c != nil && c.ID == id {
			ctr = c
		}
		for _, n := range ir.Image.Names {
			names[n] = true
		}
	}
	if ctr == nil || ctr.Name != "mobyweb" || ctr.Engine != "docker (containerd store)" || ctr.Image != img || strings.Join(ctr.Command, " ") != "/usr/sbin/sshd -D" {
		t.Errorf("container %+v", ctr)
	}
	if !names["moby/"+img] {
		t.Errorf("no name moby/%s in %v", img, names)
	}
	var inRW bool
	for _, f := range res.Findings {
		if f.Image == "container:mobyweb" && f.Path == lib && f.Writable {
			inRW = true
		}
	}
	if !inRW {
		t.Errorf("the liblzma in container mobyweb's writable layer was not found: %+v", res.Findings)
	}
	res.Close()
	if engines.Listing(t, ev) != before {
		t.Error("the store changed while it was read")
	}
}
