package docker_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"

var (
	storeOnce sync.Once
	storeDir  string
)

// realStore is a data root written by Debian's dockerd 20.10: the clean
// and xz-planted fixture images loaded, container "web" created from the
// clean one with the xz-planted image's backdoored liblzma look-alike
// copied into its writable layer (docker cp), and container "idle" created
// from the xz-planted image. Made once, copied by every test.
func realStore(t *testing.T) string {
	t.Helper()
	fixtures, err := filepath.Abs("../../../fixtures/testdata")
	if err != nil {
		t.Fatal(err)
	}
	storeOnce.Do(func() {
		tmp := t.TempDir()
		storeDir = engines.Docker(t,
			engines.DockerStep{"load", "-i", filepath.Join(fixtures, "clean.docker.tar")},
			engines.DockerStep{"load", "-i", filepath.Join(fixtures, "xz-planted.docker.tar")},
			engines.DockerStep{"create", "--name", "src", "strata-fixtures/xz-planted:latest", "/bin/true"},
			engines.DockerStep{"cp", "src:" + lib, filepath.Join(tmp, "lib")},
			engines.DockerStep{"rm", "src"},
			engines.DockerStep{"create", "--name", "web", "strata-fixtures/clean:latest", "/usr/sbin/sshd", "-D"},
			engines.DockerStep{"cp", filepath.Join(tmp, "lib"), "web:" + lib},
			engines.DockerStep{"create", "--name", "idle", "strata-fixtures/xz-planted:latest"},
		)
		// The daemon's folder goes with the test that made it: keep a
		// copy for the others.
		keep, err := os.MkdirTemp("", "strata-docker-store")
		if err != nil {
			t.Fatal(err)
		}
		storeDir = copyInto(t, storeDir, keep)
	})
	if storeDir == "" {
		t.Skip("no docker store (see the first test's log)")
	}
	return engines.Copy(t, storeDir)
}

func copyInto(t *testing.T, src, dir string) string {
	t.Helper()
	c := engines.Copy(t, src)
	dst := filepath.Join(dir, "data")
	if err := os.Rename(c, dst); err != nil {
		t.Fatal(err)
	}
	return dst
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

func TestRealDockerStore(t *testing.T) {
	root := realStore(t)
	before := engines.Listing(t, root)
	res := scanStore(t, root)
	if res.Input.Format != "docker-overlay2" {
		t.Errorf("format %q", res.Input.Format)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine store fails integrity: %v", res.Integrity().Problems)
	}
	refs := map[string]bool{}
	for _, ir := range res.Images {
		refs[ir.Image.Ref()] = true
	}
	for _, want := range []string{"strata-fixtures/clean:latest", "strata-fixtures/xz-planted:latest", "container:web", "container:idle"} {
		if !refs[want] {
			t.Errorf("no image %s in %v", want, refs)
		}
	}
	var inRW bool
	for _, f := range res.Findings {
		if f.Image == "container:web" && f.Path == lib && f.Writable && strings.HasPrefix(f.Rule, "xz-backdoor") {
			inRW = true
		}
		if f.Image == "strata-fixtures/clean:latest" {
			t.Errorf("finding in the clean image: %+v", f)
		}
	}
	if !inRW {
		t.Errorf("the liblzma copied into container web's writable layer was not found: %+v", res.Findings)
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

// layerOf returns the diff folder and layerdb folder of the layer of the
// xz-planted image that added path p (the first layerdb entry whose diff
// folder holds it).
func layerOf(t *testing.T, root, p string) (diff, layerdb string) {
	t.Helper()
	dbs, _ := filepath.Glob(filepath.Join(root, "image/overlay2/layerdb/sha256/*"))
	for _, db := range dbs {
		id, err := os.ReadFile(filepath.Join(db, "cache-id"))
		if err != nil {
			continue
		}
		d := filepath.Join(root, "overlay2", string(id), "diff")
		if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
			return d, db
		}
	}
	t.Fatalf("no layer holds %s", p)
	return "", ""
}

func TestRealDockerStoreTampered(t *testing.T) {
	const motd = "/etc/app.conf"
	tests := []struct {
		name   string
		damage func(t *testing.T, root string)
		kind   integrity.Kind
		detail string // in the record of that kind
	}{
		{"byte changed", func(t *testing.T, root string) {
			diff, _ := layerOf(t, root, lib)
			f := filepath.Join(diff, lib)
			data, _ := os.ReadFile(f)
			data[len(data)/2] ^= 0xff
			os.WriteFile(f, data, 0o644)
		}, integrity.Drift, "drift: changed: " + lib},
		{"byte changed, diff_id", func(t *testing.T, root string) {
			diff, _ := layerOf(t, root, lib)
			f := filepath.Join(diff, lib)
			data, _ := os.ReadFile(f)
			data[0] ^= 0xff
			os.WriteFile(f, data, 0o644)
		}, integrity.DiffIDMismatch, ""},
		{"file planted", func(t *testing.T, root string) {
			diff, _ := layerOf(t, root, lib)
			os.WriteFile(filepath.Join(diff, "usr/lib/x86_64-linux-gnu/libplanted.so"), []byte("x"), 0o644)
		}, integrity.Drift, "drift: planted: /usr/lib/x86_64-linux-gnu/libplanted.so"},
		{"mode changed", func(t *testing.T, root string) {
			diff, _ := layerOf(t, root, lib)
			os.Chmod(filepath.Join(diff, lib), os.ModeSetuid|0o755)
		}, integrity.Drift, "drift: mode changed: " + lib},
		{"tar-split removed", func(t *testing.T, root string) {
			_, db := layerOf(t, root, lib)
			os.Remove(filepath.Join(db, "tar-split.json.gz"))
		}, integrity.MissingBlob, "no tar-split"},
		{"layerdb entry dangling", func(t *testing.T, root string) {
			_, db := layerOf(t, root, motd)
			os.RemoveAll(db)
		}, integrity.MissingBlob, "no layerdb record"},
		{"symlink to the examiner's /etc", func(t *testing.T, root string) {
			diff, _ := layerOf(t, root, lib)
			f := filepath.Join(diff, lib)
			os.Remove(f)
			os.Symlink("/etc/hostname", f)
		}, integrity.Drift, "type changed: " + lib + " is a symbolic link"},
		{"file planted in a container's -init layer", func(t *testing.T, root string) {
			inits, _ := filepath.Glob(filepath.Join(root, "overlay2", "*-init", "diff"))
			if len(inits) == 0 {
				t.Fatal("no -init layer")
			}
			os.WriteFile(filepath.Join(inits[0], "etc", "ld.so.preload"), []byte("/lib/x.so\n"), 0o644)
		}, integrity.Drift, "-init layer: drift: planted: /etc/ld.so.preload"},
		{"repositories.json damaged", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "image/overlay2/repositories.json"), []byte("{"), 0o600)
		}, integrity.BadJSON, "repositories"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := realStore(t)
			tc.damage(t, root)
			before := engines.Listing(t, root)
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
			if res.Integrity().OK {
				t.Error("a damaged store verifies")
			}
			res.Close()
			if engines.Listing(t, root) != before {
				t.Error("the store changed while it was read")
			}
		})
	}
}

// baseLayerDiff is the diff folder of the first layer of fixture image
// name (its docker save archive's config gives its diff_id, which is the
// layer's chain ID and so its layerdb entry).
func baseLayerDiff(t *testing.T, root, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("../../../fixtures/testdata", name+".docker.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasSuffix(h.Name, ".json") {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
	var manifest []struct{ Config string }
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if json.Unmarshal(files["manifest.json"], &manifest) != nil || len(manifest) != 1 ||
		json.Unmarshal(files[manifest[0].Config], &config) != nil || len(config.RootFS.DiffIDs) == 0 {
		t.Fatalf("%s: no config with diff_ids", name)
	}
	id, err := os.ReadFile(filepath.Join(root, "image/overlay2/layerdb/sha256", strings.TrimPrefix(config.RootFS.DiffIDs[0], "sha256:"), "cache-id"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "overlay2", string(id), "diff")
}

// TestRealDockerStorePlanted: the xz-planted image's backdoored liblzma
// look-alike, planted after the pull into the folder of the clean image's
// first layer (where every container on that layer sees it through its
// overlay mount, and no digest covers it), is found by the detectors as
// any layer's file is, on that layer, marked as planted; beside the drift
// record that says the folder is not what was pulled. Container web, on
// the clean image, has a copy of its own at the same path in its writable
// layer, which hides the planted one from it; a file in a folder planted
// beside it is not hidden.
func TestRealDockerStorePlanted(t *testing.T) {
	const inFolder = "/opt/planted/liblzma.so.5.6.1"
	root := realStore(t)
	src, _ := layerOf(t, root, lib)
	data, err := os.ReadFile(filepath.Join(src, lib))
	if err != nil {
		t.Fatal(err)
	}
	base := baseLayerDiff(t, root, "clean")
	if err := os.WriteFile(filepath.Join(base, lib), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, filepath.Dir(inFolder)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, inFolder), data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := engines.Listing(t, root)
	res := scanStore(t, root)

	type want struct {
		image, path string
		present     bool
	}
	wants := []want{
		{"strata-fixtures/clean:latest", lib, true},
		{"strata-fixtures/clean:latest", inFolder, true},
		{"container:web", lib, false}, // its writable layer's copy covers the path
		{"container:web", inFolder, true},
	}
	found := map[want]bool{}
	for _, f := range res.Findings {
		if f.Drift == "" {
			continue
		}
		w := want{f.Image, f.Path, f.Present}
		if !slices.Contains(wants, w) || !strings.HasPrefix(f.Rule, "xz-backdoor") {
			t.Errorf("drift finding %+v", f)
			continue
		}
		found[w] = true
		if f.Drift != "planted" || f.Layer != 0 || f.Writable {
			t.Errorf("%s %s: drift %q on layer %d (writable %v), want planted on layer 0", f.Image, f.Path, f.Drift, f.Layer, f.Writable)
		}
		if f.Severity < finding.High {
			t.Errorf("%s %s: severity %s", f.Image, f.Path, f.Severity)
		}
		if !strings.Contains(f.Message, "planted in layer 0's folder on the host after the pull") {
			t.Errorf("%s %s: message %q does not say where the bytes lie", f.Image, f.Path, f.Message)
		}
		if f.Present && f.Path == lib && f.Severity != finding.Critical {
			t.Errorf("%s %s: %s, want critical (sshd loads liblzma): %s", f.Image, f.Path, f.Severity, f.Message)
		}
		if !f.Present && !strings.Contains(f.Message, "the container's writable layer covers the path, so this container does not see them") {
			t.Errorf("%s %s: message %q does not say what hides it", f.Image, f.Path, f.Message)
		}
	}
	for _, w := range wants {
		if !found[w] {
			t.Errorf("no drift finding on %s at %s with present %v", w.image, w.path, w.present)
		}
	}
	records := map[string]bool{}
	for _, ir := range res.Images {
		for _, ps := range ir.LayerProblems {
			for _, p := range ps {
				if p.Kind == integrity.Drift {
					records[p.Detail] = true
				}
			}
		}
	}
	for _, p := range res.Problems {
		if p.Kind == integrity.Drift {
			records[p.Detail] = true
		}
	}
	for _, want := range []string{"drift: planted: " + lib + ": a file", "drift: planted: /opt: a folder"} {
		var ok bool
		for r := range records {
			ok = ok || strings.HasPrefix(r, want)
		}
		if !ok {
			t.Errorf("no drift record %q in %v", want, records)
		}
	}
	if res.Integrity().OK {
		t.Error("a store with planted files verifies")
	}
	res.Close()
	if engines.Listing(t, root) != before {
		t.Error("the store changed while it was read")
	}
}

// TestRealDockerStoreCopiedWithoutDeviceNodes: a store copied by a tool
// that skips device nodes (an acquisition onto a filesystem or through a
// tool that cannot hold them) has lost the overlay whiteouts of its layer
// folders. The layers are still read whole from their tar-splits, which
// keep the whiteouts, so the store still verifies and what a layer deleted
// stays deleted; each layer that lost them says so in a degraded note.
func TestRealDockerStoreCopiedWithoutDeviceNodes(t *testing.T) {
	root := realStore(t)
	var removed int
	filepath.WalkDir(filepath.Join(root, "overlay2"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type()&os.ModeCharDevice != 0 && strings.Contains(p, "/diff/") {
			if os.Remove(p) == nil {
				removed++
			}
		}
		return nil
	})
	if removed == 0 {
		t.Fatal("the store has no whiteout to lose: the test proves nothing")
	}
	res := scanStore(t, root)
	if !res.Integrity().OK {
		t.Errorf("a store copied without device nodes fails integrity: %v", res.Integrity().Problems)
	}
	var degraded bool
	check := func(ps []integrity.Problem) {
		for _, p := range ps {
			if p.Kind == integrity.Degraded && strings.Contains(p.Detail, "whiteouts of the layer are not in its folder") {
				degraded = true
			}
		}
	}
	check(res.Problems)
	for _, ir := range res.Images {
		for _, ps := range ir.LayerProblems {
			check(ps)
		}
		for _, lr := range ir.Layers {
			if lr != nil {
				check(lr.Problems)
			}
		}
	}
	if !degraded {
		t.Errorf("no degraded note for the lost whiteouts in %v", res.Problems)
	}
	for _, ir := range res.Images {
		if ir.Image.Ref() != "strata-fixtures/xz-planted:latest" {
			continue
		}
		n := ir.Tree.Node("/tmp/xz-5.6.1.tar.gz")
		if n == nil || n.Present() {
			t.Errorf("/tmp/xz-5.6.1.tar.gz, added by layer 1 and deleted by layer 2: node %v, present in the merged tree", n)
		}
	}
}
