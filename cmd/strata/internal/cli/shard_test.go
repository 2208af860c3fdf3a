package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// A shard of a scan of an evidence root holding an engine's storage and a
// registry's applies the root's rule as the scan does: with a selection
// one storage holds, the other is skipped, not unusable; with one none
// holds, each storage says so and the shard fails as the scan does.
func TestShardEvidenceRootSelection(t *testing.T) {
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	ev := t.TempDir()
	syntheticDocker(t, filepath.Join(ev, "var/lib/docker"))
	registrystore.New(t, filepath.Join(ev, "var/lib")).
		Push(t, "library/xz", registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci")), "5.6.1")
	reg := filepath.Join(ev, "var/lib/registry")
	dir := t.TempDir()
	key := filepath.Join(dir, "cache.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}

	// storages are stderr's lines on the storages of the root.
	storages := func(stderr string) []string {
		var out []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, "no image matches") {
				out = append(out, l)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		sel   []string
		code  int      // the shard's
		lines []string // on stderr, beginning so
	}{
		{"image in the registry", []string{"--image", "library/xz:5.6.1"}, 0, []string{"strata: skipped " + ev + ": no image matches"}},
		{"container of the engine", []string{"--container", "web"}, 0, []string{"strata: skipped " + reg + ": no image matches"}},
		{"image nowhere", []string{"--image", "nothing:1"}, exitUsage,
			[]string{"strata: " + ev + ": no image matches", "strata: " + reg + ": no image matches"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"scan", "--shard", "0/2", "--cache", filepath.Join(dir, "cache"), "--cache-key", key}, tc.sel...)
			code := Run(context.Background(), testBuild, append(args, ev), &out, &errOut)
			if code != tc.code {
				t.Errorf("shard: exit code %d, want %d\n%s%s", code, tc.code, out.String(), errOut.String())
			}
			got := storages(errOut.String())
			if len(got) != len(tc.lines) {
				t.Fatalf("shard's stderr:\n%s", errOut.String())
			}
			for i, l := range tc.lines {
				if !strings.HasPrefix(got[i], l) {
					t.Errorf("shard's stderr line %q, want %q…", got[i], l)
				}
			}
			// The scan itself says the same of the root's storages, and
			// is unusable only when the shard is.
			var scanOut, scanErr bytes.Buffer
			scanCode := Run(context.Background(), testBuild, append(append([]string{"scan", "-q"}, tc.sel...), ev), &scanOut, &scanErr)
			if s := storages(scanErr.String()); strings.Join(s, "\n") != strings.Join(got, "\n") || (scanCode == exitUsage) != (code == exitUsage) {
				t.Errorf("the scan (exit code %d) says:\n%s\nthe shard (exit code %d):\n%s", scanCode, scanErr.String(), code, errOut.String())
			}
		})
	}
}

// A shard of a folder of archives skips a file in it that is no archive
// (notes, a checksum list) as the scan does: every shard of an Indexed Job
// would fail on it otherwise.
func TestShardSkipsStrayFile(t *testing.T) {
	folder := t.TempDir()
	for _, name := range []string{"clean.docker.tar", "xz-planted.oci.tar"} {
		b, err := os.ReadFile(filepath.Join(fixturesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(folder, "SHA256SUMS"), []byte("seized from build host 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "cache.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var out, errOut bytes.Buffer
		args := []string{"scan", "--shard", fmt.Sprintf("%d/2", i), "--cache", filepath.Join(dir, "cache"), "--cache-key", key, folder}
		if code := Run(context.Background(), testBuild, args, &out, &errOut); code != 0 {
			t.Errorf("shard %d/2: exit code %d, want 0\n%s%s", i, code, out.String(), errOut.String())
		}
		if !strings.Contains(errOut.String(), "strata: skipped "+filepath.Join(folder, "SHA256SUMS")) {
			t.Errorf("shard %d/2 does not name the stray file as skipped:\n%s", i, errOut.String())
		}
	}
}
