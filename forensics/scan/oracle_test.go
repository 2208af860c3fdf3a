package scan_test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/oracle"
)

// The oracle tests compare what scan.Run reads and rebuilds with two
// independent readers of the same archives: go-containerregistry (digests,
// diff_ids and mutate.Extract's flattened filesystem) and umoci (unpack to a
// real folder). Every archive under fixtures/testdata is compared, generated
// and real-tool ones alike, so a new fixture is covered without a new test.

// ggcrDifferences lists, per fixture, the paths where strata deliberately
// differs from go-containerregistry's mutate.Extract. The fixture
// whiteouts-order exists to pin them (fixtures/README.md): mutate.Extract
// walks layers top-down and keeps the first entry it meets, so within one
// layer the first duplicate wins and a whiteout hides an add that follows
// it in the same tar; runtimes and the OCI image spec let the last entry win
// and never let a layer's whiteout hide its own adds. Each listed path must
// really differ, so a change on either side shows.
var ggcrDifferences = map[string]map[string]string{
	"whiteouts-order.oci.tar": {
		"/a/dup.txt":      "last duplicate wins (\"second\"); go-containerregistry keeps the first",
		"/a/wh-first.txt": "present (a whiteout never hides its own layer's add); go-containerregistry drops it",
		"/a/d":            "mode of the last duplicate folder entry (0755); go-containerregistry keeps 0700",
	},
}

// oracleImage is one image as go-containerregistry reads it.
type oracleImage struct {
	label string
	img   v1.Image
	// manifest is the digest of a real manifest in the archive; empty for
	// docker-archive, where go-containerregistry synthesises one.
	manifest string
	tag      string // docker-archive tag that selected the image
}

// ggcrImages opens an input with go-containerregistry the way it reads
// each format: tarball.ImageFromPath per tag for docker save archives
// (Docker 25+ ones too: they carry manifest.json), layout for OCI folders,
// and layout over an unpacked copy for tars holding an OCI layout (OCI
// archives and Docker 25+ saves).
func ggcrImages(t *testing.T, in input) []oracleImage {
	t.Helper()
	plain := decompressWhole(t, in.path)
	st, err := os.Stat(plain)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		return layoutImages(t, plain)
	}
	var out []oracleImage
	members := tarMembers(t, plain)
	if members["manifest.json"] {
		opener := func() (io.ReadCloser, error) { return os.Open(plain) }
		m, err := tarball.LoadManifest(opener)
		if err != nil {
			t.Fatalf("tarball.LoadManifest: %v", err)
		}
		for _, d := range m {
			if len(d.RepoTags) == 0 {
				if len(m) != 1 {
					t.Fatalf("%s: untagged image among %d; go-containerregistry cannot select it", in.name, len(m))
				}
				img, err := tarball.ImageFromPath(plain, nil)
				if err != nil {
					t.Fatalf("tarball.ImageFromPath: %v", err)
				}
				out = append(out, oracleImage{label: "untagged", img: img})
				continue
			}
			for _, tagName := range d.RepoTags {
				tag, err := name.NewTag(tagName)
				if err != nil {
					t.Fatal(err)
				}
				img, err := tarball.ImageFromPath(plain, &tag)
				if err != nil {
					t.Fatalf("tarball.ImageFromPath(%s): %v", tagName, err)
				}
				out = append(out, oracleImage{label: "tag " + tagName, img: img, tag: tagName})
			}
		}
	}
	if members["oci-layout"] {
		dir := t.TempDir()
		untar(t, plain, dir)
		out = append(out, layoutImages(t, dir)...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: go-containerregistry finds no image", in.name)
	}
	return out
}

// layoutImages collects every image of an OCI layout, nested indexes
// followed, by manifest digest.
func layoutImages(t *testing.T, dir string) []oracleImage {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("layout.ImageIndexFromPath: %v", err)
	}
	imgs, err := oracle.Images(idx)
	if err != nil {
		t.Fatal(err)
	}
	var out []oracleImage
	for _, o := range imgs {
		out = append(out, oracleImage{label: "manifest " + o.Desc.Digest.String(), img: o.Image, manifest: o.Desc.Digest.String()})
	}
	return out
}

// match finds the scan image go-containerregistry's image corresponds to:
// the same manifest digest, or for docker-archive the tag.
func match(res *scan.Result, o oracleImage) *scan.ImageResult {
	for _, ir := range res.Images {
		if o.manifest != "" {
			if ir.Image.ManifestDigest.String() == o.manifest {
				return ir
			}
			continue
		}
		if o.tag == "" && len(res.Images) == 1 {
			return ir
		}
		for _, n := range ir.Image.Names {
			if n == o.tag || n == "docker.io/"+o.tag {
				return ir
			}
		}
	}
	return nil
}

func TestOracleGGCR(t *testing.T) {
	for _, in := range fixtureInputs(t) {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			res := runScan(t, in.path)
			if rep := res.Integrity(); !rep.OK {
				t.Fatalf("committed fixture has integrity problems: %v", rep.Problems)
			}
			oracles := ggcrImages(t, in)
			seen := map[*scan.ImageResult]bool{}
			for _, o := range oracles {
				t.Run(o.label, func(t *testing.T) {
					ir := match(res, o)
					if ir == nil {
						t.Fatalf("strata has no image for go-containerregistry's %s", o.label)
					}
					seen[ir] = true
					compareDigests(t, o, ir)
					got := finalTree(ir.Tree)
					want := ggcrTree(t, o.img)
					if len(want) == 0 || len(got) == 0 {
						t.Fatalf("empty final tree: go-containerregistry %d paths, strata %d", len(want), len(got))
					}
					diffs := compareTrees(got, want)
					checkDifferences(t, diffs, ggcrDifferences[path.Base(in.name)])
				})
			}
			for _, ir := range res.Images {
				if !seen[ir] {
					t.Errorf("strata finds image %s (%s) that go-containerregistry does not", ir.Image.Ref(), ir.Image.ManifestDigest)
				}
			}
		})
	}
}

// compareDigests checks manifest, config, layer digests and diff_ids.
func compareDigests(t *testing.T, o oracleImage, ir *scan.ImageResult) {
	t.Helper()
	img := ir.Image
	if o.manifest != "" {
		md, err := o.img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if md.String() != img.ManifestDigest.String() {
			t.Errorf("manifest digest: go-containerregistry %s, strata %s", md, img.ManifestDigest)
		}
	}
	cfg, err := o.img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.String() != img.ConfigDigest.String() {
		t.Errorf("config digest: go-containerregistry %s, strata %s", cfg, img.ConfigDigest)
	}
	layers, err := o.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(img.Layers) {
		t.Fatalf("go-containerregistry has %d layers, strata %d", len(layers), len(img.Layers))
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		id, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		ours := img.Layers[i]
		if id.String() != ours.DiffID.String() {
			t.Errorf("layer %d diff_id: go-containerregistry %s, strata %s", i, id, ours.DiffID)
		}
		// The diff_id above comes from the config; this is what the layer
		// stream hashed to while strata read it.
		if s := ir.Layers[i].Summary; s == nil || s.DiffID.String() != id.String() {
			t.Errorf("layer %d: strata's stream hash %v, diff_id %s", i, summaryDiffID(s), id)
		}
		switch {
		case o.manifest == "" && ir.LayerDigest(i) == ours.DiffID:
			// A docker-archive layer stored uncompressed: go-containerregistry
			// reports the digest of its own gzip recompression, which is
			// stored nowhere. Strata's digest is the stored bytes' hash,
			// which must then be the diff_id.
			if ir.LayerDigest(i).String() != id.String() {
				t.Errorf("layer %d stored uncompressed: strata digest %s, diff_id %s", i, ir.LayerDigest(i), id)
			}
		default:
			if d.String() != ir.LayerDigest(i).String() {
				t.Errorf("layer %d digest: go-containerregistry %s, strata %s", i, d, ir.LayerDigest(i))
			}
		}
	}
}

func summaryDiffID(s *layer.Summary) any {
	if s == nil {
		return "(layer not read)"
	}
	return s.DiffID
}

// ggcrTree flattens img with mutate.Extract. It emits each path once,
// without whiteouts and without the folders only implied by their content.
func ggcrTree(t *testing.T, img v1.Image) map[string]fsEntry {
	t.Helper()
	out := map[string]fsEntry{}
	err := oracle.Flatten(img, func(h *tar.Header, r io.Reader) error {
		e := fsEntry{Perm: h.FileInfo().Mode() & permBits}
		switch h.Typeflag {
		case tar.TypeReg:
			e.Type = layer.File
			hash := sha256.New()
			n, err := io.Copy(hash, r)
			if err != nil {
				return err
			}
			e.Size, e.SHA256 = n, hex.EncodeToString(hash.Sum(nil))
		case tar.TypeDir:
			e.Type = layer.Dir
		case tar.TypeSymlink:
			e.Type, e.Link = layer.Symlink, h.Linkname
		case tar.TypeLink:
			e.Type, e.Link = layer.Hardlink, absPath(h.Linkname)
		case tar.TypeChar:
			e.Type = layer.Char
		case tar.TypeBlock:
			e.Type = layer.Block
		case tar.TypeFifo:
			e.Type = layer.FIFO
		default:
			return fmt.Errorf("unexpected type %q", h.Typeflag)
		}
		out[absPath(h.Name)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees returns, by path, how strata's final tree (got) differs from
// go-containerregistry's (want). It looks at every path go-containerregistry
// emits, and at every strata path that is not a folder: go-containerregistry
// leaves out folders implied by their content, so those alone may be
// missing from its side. A hardlink's content is its target's, which
// mutate.Extract does not repeat; it is compared through the target.
func compareTrees(got, want map[string]fsEntry) map[string]string {
	diffs := map[string]string{}
	for _, p := range sortedPaths(want) {
		if p == "/" {
			// A layer's "./" entry: the root is no path of strata's tree
			// (layer.Walk drops it; the root always exists).
			continue
		}
		w := want[p]
		g, ok := got[p]
		if !ok {
			diffs[p] = fmt.Sprintf("absent from strata's final tree; go-containerregistry has %s", w)
			continue
		}
		if w.Type == layer.Hardlink {
			if tgt, ok := want[w.Link]; ok {
				w.Size, w.SHA256 = tgt.Size, tgt.SHA256
			}
		}
		if w.Type != layer.Symlink && g.Type == w.Type && g.Perm != w.Perm ||
			g.Type != w.Type || g.Size != w.Size || g.SHA256 != w.SHA256 || g.Link != w.Link ||
			w.Type == layer.Symlink && g.Perm != w.Perm {
			diffs[p] = fmt.Sprintf("strata %s, go-containerregistry %s", g, w)
		}
	}
	for _, p := range sortedPaths(got) {
		if _, ok := want[p]; !ok && got[p].Type != layer.Dir {
			diffs[p] = fmt.Sprintf("strata has %s, absent from go-containerregistry's", got[p])
		}
	}
	return diffs
}

// checkDifferences fails on every difference not documented in known, and
// on every documented difference that no longer occurs.
func checkDifferences(t *testing.T, diffs, known map[string]string) {
	t.Helper()
	for _, p := range sortedPaths(diffs) {
		if why, ok := known[p]; ok {
			t.Logf("%s: deliberate difference (%s): %s", p, why, diffs[p])
			continue
		}
		t.Errorf("%s: %s", p, diffs[p])
	}
	for _, p := range sortedPaths(known) {
		if _, ok := diffs[p]; !ok {
			t.Errorf("%s: documented difference (%s) no longer occurs: update ggcrDifferences", p, known[p])
		}
	}
}

// TestOracleUmoci unpacks every OCI layout (folders, and the layouts inside
// OCI archives and Docker 25+ saves) with `umoci unpack --rootless` and
// compares the folder it writes with strata's final tree.
// umociCannot names the layouts umoci refuses, and why: strata reads them
// (TestCommittedRealArchives in fixtures holds them to the right answer).
var umociCannot = map[string]string{
	"real/xz-planted.podman-uncompressed.oci.tar": "podman save --uncompressed labels plain tars tar+gzip; umoci trusts the media type and fails to gunzip them",
}

func TestOracleUmoci(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running umoci")
	}
	if _, err := exec.LookPath("umoci"); err != nil {
		t.Skip("umoci not on PATH (fixtures/install-tools.sh installs it)")
	}
	n := 0
	for _, in := range fixtureInputs(t) {
		plain := decompressWhole(t, in.path)
		st, err := os.Stat(plain)
		if err != nil {
			t.Fatal(err)
		}
		if !st.IsDir() && !tarMembers(t, plain)["oci-layout"] {
			continue // a legacy docker save has no layout umoci reads
		}
		n++
		if why, ok := umociCannot[in.name]; ok {
			t.Run(in.name, func(t *testing.T) { t.Skip(why) })
			continue
		}
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "layout")
			// umoci writes into the layout (locks, index.json): work on a copy.
			if st.IsDir() {
				copyTree(t, plain, dir)
			} else {
				untar(t, plain, dir)
			}
			res := runScan(t, in.path)
			tags := tagEveryImage(t, dir, res)
			for i, ir := range res.Images {
				t.Run(fmt.Sprintf("%d-%s", i, strings.ReplaceAll(ir.Image.Platform, "/", "-")), func(t *testing.T) {
					for _, l := range ir.Image.Layers {
						if strings.Contains(l.MediaType, "zstd") {
							t.Skipf("layer %d is %s: umoci 0.4 unpacks gzip and uncompressed layers only", l.Index, l.MediaType)
						}
					}
					bundle := filepath.Join(t.TempDir(), "bundle")
					cmd := exec.Command("umoci", "unpack", "--rootless", "--image", dir+":"+tags[ir], bundle)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("umoci unpack: %v\n%s", err, out)
					}
					got := finalTree(ir.Tree)
					want := diskTree(t, filepath.Join(bundle, "rootfs"))
					if len(want) == 0 || len(got) == 0 {
						t.Fatalf("empty final tree: umoci %d paths, strata %d", len(want), len(got))
					}
					for _, p := range sortedPaths(umociDifferences(got, want)) {
						t.Error(umociDifferences(got, want)[p])
					}
				})
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d OCI layouts among the fixtures", n)
	}
}

// tagEveryImage rewrites the copy's index.json so that it names every image
// strata found directly (umoci 0.4 refuses a tag that resolves to a nested,
// multi-platform index) and returns the tag of each.
func tagEveryImage(t *testing.T, dir string, res *scan.Result) map[*scan.ImageResult]string {
	t.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	tags := map[*scan.ImageResult]string{}
	for i, ir := range res.Images {
		d := ir.Image.ManifestDigest
		if d == "" {
			t.Fatalf("image %d: no manifest digest in an OCI layout", i)
		}
		blob := filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
		b, err := os.ReadFile(blob)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			MediaType string `json:"mediaType"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.MediaType == "" {
			m.MediaType = ocispec.MediaTypeImageManifest
		}
		tag := fmt.Sprintf("strata-%d", i)
		tags[ir] = tag
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: m.MediaType, Digest: d, Size: int64(len(b)),
			Annotations: map[string]string{ocispec.AnnotationRefName: tag}})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return tags
}

// diskTree reads a folder umoci unpacked into the same shape as finalTree.
// Hardlinks are ordinary files on disk, so they are compared by content.
func diskTree(t *testing.T, root string) map[string]fsEntry {
	t.Helper()
	out := map[string]fsEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := fsEntry{Perm: info.Mode() & permBits}
		switch {
		case info.Mode().IsRegular():
			e.Type = layer.File
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			e.Size, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
		case info.IsDir():
			e.Type = layer.Dir
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type = layer.Symlink
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case info.Mode()&fs.ModeNamedPipe != 0:
			e.Type = layer.FIFO
		default:
			e.Type, e.Link = layer.Type(255), "other "+info.Mode().Type().String()
		}
		out["/"+filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// umociDifferences compares strata's final tree with umoci's rootless
// unpack, path for path, implied folders included (umoci creates them).
// Deliberate differences, where a rootless unpack cannot reproduce the
// image: a device node becomes an empty regular file (no mknod without
// privileges), and a hardlink is a plain file holding its target's bytes.
// Symlink modes are the filesystem's (0777), not the tar's.
func umociDifferences(got, want map[string]fsEntry) map[string]string {
	diffs := map[string]string{}
	for _, p := range sortedPaths(got) {
		g := got[p]
		w, ok := want[p]
		if !ok {
			diffs[p] = fmt.Sprintf("%s: strata has %s, absent from umoci's unpack", p, g)
			continue
		}
		switch g.Type {
		case layer.Char, layer.Block:
			if w.Type != layer.File || w.Size != 0 {
				diffs[p] = fmt.Sprintf("%s: device node; umoci --rootless has %s, want an empty file", p, w)
			}
			continue
		case layer.Hardlink:
			g.Type, g.Link = layer.File, ""
		case layer.Symlink:
			g.Perm = w.Perm
		}
		if g != w {
			diffs[p] = fmt.Sprintf("%s: strata %s, umoci %s", p, g, w)
		}
	}
	for _, p := range sortedPaths(want) {
		if _, ok := got[p]; !ok {
			diffs[p] = fmt.Sprintf("%s: umoci unpacked %s, absent from strata's final tree", p, want[p])
		}
	}
	return diffs
}
