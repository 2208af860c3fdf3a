package cstorage_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

// forceMaskConf is what the evidence's storage.conf says: the overlay
// driver's force_mask, "private" (0700), which needs a mount program.
const forceMaskConf = "mount_program = \"/usr/bin/fuse-overlayfs\"\nforce_mask = \"private\""

// forceMaskStore is an evidence root whose /etc/containers/storage.conf
// sets force_mask and whose /var/lib/containers/storage Debian's podman
// wrote with it: the clean and xz-planted fixture images loaded, a
// container created. Every file and folder of the layers is stored with
// mode 0700, owned by root, the mode and owner the image meant in the
// user.containers.override_stat xattr. Each test reads a copy.
func forceMaskStore(t *testing.T) string {
	t.Helper()
	maskOnce.Do(func() {
		if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
			t.Skip("fuse-overlayfs not installed (fixtures/install-tools.sh installs it): podman's force_mask needs it")
		}
		fixtures, err := filepath.Abs("../../../fixtures/testdata")
		if err != nil {
			t.Fatal(err)
		}
		graph := engines.PodmanOverlay(t, forceMaskConf,
			[]string{"load", "-q", "-i", filepath.Join(fixtures, "clean.docker.tar")},
			[]string{"load", "-q", "-i", filepath.Join(fixtures, "xz-planted.docker.tar")},
			[]string{"create", "--name", "web", "strata-fixtures/clean:latest", "-e"},
		)
		diffs, _ := filepath.Glob(filepath.Join(graph, "overlay", "*", "diff"))
		if len(diffs) == 0 {
			t.Fatal("no layer folder")
		}
		if _, err := unix.Getxattr(diffs[0], engine.OverrideXattr, make([]byte, 64)); err != nil {
			t.Skipf("podman stored no %s (a filesystem without user.* xattrs?): %v", engine.OverrideXattr, err)
		}
		keep, err := os.MkdirTemp("", "strata-podman-mask")
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(keep, "ev")
		os.MkdirAll(filepath.Join(root, "etc", "containers"), 0o755)
		os.MkdirAll(filepath.Join(root, "var", "lib", "containers"), 0o755)
		conf := "[storage]\ndriver = \"overlay\"\n\n[storage.options.overlay]\n" + forceMaskConf + " # as the host had it\n"
		if err := os.WriteFile(filepath.Join(root, "etc", "containers", "storage.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(engines.Copy(t, graph), filepath.Join(root, "var", "lib", "containers", "storage")); err != nil {
			t.Fatal(err)
		}
		maskKept = root
	})
	if maskKept == "" {
		t.Skip("no podman store with force_mask (see the first test's log)")
	}
	return engines.Copy(t, maskKept)
}

var (
	maskOnce sync.Once
	maskKept string
)

// maskCleanup removes the store forceMaskStore keeps for the package's
// tests.
func maskCleanup() {
	if maskKept != "" {
		os.RemoveAll(filepath.Dir(maskKept))
	}
}

// layerFile is the file p in the folder of the image layer that has it.
func layerFile(t *testing.T, ev, p string) string {
	t.Helper()
	return holding(t, filepath.Join(ev, "var", "lib", "containers", "storage"), p)
}

func driftOf(res interface{ Integrity() integrity.Report }) []string {
	var out []string
	for _, p := range res.Integrity().Problems {
		if p.Kind == integrity.Drift {
			out = append(out, p.Detail)
		}
	}
	return out
}

// A store written with force_mask: the modes and owners on the disk are
// the mask's, the ones the layers meant are in each file's override xattr,
// and that is what is compared. Read as the disk has them, every file
// would be "drift: mode changed".
func TestRealPodmanForceMask(t *testing.T) {
	ev := forceMaskStore(t)
	fi, err := os.Stat(layerFile(t, ev, "/etc/os-release"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the layer's /etc/os-release is %v (%v), not stored with the mask", fi.Mode(), err)
	}
	before := engines.Listing(t, ev)
	res := scanStore(t, ev)
	if d := driftOf(res); len(d) > 0 || !res.Integrity().OK {
		t.Errorf("a genuine force_mask store drifts: %q\n%v", d, res.Integrity().Problems)
	}
	if hasProblem(res.Problems, integrity.Degraded, engine.OverrideXattr) {
		t.Errorf("a note that xattrs are unreadable: %v", res.Problems)
	}
	found := false
	for _, f := range res.Findings {
		found = found || f.Image == "localhost/strata-fixtures/xz-planted:latest" && strings.HasPrefix(f.Rule, "xz-backdoor")
	}
	if !found {
		t.Error("the xz-planted image's backdoor is not found")
	}
	res.Close()
	if engines.Listing(t, ev) != before {
		t.Error("the store changed while it was read")
	}
}

func TestRealPodmanForceMaskTampered(t *testing.T) {
	const motd = "/etc/motd"
	tests := []struct {
		name   string
		damage func(t *testing.T, ev string)
		kind   integrity.Kind
		detail string
		ok     bool // the store still verifies
	}{
		// The xattr is what fuse-overlayfs shows the container: made
		// setuid there, the file is setuid in every container.
		{"xattr made setuid", func(t *testing.T, ev string) {
			setX(t, layerFile(t, ev, motd), "0:0:04755")
		}, integrity.Drift, "drift: mode changed: " + motd + " is 4755 (its user.containers.override_stat), 0644", false},
		{"xattr given another owner", func(t *testing.T, ev string) {
			setX(t, layerFile(t, ev, motd), "1000:1000:0644")
		}, integrity.Drift, "drift: owner changed: " + motd + " is 1000:1000 (its user.containers.override_stat), 0:0", false},
		// Copied without its xattrs: what the layers meant is unknown,
		// a note says so, and no mode is said to have changed.
		{"xattrs lost", func(t *testing.T, ev string) {
			stripX(t, filepath.Join(ev, "var", "lib", "containers", "storage", "overlay"))
		}, integrity.Degraded, "have no readable user.containers.override_stat though containers/storage stored them with force_mask", true},
		// ... but a mode that is not the mask's was changed on the disk.
		{"xattrs lost, a file made setuid", func(t *testing.T, ev string) {
			stripX(t, filepath.Join(ev, "var", "lib", "containers", "storage", "overlay"))
			os.Chmod(layerFile(t, ev, motd), os.ModeSetuid|0o755)
		}, integrity.Drift, "drift: mode changed: " + motd + " is 4755, 0644", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := forceMaskStore(t)
			tc.damage(t, ev)
			before := engines.Listing(t, ev)
			res := scanStore(t, ev)
			if !hasProblem(res.Problems, tc.kind, tc.detail) {
				t.Errorf("no %s record saying %q in %v", tc.kind, tc.detail, res.Problems)
			}
			if tc.ok {
				if d := driftOf(res); len(d) > 0 || !res.Integrity().OK {
					t.Errorf("drift %q; integrity %v", d, res.Integrity().Problems)
				}
			} else if res.Integrity().OK {
				t.Error("a tampered store verifies")
			}
			res.Close()
			if engines.Listing(t, ev) != before {
				t.Error("the store changed while it was read")
			}
		})
	}
}

// The graph root given alone, with no storage.conf: each layer folder's
// own xattr says it was written with force_mask.
func TestRealPodmanForceMaskGraphRoot(t *testing.T) {
	ev := forceMaskStore(t)
	res := scanStore(t, filepath.Join(ev, "var", "lib", "containers", "storage"))
	if d := driftOf(res); len(d) > 0 || !res.Integrity().OK {
		t.Errorf("drift %q; integrity %v", d, res.Integrity().Problems)
	}
}

func setX(t *testing.T, p, v string) {
	t.Helper()
	if err := unix.Lsetxattr(p, engine.OverrideXattr, []byte(v), 0); err != nil {
		t.Fatal(err)
	}
}

// stripX removes the override xattr of everything below dir, as a copy
// that keeps no xattrs would.
func stripX(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			if err := unix.Lremovexattr(p, engine.OverrideXattr); err != nil && !errors.Is(err, unix.ENODATA) {
				t.Fatal(err)
			}
		}
		return nil
	})
}
