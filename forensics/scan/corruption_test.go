package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/golden"
	"github.com/strata-forensics/strata/internal/testkit/strataexe"
)

// The corruption tests damage copies of committed fixtures the ways an
// archive breaks in transit or by tampering (one byte flipped in each kind
// of blob, a blob missing or added, the archive cut short, a layer whose
// config diff_id lies) and check that strata names the damage, still reads
// everything else, never panics, leaves the input untouched, and that
// `strata inspect` exits 1 (2 only when nothing usable is left).

// member is one file of an archive: a tar member or a file of a layout
// folder.
type member struct {
	hdr     *tar.Header // nil for a folder's file
	data    []byte
	hdrOff  int64 // offset of the member's first header block in the tar
	dataOff int64 // offset of its content in the tar
}

// arch is a fixture held in memory for rewriting: a tar (members in their
// order) or an OCI layout folder (files by relative path).
type arch struct {
	dir     bool
	order   []string
	members map[string]*member
	size    int64 // of the tar file
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// loadArch reads a fixture (tar or folder) into memory; fixtures are small.
func loadArch(t *testing.T, p string) *arch {
	t.Helper()
	a := &arch{members: map[string]*member{}}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		a.dir = true
		err := filepath.Walk(p, func(q string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, err := filepath.Rel(p, q)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(q)
			if err != nil {
				return err
			}
			name := filepath.ToSlash(rel)
			a.order = append(a.order, name)
			a.members[name] = &member{data: b}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a.size = st.Size()
	// archive/tar reads header blocks exactly and streams content, so the
	// count before Next is where a member's headers start (after the
	// previous member's padding) and the count after Next where its content
	// starts.
	cr := &countReader{r: f}
	tr := tar.NewReader(cr)
	for {
		before := cr.n
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return a
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		m := &member{hdr: h, dataOff: cr.n}
		// The previous member's padding is consumed by this Next: the headers
		// start at the first block boundary after the previous content.
		m.hdrOff = before
		if prev := a.last(); prev != nil {
			end := prev.dataOff + int64(len(prev.data))
			m.hdrOff = (end + 511) / 512 * 512
		}
		if m.data, err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
		name := path.Clean(h.Name)
		a.order = append(a.order, name)
		a.members[name] = m
	}
}

func (a *arch) last() *member {
	if len(a.order) == 0 {
		return nil
	}
	return a.members[a.order[len(a.order)-1]]
}

func (a *arch) get(t *testing.T, name string) []byte {
	t.Helper()
	m, ok := a.members[name]
	if !ok {
		t.Fatalf("no member %s", name)
	}
	return m.data
}

func (a *arch) set(name string, data []byte) {
	m, ok := a.members[name]
	if !ok {
		m = &member{}
		if !a.dir {
			m.hdr = &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: a.members[a.order[0]].hdr.ModTime}
		}
		a.members[name] = m
		a.order = append(a.order, name)
	}
	m.data = data
}

func (a *arch) remove(name string) {
	delete(a.members, name)
	for i, n := range a.order {
		if n == name {
			a.order = append(a.order[:i], a.order[i+1:]...)
			return
		}
	}
}

// write writes the (changed) archive to dst.
func (a *arch) write(t *testing.T, dst string) {
	t.Helper()
	if a.dir {
		for _, name := range a.order {
			p := filepath.Join(dst, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, a.members[name].data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, name := range a.order {
		m := a.members[name]
		h := *m.hdr
		h.Size = int64(len(m.data))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// roles locates an archive's blobs by what they are: "index" (a nested
// index, when there is one), "manifest", "config", "layerN"; for docker
// save: "manifest.json", "config", "layerN". Only the first image is
// followed.
func (a *arch) roles(t *testing.T) map[string]string {
	t.Helper()
	r := map[string]string{}
	blob := func(d string) string { return "blobs/" + strings.Replace(d, ":", "/", 1) }
	if _, ok := a.members["manifest.json"]; ok && a.members["index.json"] == nil {
		var m []struct {
			Config string
			Layers []string
		}
		if err := json.Unmarshal(a.get(t, "manifest.json"), &m); err != nil {
			t.Fatal(err)
		}
		r["manifest.json"], r["config"] = "manifest.json", m[0].Config
		for i, l := range m[0].Layers {
			r[fmt.Sprintf("layer%d", i)] = l
		}
		return r
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	var idx struct{ Manifests []desc }
	if err := json.Unmarshal(a.get(t, "index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	d := idx.Manifests[0]
	if strings.Contains(d.MediaType, "index") {
		r["index"] = blob(d.Digest)
		if err := json.Unmarshal(a.get(t, r["index"]), &idx); err != nil {
			t.Fatal(err)
		}
		d = idx.Manifests[0]
	}
	r["manifest"] = blob(d.Digest)
	var man struct {
		Config desc
		Layers []desc
	}
	if err := json.Unmarshal(a.get(t, r["manifest"]), &man); err != nil {
		t.Fatal(err)
	}
	r["config"] = blob(man.Config.Digest)
	for i, l := range man.Layers {
		r[fmt.Sprintf("layer%d", i)] = blob(l.Digest)
	}
	return r
}

// flip returns a copy of b with one bit of the byte at off changed.
func flip(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0x01
	return c
}

// firstFileContent is the offset, inside an uncompressed layer tar, of the
// middle of the first non-empty regular file: flipping a byte there keeps
// the tar readable and changes only content.
func firstFileContent(t *testing.T, layerTar []byte) int {
	t.Helper()
	cr := &countReader{r: bytes.NewReader(layerTar)}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("layer has no regular file with content: %v", err)
		}
		if h.Typeflag == tar.TypeReg && h.Size > 1 {
			return int(cr.n + h.Size/2)
		}
	}
}

// redescribe rewrites every descriptor in a JSON document that points at
// old so that it points at the new blob.
func redescribe(t *testing.T, doc []byte, old, new digest.Digest, size int) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	found := false
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["digest"] == old.String() {
				x["digest"], x["size"], found = new.String(), size, true
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	if !found {
		t.Fatalf("no descriptor of %s", old)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replaceBlob stores data as a new OCI blob in place of the blob at name and
// rewrites the parent document (a blob, or index.json) to point at it; it
// returns the new blob's name.
func replaceBlob(t *testing.T, a *arch, name, parent string, data []byte) string {
	t.Helper()
	old := digest.NewDigestFromEncoded(digest.SHA256, path.Base(name))
	nd := digest.FromBytes(data)
	nn := "blobs/sha256/" + nd.Encoded()
	a.remove(name)
	a.set(nn, data)
	a.set(parent, redescribe(t, a.get(t, parent), old, nd, len(data)))
	return nn
}

// wrongDiffID changes the config's first diff_id (one hex digit) and
// rewrites the config's, the manifest's and the index's digests to match,
// so that the only lie left is the diff_id itself.
func wrongDiffID(t *testing.T, a *arch) {
	t.Helper()
	r := a.roles(t)
	cfgName := r["config"]
	var cfg map[string]any
	if err := json.Unmarshal(a.get(t, cfgName), &cfg); err != nil {
		t.Fatal(err)
	}
	rootfs := cfg["rootfs"].(map[string]any)
	ids := rootfs["diff_ids"].([]any)
	id := ids[0].(string)
	last := id[len(id)-1]
	swap := byte('0')
	if last == '0' {
		swap = '1'
	}
	ids[0] = id[:len(id)-1] + string(swap)
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r["manifest.json"]; ok {
		// docker save: the config is <hex>.json, named in manifest.json.
		nd := digest.FromBytes(cfgJSON)
		a.remove(cfgName)
		a.set(nd.Encoded()+".json", cfgJSON)
		a.set("manifest.json", bytes.ReplaceAll(a.get(t, "manifest.json"), []byte(cfgName), []byte(nd.Encoded()+".json")))
		return
	}
	manName := r["manifest"]
	newMan := redescribe(t, a.get(t, manName), digest.NewDigestFromEncoded(digest.SHA256, path.Base(cfgName)), digest.FromBytes(cfgJSON), len(cfgJSON))
	a.remove(cfgName)
	a.set("blobs/sha256/"+digest.FromBytes(cfgJSON).Encoded(), cfgJSON)
	parent := "index.json"
	if r["index"] != "" {
		parent = r["index"]
	}
	a.remove(manName)
	nd := digest.FromBytes(newMan)
	a.set("blobs/sha256/"+nd.Encoded(), newMan)
	a.set(parent, redescribe(t, a.get(t, parent), digest.NewDigestFromEncoded(digest.SHA256, path.Base(manName)), nd, len(newMan)))
	if parent != "index.json" {
		replaceBlob(t, a, parent, "index.json", a.get(t, parent))
	}
}

// corruption is one damaged variant of a fixture.
type corruption struct {
	name    string
	fixture string
	// mutate damages the in-memory copy; truncate then cuts the (copied or
	// mutated) tar at the offset it returns.
	mutate   func(t *testing.T, a *arch)
	truncate func(t *testing.T, a *arch) int64
	want     []integrity.Kind // each must be among the problems
	// code is strata inspect's exit code: 1, or 2 when nothing usable is left.
	code int
	// errText must appear in scan.Run's error when the input is unusable.
	errText string
	// still is a path that must still be in the first image's tree (read
	// from an undamaged layer); empty when no image survives.
	still string
}

// metadataFirst moves the archive's index members (index.json,
// oci-layout, manifest.json, repositories) and its index, manifest and
// config blobs to the front of the tar, ahead of the layers.
func metadataFirst(t *testing.T, a *arch) {
	t.Helper()
	meta := map[string]bool{"index.json": true, "oci-layout": true, "manifest.json": true, "repositories": true}
	for role, name := range a.roles(t) {
		if !strings.HasPrefix(role, "layer") {
			meta[name] = true
		}
	}
	var front, rest []string
	for _, n := range a.order {
		if meta[n] {
			front = append(front, n)
		} else {
			rest = append(rest, n)
		}
	}
	a.order = append(front, rest...)
}

// indexFirst moves only the index members (index.json, oci-layout,
// manifest.json, repositories) to the front of the tar.
func indexFirst(t *testing.T, a *arch) {
	t.Helper()
	var front, rest []string
	for _, n := range a.order {
		switch n {
		case "index.json", "oci-layout", "manifest.json", "repositories":
			front = append(front, n)
		default:
			rest = append(rest, n)
		}
	}
	a.order = append(front, rest...)
}

// lastLayer is the member name of the layer stored last in the tar.
func lastLayer(t *testing.T, a *arch) *member {
	t.Helper()
	layers := map[string]bool{}
	for role, name := range a.roles(t) {
		if strings.HasPrefix(role, "layer") {
			layers[name] = true
		}
	}
	for i := len(a.order) - 1; i >= 0; i-- {
		if layers[a.order[i]] {
			return a.members[a.order[i]]
		}
	}
	t.Fatal("no layer member")
	return nil
}

func flipRole(role string, where func(t *testing.T, b []byte) int) func(t *testing.T, a *arch) {
	return func(t *testing.T, a *arch) {
		name := a.roles(t)[role]
		b := a.get(t, name)
		a.set(name, flip(b, where(t, b)))
	}
}

func middle(_ *testing.T, b []byte) int { return len(b) / 2 }

func removeRole(role string) func(t *testing.T, a *arch) {
	return func(t *testing.T, a *arch) { a.remove(a.roles(t)[role]) }
}

// cutInside cuts the tar inside the content of the member with that role.
func cutInside(role string) func(t *testing.T, a *arch) int64 {
	return func(t *testing.T, a *arch) int64 {
		m := a.members[a.roles(t)[role]]
		return m.dataOff + int64(len(m.data))/2
	}
}

// cutHeader cuts the tar 100 bytes into the header block of the member
// with that role (inside its name field).
func cutHeader(role string) func(t *testing.T, a *arch) int64 {
	return func(t *testing.T, a *arch) int64 {
		return a.members[a.roles(t)[role]].hdrOff + 100
	}
}

func corruptions() []corruption {
	const (
		xzDocker = "xz-planted.docker.tar"   // legacy docker save, uncompressed layer.tar
		xzD25    = "xz-planted.docker25.tar" // Docker 25+
		xzOCI    = "xz-planted.oci"          // folder, gzip layers
		xzOCITar = "xz-planted.oci.tar"      // OCI archive, zstd layers
		whOCITar = "whiteouts.oci.tar"       // OCI archive, uncompressed layers
		multiPl  = "multi-platform.oci"      // folder, nested index
		etc      = "/etc/os-release"         // xz-planted layer 0
		passwd   = "/etc/passwd"             // whiteouts layer 0
		archF    = "/etc/arch"               // multi-platform layer 0
	)
	flipUncompressed := func(t *testing.T, b []byte) int { return firstFileContent(t, b) }
	return []corruption{
		// One byte flipped in each kind of blob.
		{name: "oci-nested-index-flipped", fixture: multiPl, mutate: flipRole("index", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1},
		{name: "oci-manifest-flipped", fixture: xzOCI, mutate: flipRole("manifest", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1},
		{name: "oci-config-flipped", fixture: xzOCI, mutate: flipRole("config", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1, still: etc},
		{name: "oci-layer-gzip-flipped", fixture: xzOCI, mutate: flipRole("layer1", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1, still: etc},
		{name: "oci-layer-zstd-flipped", fixture: xzOCITar, mutate: flipRole("layer1", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1, still: etc},
		// An uncompressed layer's digest is its diff_id: the digest mismatch
		// says it all.
		{name: "oci-layer-uncompressed-flipped", fixture: whOCITar, mutate: flipRole("layer1", flipUncompressed), want: []integrity.Kind{integrity.DigestMismatch}, code: 1, still: passwd},
		{name: "docker-manifest-json-flipped", fixture: xzDocker, mutate: flipRole("manifest.json", func(*testing.T, []byte) int { return 0 }), want: []integrity.Kind{integrity.BadJSON}, code: 2, errText: "json"},
		{name: "docker-config-flipped", fixture: xzDocker, mutate: flipRole("config", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1, still: etc},
		{name: "docker-layer-flipped", fixture: xzDocker, mutate: flipRole("layer1", flipUncompressed), want: []integrity.Kind{integrity.DiffIDMismatch}, code: 1, still: etc},
		{name: "docker25-manifest-flipped", fixture: xzD25, mutate: flipRole("manifest", middle), want: []integrity.Kind{integrity.DigestMismatch}, code: 1},
		// Missing blobs.
		{name: "oci-layer-missing", fixture: xzOCI, mutate: removeRole("layer2"), want: []integrity.Kind{integrity.MissingBlob}, code: 1, still: etc},
		{name: "oci-config-missing", fixture: xzOCITar, mutate: removeRole("config"), want: []integrity.Kind{integrity.MissingBlob}, code: 1},
		{name: "oci-manifest-missing", fixture: multiPl, mutate: removeRole("manifest"), want: []integrity.Kind{integrity.MissingBlob}, code: 1, still: archF},
		{name: "docker-layer-missing", fixture: xzDocker, mutate: removeRole("layer2"), want: []integrity.Kind{integrity.MissingBlob}, code: 1, still: etc},
		// A blob nothing refers to: information, not damage.
		{name: "oci-extra-blob", fixture: xzOCI, mutate: func(t *testing.T, a *arch) {
			b := []byte("left behind\n")
			a.set("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
		}, want: []integrity.Kind{integrity.Unreferenced}, code: 0, still: etc},
		{name: "oci-archive-extra-blob", fixture: whOCITar, mutate: func(t *testing.T, a *arch) {
			b := []byte(`{"not":"referenced"}`)
			a.set("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
		}, want: []integrity.Kind{integrity.Unreferenced}, code: 0, still: passwd},
		// A config whose diff_id lies, every digest above it consistent.
		{name: "oci-diffid-wrong", fixture: xzOCI, mutate: wrongDiffID, want: []integrity.Kind{integrity.DiffIDMismatch}, code: 1, still: etc},
		{name: "oci-archive-diffid-wrong", fixture: whOCITar, mutate: wrongDiffID, want: []integrity.Kind{integrity.DiffIDMismatch}, code: 1, still: passwd},
		{name: "docker-diffid-wrong", fixture: xzDocker, mutate: wrongDiffID, want: []integrity.Kind{integrity.DiffIDMismatch}, code: 1, still: etc},
		// Bad JSON.
		{name: "oci-index-bad-json", fixture: xzOCI, mutate: func(t *testing.T, a *arch) {
			a.set("index.json", a.get(t, "index.json")[:20])
		}, want: []integrity.Kind{integrity.BadJSON}, code: 2, errText: "json"},
		// Archives cut short.
		// Tar writers put the index last, so a cut archive has none left:
		// unusable (exit 2), and the error says it is truncated.
		{name: "oci-archive-cut-in-layer", fixture: whOCITar, truncate: cutInside("layer2"), want: []integrity.Kind{integrity.Truncated}, code: 2, errText: "truncated"},
		{name: "oci-archive-cut-in-header", fixture: whOCITar, truncate: cutHeader("config"), want: []integrity.Kind{integrity.Truncated}, code: 2, errText: "truncated"},
		{name: "oci-archive-cut-in-index", fixture: whOCITar, truncate: func(t *testing.T, a *arch) int64 {
			m := a.members["index.json"]
			return m.dataOff + int64(len(m.data))/2
		}, want: []integrity.Kind{integrity.Truncated}, code: 2, errText: "truncated"},
		{name: "docker-cut-in-layer", fixture: xzDocker, truncate: cutInside("layer3"), want: []integrity.Kind{integrity.Truncated}, code: 2, errText: "truncated"},
		// Metadata first (as some writers order members): a cut loses only
		// what follows it, and everything before is still read.
		{name: "docker-metadata-first-cut-in-last-layer", fixture: xzDocker, mutate: metadataFirst, truncate: func(t *testing.T, a *arch) int64 {
			m := lastLayer(t, a)
			return m.dataOff + int64(len(m.data))/2
		}, want: []integrity.Kind{integrity.Truncated}, code: 1, still: etc},
		{name: "docker-metadata-first-cut-in-last-header", fixture: xzDocker, mutate: metadataFirst, truncate: func(t *testing.T, a *arch) int64 {
			return lastLayer(t, a).hdrOff + 100
		}, want: []integrity.Kind{integrity.Truncated, integrity.MissingBlob}, code: 1, still: etc},
		{name: "oci-archive-metadata-first-cut-in-last-layer", fixture: whOCITar, mutate: metadataFirst, truncate: func(t *testing.T, a *arch) int64 {
			m := lastLayer(t, a)
			return m.dataOff + int64(len(m.data))/2
		}, want: []integrity.Kind{integrity.Truncated}, code: 1, still: passwd},
		// The index survives but every image's manifest is lost: unusable,
		// and the error names the problems rather than an empty filter.
		{name: "oci-archive-index-first-cut-in-first-blob", fixture: whOCITar, mutate: indexFirst, truncate: func(t *testing.T, a *arch) int64 {
			for _, n := range a.order {
				if m := a.members[n]; strings.HasPrefix(n, "blobs/sha256/") && len(m.data) > 0 {
					return m.dataOff + int64(len(m.data))/2
				}
			}
			t.Fatal("no blob")
			return 0
		}, want: []integrity.Kind{integrity.Truncated}, code: 2, errText: "no image could be read"},
		// A layer blob cut short inside an intact archive.
		{name: "oci-layer-gzip-cut", fixture: xzOCI, mutate: func(t *testing.T, a *arch) {
			name := a.roles(t)["layer1"]
			b := a.get(t, name)
			a.set(name, b[:len(b)/2])
		}, want: []integrity.Kind{integrity.SizeMismatch}, code: 1, still: etc},
	}
}

func TestCorruption(t *testing.T) {
	bin := strataexe.Path(t)
	for _, tc := range corruptions() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(fixturesDir, tc.fixture)
			before := fileDigest(t, src)
			a := loadArch(t, src)
			dst := filepath.Join(t.TempDir(), tc.fixture)
			cutFrom := src
			if tc.mutate != nil {
				tc.mutate(t, a)
				a.write(t, dst)
				cutFrom = dst
			}
			if tc.truncate != nil {
				off := tc.truncate(t, loadArch(t, cutFrom))
				b, err := os.ReadFile(cutFrom)
				if err != nil {
					t.Fatal(err)
				}
				if off <= 0 || off >= int64(len(b)) {
					t.Fatalf("cut at %d of %d bytes", off, len(b))
				}
				if err := os.WriteFile(dst, b[:off], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			damaged := fileDigest(t, dst)

			res, err := scan.Run(context.Background(), dst, scan.Options{Parallel: 2})
			if err == nil {
				defer res.Close()
			}
			var problems []integrity.Problem
			if err == nil {
				problems = res.Problems
				// Code 0: not damage, information (a blob nothing
				// refers to, which the image-layout spec allows).
				if ok := res.Integrity().OK; ok != (tc.code == 0) {
					t.Errorf("integrity OK = %v, want %v", ok, tc.code == 0)
				}
			}
			if tc.code == 1 && err != nil {
				t.Fatalf("scan.Run: %v (partial results expected)", err)
			}
			if tc.code == 2 && (err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.errText)) {
				t.Errorf("scan.Run error %v, want one saying %q", err, tc.errText)
			}
			kinds := map[integrity.Kind]bool{}
			for _, p := range problems {
				kinds[p.Kind] = true
			}
			if err == nil {
				for _, k := range tc.want {
					if !kinds[k] {
						t.Errorf("no %s problem; got %v", k, problems)
					}
				}
			}
			if tc.still != "" {
				if err != nil || len(res.Images) == 0 {
					t.Fatalf("no image survives (%v); %s expected", err, tc.still)
				}
				if n := res.Images[0].Tree.Node(tc.still); n == nil || n.Final() == nil {
					t.Errorf("%s missing from the tree of the undamaged layers", tc.still)
				}
			}
			golden.Assert(t, filepath.Join("testdata", "corruption", tc.name+".golden"), []byte(problemsGolden(problems, err, filepath.Dir(dst))))

			code, out := runCLI(t, bin, "inspect", dst)
			if code != tc.code {
				t.Errorf("strata inspect exit %d, want %d\n%s", code, tc.code, out)
			}
			if code == 1 {
				for _, k := range tc.want {
					if !strings.Contains(out, string(k)) {
						t.Errorf("strata inspect output does not name %s:\n%s", k, out)
					}
				}
			}
			if got := fileDigest(t, dst); got != damaged {
				t.Error("the damaged input changed while strata read it")
			}
			if got := fileDigest(t, src); got != before {
				t.Error("the committed fixture changed")
			}
		})
	}
}

// problemsGolden renders the problems (or the error that made the input
// unusable) with the temporary folder's name taken out.
func problemsGolden(problems []integrity.Problem, err error, tmp string) string {
	var lines []string
	if err != nil {
		lines = append(lines, "unusable: "+err.Error())
	}
	for _, p := range problems {
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s", p.Kind, p.Blob, p.Detail))
	}
	sort.Strings(lines[min(len(lines), boolInt(err != nil)):])
	s := strings.Join(lines, "\n") + "\n"
	return strings.ReplaceAll(s, tmp, "$TMP")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runCLI runs the strata binary and returns its exit code and combined
// output.
func runCLI(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("running strata: %v", err)
		return -1, ""
	}
}

func TestMain(m *testing.M) { os.Exit(strataexe.Main(m)) }
