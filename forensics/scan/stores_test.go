package scan_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-forensics/strata/forensics/scan"
)

// TestInputs: an evidence root holding an engine's storage and a
// registry's is two inputs, the root (its engines) and the registry's
// root directory; any other folder is one.
func TestInputs(t *testing.T) {
	const (
		docker   = "var/lib/docker/image/overlay2/imagedb"
		registry = "var/lib/registry/docker/registry/v2/blobs"
		debian   = "var/lib/docker-registry/docker/registry/v2/repositories"
	)
	for _, tc := range []struct {
		name  string
		paths []string          // folders, or files (ending in .db)
		links map[string]string // link -> target
		want  []string          // below the root
	}{
		{"docker", []string{docker}, nil, []string{"."}},
		{"registry", []string{registry}, nil, []string{"."}},
		{"docker and registry", []string{docker, registry}, nil, []string{".", "var/lib/registry"}},
		{"docker and Debian's registry", []string{docker, debian}, nil, []string{".", "var/lib/docker-registry"}},
		{"containerd and registry", []string{"var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db", registry}, nil, []string{".", "var/lib/registry"}},
		// The folder named must be the one read: a link is resolved by
		// the examiner's machine, not within the evidence.
		{"registry through a link", []string{docker, "srv/registry/docker/registry/v2/blobs", "var/lib"},
			map[string]string{"var/lib/registry": "../../srv/registry"}, []string{"."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := t.TempDir()
			for _, p := range tc.paths {
				dir := filepath.Join(ev, p)
				if filepath.Ext(p) == ".db" {
					dir = filepath.Dir(dir)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if dir != filepath.Join(ev, p) {
					if err := os.WriteFile(filepath.Join(ev, p), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			for l, target := range tc.links {
				if err := os.Symlink(target, filepath.Join(ev, l)); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, filepath.Join(ev, w))
			}
			if got := scan.Inputs(ev); !slices.Equal(got, want) {
				t.Errorf("Inputs = %v, want %v", got, want)
			}
			// The registry's folder is one input.
			for _, p := range want[1:] {
				if got := scan.Inputs(p); !slices.Equal(got, []string{p}) || !scan.IsStore(p) {
					t.Errorf("Inputs(%s) = %v", p, got)
				}
			}
		})
	}
}
