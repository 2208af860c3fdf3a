package registry_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/engines"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// pushed is what the registry storage made once for every test holds.
type pushed struct {
	root string // the registry's root directory (holds docker/registry/v2)
	xz   *registrystore.Image
	// clean is pushed after xz under the same tag, library/app:1.
	clean *registrystore.Image
	// app and tool share their base layer, in repositories of their own;
	// base is an untagged revision of multi/base.
	app, tool, base *registrystore.Image
	// lost is a layer pushed alone, which no manifest names.
	lost digest.Digest
}

var (
	once  sync.Once
	store pushed
)

// realRegistry is a registry's storage written by distribution's own
// storage code (see registrystore), copied for each test:
//
//	library/app:1   xz-planted, then moved to clean (its index keeps both)
//	multi/app:1     multi.docker.tar's app:1   } sharing their base layer
//	multi/tool:2    multi.docker.tar's tool:2  }
//	multi/base      base:1, pushed untagged
//	library/lost    a layer blob pushed alone (the xz-planted layer 1, uncompressed)
//	library/app     an upload cut short: the first bytes of xz-planted's layer 1
func realRegistry(t *testing.T) (string, pushed) {
	t.Helper()
	once.Do(func() {
		fixtures, err := filepath.Abs("../../fixtures/testdata")
		if err != nil {
			t.Fatal(err)
		}
		keep, err := os.MkdirTemp("", "strata-registry")
		if err != nil {
			t.Fatal(err)
		}
		r := registrystore.New(t, keep)
		p := pushed{root: r.Root}
		p.xz = registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci"))
		p.clean = registrystore.FromDockerArchive(t, filepath.Join(fixtures, "clean.docker.tar"), "strata-fixtures/clean:latest")
		multi := filepath.Join(fixtures, "multi.docker.tar")
		p.app = registrystore.FromDockerArchive(t, multi, "strata-fixtures/app:1")
		p.tool = registrystore.FromDockerArchive(t, multi, "strata-fixtures/tool:2")
		p.base = registrystore.FromDockerArchive(t, multi, "strata-fixtures/base:1")
		r.Push(t, "library/app", p.xz, "1")
		r.Push(t, "library/app", p.clean, "1")
		r.Push(t, "multi/app", p.app, "1")
		r.Push(t, "multi/tool", p.tool, "2")
		r.Push(t, "multi/base", p.base)
		planted := p.xz.Blobs[p.xz.Layers[1]]
		zr, err := gzip.NewReader(bytes.NewReader(planted))
		if err != nil {
			t.Fatal(err)
		}
		tarBytes, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		p.lost = r.PushBlob(t, "library/lost", tarBytes)
		r.Interrupt(t, "library/app", planted[:len(planted)/2])
		store = p
	})
	if store.root == "" {
		t.Skip("no registry storage (see the first test's log)")
	}
	return engines.Copy(t, store.root), store
}

func TestMain(m *testing.M) {
	code := m.Run()
	if store.root != "" {
		os.RemoveAll(filepath.Dir(store.root))
	}
	os.Exit(code)
}

func engine(t *testing.T) *detect.Engine {
	t.Helper()
	_, eng := builtin.Engine(t, detect.Options{})
	return eng
}

// scanRegistry scans root and checks that nothing below it changed.
func scanRegistry(t *testing.T, root string, opts scan.Options) *scan.Result {
	t.Helper()
	before := engines.Listing(t, root)
	opts.Engine = engine(t)
	res, err := scan.Run(context.Background(), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		res.Close()
		if engines.Listing(t, root) != before {
			t.Error("the registry storage changed while it was read")
		}
	})
	return res
}

func byRef(res *scan.Result) map[string]*scan.ImageResult {
	out := map[string]*scan.ImageResult{}
	for _, ir := range res.Images {
		out[ir.Image.Ref()] = ir
	}
	return out
}

func worst(fs []finding.Finding, image string) finding.Severity {
	var w finding.Severity
	for _, f := range fs {
		if f.Image == image && f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

func has(ps []integrity.Problem, kind integrity.Kind, blob, detail string) bool {
	for _, p := range ps {
		if p.Kind == kind && (blob == "" || p.Blob == blob) && strings.Contains(p.Detail, detail) {
			return true
		}
	}
	return false
}

func TestRealRegistry(t *testing.T) {
	root, p := realRegistry(t)
	// Progress is called from the goroutines reading layers.
	var layers atomic.Int64
	res := scanRegistry(t, root, scan.Options{Progress: func(pr scan.Progress) {
		if !pr.Indexing {
			layers.Store(int64(pr.Layers))
		}
	}})
	if res.Input.Format != "registry" || res.Input.SHA256 == "" || res.Input.Size == 0 {
		t.Errorf("input %+v", res.Input)
	}
	imgs := byRef(res)
	for _, want := range []string{"library/app:1", "multi/app:1", "multi/tool:2"} {
		if imgs[want] == nil {
			t.Errorf("no image %s", want)
		}
	}
	if len(imgs) != 3 {
		t.Errorf("images %v: only each tag's current manifest is an image by default", keys(imgs))
	}
	if got := imgs["library/app:1"]; got != nil && got.Image.ManifestDigest != p.clean.Digest() {
		t.Errorf("library/app:1 is %s, its current link names %s", got.Image.ManifestDigest, p.clean.Digest())
	}
	if w := worst(res.Findings, "library/app:1"); w != 0 {
		t.Errorf("the tag's current image (clean) has findings up to %v", w)
	}
	// Every layer blob read once, whatever number of images share it.
	app, tool := imgs["multi/app:1"], imgs["multi/tool:2"]
	if app == nil || tool == nil {
		t.FailNow()
	}
	if app.Image.Layers[0].Digest != tool.Image.Layers[0].Digest || app.Layers[0] != tool.Layers[0] {
		t.Errorf("the shared base layer was not read once: %s and %s", app.Image.Layers[0].Digest, tool.Image.Layers[0].Digest)
	}
	read := map[string]bool{}
	shared := map[string]int{}
	for _, ir := range res.Images {
		for _, l := range ir.Image.Layers {
			read[l.Digest.String()] = true
			shared[l.Digest.String()]++
		}
	}
	for _, pr := range res.Problems {
		if pr.Kind == integrity.Unreferenced && pr.Content == "layer" {
			read[pr.Blob] = true
		}
	}
	if int(layers.Load()) != len(read) || shared[app.Image.Layers[0].Digest.String()] != 2 {
		t.Errorf("%d layer blobs read for %d distinct ones; the base layer is in %d images", layers.Load(), len(read), shared[app.Image.Layers[0].Digest.String()])
	}
	// What no tag names now: the xz-planted revision's blobs, listed as
	// unreferenced, its layers scanned as orphans; the layer pushed
	// alone; the upload cut short.
	if !has(res.Problems, integrity.Unreferenced, p.xz.Digest().String(), "") {
		t.Errorf("the earlier revision's manifest is not listed: %v", res.Problems)
	}
	if w := worst(res.Findings, "unreferenced blob "+p.xz.Layers[1].String()); w != finding.Medium {
		t.Errorf("the earlier revision's planted layer, an orphan, weighs %v", w)
	}
	if w := worst(res.Findings, "unreferenced blob "+p.lost.String()); w != finding.Medium {
		t.Errorf("the layer pushed alone weighs %v", w)
	}
	if !has(res.Problems, integrity.Unreferenced, "", "library/app: an upload not completed") ||
		!has(res.Problems, integrity.Unreferenced, "", "gzip-compressed, as a layer's are") {
		t.Errorf("no interrupted upload listed: %v", res.Problems)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine registry fails integrity: %v", res.Integrity().Problems)
	}
}

func TestRealRegistryAllRevisions(t *testing.T) {
	root, p := realRegistry(t)
	res := scanRegistry(t, root, scan.Options{AllRevisions: true})
	imgs := byRef(res)
	earlier := imgs["library/app:1 (earlier)"]
	if earlier == nil || earlier.Image.ManifestDigest != p.xz.Digest() {
		t.Fatalf("the tag's earlier target is not an image: %v", keys(imgs))
	}
	if w := worst(res.Findings, "library/app:1 (earlier)"); w != finding.Critical {
		t.Errorf("the tag's earlier target (xz-planted) weighs %v", w)
	}
	if w := worst(res.Findings, "library/app:1"); w != 0 {
		t.Errorf("the tag's current target (clean) has findings up to %v", w)
	}
	untagged := "multi/base@" + p.base.Digest().String()
	if imgs[untagged] == nil {
		t.Errorf("no image %s for the untagged revision: %v", untagged, keys(imgs))
	}
	if len(imgs) != 5 {
		t.Errorf("images %v", keys(imgs))
	}
	if has(res.Problems, integrity.Unreferenced, p.xz.Digest().String(), "") {
		t.Error("the earlier revision is still listed as unreferenced")
	}
	if w := worst(res.Findings, "unreferenced blob "+p.lost.String()); w != finding.Medium {
		t.Errorf("the layer pushed alone weighs %v", w)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine registry fails integrity: %v", res.Integrity().Problems)
	}
}

func TestRealRegistryDamaged(t *testing.T) {
	tests := []struct {
		name   string
		all    bool
		damage func(t *testing.T, root string, p pushed) (blob string)
		kind   integrity.Kind
		detail string
	}{
		{"layer byte flipped", false, func(t *testing.T, root string, p pushed) string {
			d := p.clean.Layers[1]
			f := registrystore.Reopen(t, root).BlobFile(d)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(f, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return d.String()
		}, integrity.DigestMismatch, ""},
		{"manifest byte flipped", false, func(t *testing.T, root string, p pushed) string {
			d := p.app.Digest()
			f := registrystore.Reopen(t, root).BlobFile(d)
			data, _ := os.ReadFile(f)
			data[len(data)-2] = ' '
			os.WriteFile(f, data, 0o644)
			return d.String()
		}, integrity.DigestMismatch, ""},
		{"dangling tag", false, func(t *testing.T, root string, p pushed) string {
			d := digest.FromString("never pushed")
			registrystore.Reopen(t, root).Tag(t, "library/app", "gone", d)
			return d.String()
		}, integrity.MissingBlob, "library/app:gone"},
		{"dangling tag history", true, func(t *testing.T, root string, p pushed) string {
			r := registrystore.Reopen(t, root)
			d := digest.FromString("never pushed")
			r.Tag(t, "multi/app", "1", d)
			r.Tag(t, "multi/app", "1", p.app.Digest())
			return d.String()
		}, integrity.MissingBlob, "multi/app:1: earlier target"},
		{"blob removed", false, func(t *testing.T, root string, p pushed) string {
			d := p.tool.Digest()
			os.RemoveAll(filepath.Dir(registrystore.Reopen(t, root).BlobFile(d)))
			return d.String()
		}, integrity.MissingBlob, "multi/tool:2"},
		{"current link garbled", false, func(t *testing.T, root string, p pushed) string {
			f := filepath.Join(root, "docker/registry/v2/repositories/multi/tool/_manifests/tags/2/current/link")
			os.WriteFile(f, []byte("sha256:../../etc"), 0o644)
			return "docker/registry/v2/repositories/multi/tool/_manifests/tags/2/current/link"
		}, integrity.Inconsistent, "multi/tool:2: link holds no digest"},
		{"revision link swapped", true, func(t *testing.T, root string, p pushed) string {
			f := filepath.Join(root, "docker/registry/v2/repositories/multi/base/_manifests/revisions/sha256", p.base.Digest().Encoded(), "link")
			os.WriteFile(f, []byte(p.app.Digest()), 0o644)
			return "docker/registry/v2/repositories/multi/base/_manifests/revisions/sha256/" + p.base.Digest().Encoded() + "/link"
		}, integrity.Inconsistent, "holds " + "sha256:"},
		{"blob filed under the wrong prefix", false, func(t *testing.T, root string, p pushed) string {
			d := p.lost
			dir := filepath.Dir(registrystore.Reopen(t, root).BlobFile(d))
			wrong := filepath.Join(filepath.Dir(filepath.Dir(dir)), "00", d.Encoded())
			os.MkdirAll(filepath.Dir(wrong), 0o755)
			if err := os.Rename(dir, wrong); err != nil {
				t.Fatal(err)
			}
			return "docker/registry/v2/blobs/sha256/00/" + d.Encoded()
		}, integrity.Inconsistent, "is filed below 00/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, p := realRegistry(t)
			blob := tc.damage(t, root, p)
			res := scanRegistry(t, root, scan.Options{AllRevisions: tc.all})
			if !has(res.Problems, tc.kind, blob, tc.detail) {
				t.Errorf("no %s record of %s saying %q in %v", tc.kind, blob, tc.detail, res.Problems)
			}
			if res.Integrity().OK {
				t.Error("a damaged registry storage verifies")
			}
		})
	}
}

// TestRealRegistryBelowEvidenceRoot: a host's disk holding a registry at
// /var/lib/registry is read as that registry.
func TestRealRegistryBelowEvidenceRoot(t *testing.T) {
	root, _ := realRegistry(t)
	ev := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ev, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(root, filepath.Join(ev, "var/lib/registry")); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(ev, "etc"), 0o755)
	os.WriteFile(filepath.Join(ev, "etc/os-release"), []byte("ID=debian\n"), 0o644)
	if !scan.IsStore(ev) {
		t.Error("an evidence root holding a registry is not one input")
	}
	res := scanRegistry(t, ev, scan.Options{})
	if res.Input.Format != "registry" || len(res.Images) != 3 {
		t.Errorf("%s with %d images", res.Input.Format, len(res.Images))
	}
	// The v2 folder itself is the same storage.
	v2 := scanRegistry(t, filepath.Join(ev, "var/lib/registry/docker/registry/v2"), scan.Options{})
	if len(v2.Images) != 3 || len(v2.Problems) != len(res.Problems) {
		t.Errorf("the v2 folder reads as %d images and %d records, its evidence root as %d and %d",
			len(v2.Images), len(v2.Problems), len(res.Images), len(res.Problems))
	}
}

func keys(m map[string]*scan.ImageResult) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
