package scan_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-forensics/strata/forensics/scan"
)

// TestInputs: an evidence root holding an engine's storage and
// registries' is an input for each, the root (its engines) and each
// registry's root directory or Docker volume, in name order; any other
// folder is one.
func TestInputs(t *testing.T) {
	const (
		docker   = "var/lib/docker/image/overlay2/imagedb"
		registry = "var/lib/registry/docker/registry/v2/blobs"
		debian   = "var/lib/docker-registry/docker/registry/v2/repositories"
		volumes  = "var/lib/docker/volumes/"
		anon     = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	for _, tc := range []struct {
		name  string
		paths []string          // folders, or files (ending in .db)
		links map[string]string // link -> target
		files map[string]string // file -> content
		want  []string          // below the root
	}{
		{"docker", []string{docker}, nil, nil, []string{"."}},
		{"registry", []string{registry}, nil, nil, []string{"."}},
		{"docker and registry", []string{docker, registry}, nil, nil, []string{".", "var/lib/registry"}},
		{"docker and Debian's registry", []string{docker, debian}, nil, nil, []string{".", "var/lib/docker-registry"}},
		{"containerd and registry", []string{"var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db", registry}, nil, nil, []string{".", "var/lib/registry"}},
		// The folder named must be the one read: a link is resolved by
		// the examiner's machine, not within the evidence.
		{"registry through a link", []string{docker, "srv/registry/docker/registry/v2/blobs", "var/lib"},
			map[string]string{"var/lib/registry": "../../srv/registry"}, nil, []string{"."}},
		// The official registry image keeps its storage in a volume,
		// named or anonymous; a volume holding anything else is no input.
		{"docker and a registry in a volume", []string{docker, volumes + "mirror/_data/docker/registry/v2/blobs"}, nil, nil,
			[]string{".", volumes + "mirror/_data"}},
		{"registries in volumes and var/lib", []string{docker, registry, volumes + anon + "/_data/docker/registry/v2/repositories",
			volumes + "db/_data/pgdata", volumes + "metadata.db"}, nil, nil,
			[]string{".", volumes + anon + "/_data", "var/lib/registry"}},
		// Docker's data root is where the evidence's own daemon.json
		// says, however the graph driver's layout is found.
		{"volume below daemon.json's data-root", []string{"srv/docker/image/overlay2/imagedb", "srv/docker/volumes/mirror/_data/docker/registry/v2/blobs"},
			nil, map[string]string{"etc/docker/daemon.json": `{"data-root": "/srv/docker"}`}, []string{".", "srv/docker/volumes/mirror/_data"}},
		{"volume of a data root given itself", []string{"image/overlay2/imagedb", "volumes/mirror/_data/docker/registry/v2/blobs"}, nil, nil,
			[]string{".", "volumes/mirror/_data"}},
		// No volume is reached through a link, whether its _data or a
		// folder above it is one.
		{"volume's _data a link", []string{docker, "srv/mirror/docker/registry/v2/blobs", volumes + "mirror"},
			map[string]string{volumes + "mirror/_data": "../../../../../srv/mirror"}, nil, []string{"."}},
		{"volumes a link", []string{docker, "srv/volumes/mirror/_data/docker/registry/v2/blobs"},
			map[string]string{"var/lib/docker/volumes": "../../../srv/volumes"}, nil, []string{"."}},
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
			for name, body := range tc.files {
				p := filepath.Join(ev, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
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
