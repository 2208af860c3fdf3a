package cstorage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"

// realStore is a graph root written by Debian's podman: the clean and
// xz-planted fixture images loaded, container "web" created from the
// clean one with the xz-planted image's backdoored liblzma look-alike
// copied into it (podman cp). Each test reads a copy.
func realStore(t *testing.T) string {
	t.Helper()
	once.Do(func() {
		fixtures, err := filepath.Abs("../../../fixtures/testdata")
		if err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		graph := engines.Podman(t,
			[]string{"load", "-q", "-i", filepath.Join(fixtures, "clean.docker.tar")},
			[]string{"load", "-q", "-i", filepath.Join(fixtures, "xz-planted.docker.tar")},
			[]string{"create", "--name", "src", "strata-fixtures/xz-planted:latest", "/bin/true"},
			[]string{"cp", "src:" + lib, filepath.Join(tmp, "lib")},
			[]string{"rm", "src"},
			[]string{"create", "--name", "web", "strata-fixtures/clean:latest", "/usr/sbin/sshd", "-D"},
			[]string{"cp", filepath.Join(tmp, "lib"), "web:" + lib},
		)
		// The graph root goes with the test that made it: keep a copy.
		keep, err := os.MkdirTemp("", "strata-podman-store")
		if err != nil {
			t.Fatal(err)
		}
		stored = filepath.Join(keep, "storage")
		if err := os.Rename(engines.Copy(t, graph), stored); err != nil {
			t.Fatal(err)
		}
	})
	if stored == "" {
		t.Skip("no podman store (see the first test's log)")
	}
	return engines.Copy(t, stored)
}

var (
	once   sync.Once
	stored string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stored != "" {
		os.RemoveAll(filepath.Dir(stored))
	}
	stateCleanup()
	maskCleanup()
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

func TestRealPodmanStore(t *testing.T) {
	root := realStore(t)
	before := engines.Listing(t, root)
	res := scanStore(t, root)
	if res.Input.Format != "containers-storage" {
		t.Errorf("format %q", res.Input.Format)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine store fails integrity: %v", res.Integrity().Problems)
	}
	refs := map[string]bool{}
	for _, ir := range res.Images {
		refs[ir.Image.Ref()] = true
	}
	for _, want := range []string{"localhost/strata-fixtures/clean:latest", "localhost/strata-fixtures/xz-planted:latest", "container:web"} {
		if !refs[want] {
			t.Errorf("no image %s in %v", want, refs)
		}
	}
	var inRW, inImage bool
	for _, f := range res.Findings {
		inRW = inRW || f.Image == "container:web" && f.Path == lib && f.Writable && strings.HasPrefix(f.Rule, "xz-backdoor")
		inImage = inImage || f.Image == "localhost/strata-fixtures/xz-planted:latest" && f.Layer == 1 && strings.HasPrefix(f.Rule, "xz-backdoor")
		if f.Image == "localhost/strata-fixtures/clean:latest" {
			t.Errorf("finding in the clean image: %+v", f)
		}
	}
	if !inRW || !inImage {
		t.Errorf("backdoor in web's rw layer found: %v, in the xz-planted image's layer 1: %v", inRW, inImage)
	}
	res.Close()
	if engines.Listing(t, root) != before {
		t.Error("the store changed while it was read")
	}
}

func TestRealPodmanStoreTampered(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, root string)
		kind   integrity.Kind
		detail string
	}{
		{"byte changed", func(t *testing.T, root string) {
			f := holding(t, root, lib)
			data, _ := os.ReadFile(f)
			data[len(data)/2] ^= 0xff
			os.WriteFile(f, data, 0o644)
		}, integrity.Drift, "drift: changed: " + lib},
		{"file planted", func(t *testing.T, root string) {
			f := holding(t, root, lib)
			os.WriteFile(filepath.Join(filepath.Dir(f), "libplanted.so"), []byte("x"), 0o644)
		}, integrity.Drift, "drift: planted: /usr/lib/x86_64-linux-gnu/libplanted.so"},
		{"layers.json damaged", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, "overlay-layers/layers.json"), []byte("[{"), 0o600)
		}, integrity.BadJSON, ""},
		{"tar-split removed", func(t *testing.T, root string) {
			f := holding(t, root, lib)
			id := filepath.Base(filepath.Dir(strings.SplitN(f, "/diff/", 2)[0] + "/diff"))
			os.Remove(filepath.Join(root, "overlay-layers", id+".tar-split.gz"))
		}, integrity.MissingBlob, "no tar-split"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := realStore(t)
			tc.damage(t, root)
			before := engines.Listing(t, root)
			res := scanStore(t, root)
			found := false
			for _, p := range res.Problems {
				found = found || p.Kind == tc.kind && strings.Contains(p.Detail, tc.detail)
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

// holding is the file p in the image layer's diff folder that has it (not
// a container's writable layer).
func holding(t *testing.T, root, p string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(root, "overlay/*/diff", p))
	for _, m := range ms {
		id := filepath.Base(strings.TrimSuffix(strings.TrimSuffix(m, p), "/diff"))
		if _, err := os.Stat(filepath.Join(root, "overlay-layers", id+".tar-split.gz")); err == nil {
			return m
		}
	}
	t.Fatalf("no image layer holds %s", p)
	return ""
}

// A rootless user's storage, as it lies in their home: every file of a
// layer's folder is owned by one of the user's subordinate IDs, not the
// owner the layer's tar records. That is no drift: owners are not
// compared, and a note says so.
func TestRealPodmanRootless(t *testing.T) {
	graph := realStore(t)
	ev := t.TempDir()
	home := filepath.Join(ev, "home", "alice", ".local", "share", "containers")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(home, "storage")
	if err := os.Rename(graph, root); err != nil {
		t.Fatal(err)
	}
	diffs, _ := filepath.Glob(filepath.Join(root, "overlay", "*", "diff"))
	for _, d := range diffs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				os.Lchown(p, 100000, 100000)
			}
			return nil
		})
	}
	res := scanStore(t, ev)
	if !res.Integrity().OK {
		t.Errorf("a rootless store's mapped owners fail integrity: %v", res.Integrity().Problems)
	}
	noted := false
	for _, p := range res.Problems {
		noted = noted || p.Kind == integrity.Degraded && strings.Contains(p.Detail, "owners are not compared")
	}
	if !noted {
		t.Errorf("no note that owners are not compared: %v", res.Problems)
	}
}
