package cstorage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/engine"
)

func TestConf(t *testing.T) {
	tests := []struct {
		conf      string
		graphroot string
		mask      int64
		set       bool
	}{
		{"[storage]\ngraphroot = \"/srv/containers\"\n", "/srv/containers", 0, false},
		{"[storage]\ngraphroot = '/srv/c' # moved\n[storage.options.overlay]\nforce_mask = \"shared\"\n", "/srv/c", 0o755, true},
		{"[storage]\ngraphroot = \"/a#b\" # a comment\n", "/a#b", 0, false},
		{"[storage.options.overlay]\nforce_mask = \"private\"\n", "", 0o700, true},
		{"[ storage.options.overlay ]\n  force_mask = \"0750\"  # octal\n", "", 0o750, true},
		{"[storage.options.overlay]\nforce_mask = \"\"\n", "", 0, false},
		{"[storage.options.overlay]\nforce_mask = \"rwx\"\n", "", -1, true},
		{"[storage.options.overlay]\n# force_mask = \"shared\"\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", "", 0, false},
		{"[storage.options]\nforce_mask = \"shared\"\n[storage]\ngraphroot = \"/x\"\n", "/x", 0, false},
		{"graphroot = \"/not/in/a/table\"\n", "", 0, false},
	}
	for _, tc := range tests {
		if got := graphrootOf(tc.conf); got != tc.graphroot {
			t.Errorf("graphrootOf(%q) = %q, want %q", tc.conf, got, tc.graphroot)
		}
		if mask, set := forceMaskOf(tc.conf); mask != tc.mask || set != tc.set {
			t.Errorf("forceMaskOf(%q) = %o, %v; want %o, %v", tc.conf, mask, set, tc.mask, tc.set)
		}
	}
}

// The storage.conf that applies is the evidence's: a rootless user's own
// first, else the system's, else the distribution's; and it is hashed
// into the chain of custody.
func TestStorageConf(t *testing.T) {
	const rootless = "home/alice/.local/share/containers/storage"
	tests := []struct {
		name  string
		files map[string]string
		base  string
		mask  int64
	}{
		{"system", map[string]string{"etc/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"shared\"\n"}, "var/lib/containers/storage", 0o755},
		{"distribution's", map[string]string{"usr/share/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"private\"\n"}, "var/lib/containers/storage", 0o700},
		{"system's over distribution's", map[string]string{
			"etc/containers/storage.conf":       "[storage]\n",
			"usr/share/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"private\"\n",
		}, "var/lib/containers/storage", -2},
		{"rootless user's own", map[string]string{
			"etc/containers/storage.conf":                "[storage.options.overlay]\nforce_mask = \"shared\"\n",
			"home/alice/.config/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"0711\"\n",
		}, rootless, 0o711},
		{"rootless, the system's", map[string]string{"etc/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"shared\"\n"}, rootless, 0o755},
		{"graph root alone", map[string]string{"etc/containers/storage.conf": "[storage.options.overlay]\nforce_mask = \"shared\"\n"}, ".", -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
			}
			ev, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
			s := &Store{Store: engine.NewStore(ev, Format), base: tc.base, rootless: tc.base == rootless}
			o := s.statOverride()
			switch {
			case tc.mask == -2 && o.Forced:
				t.Errorf("force_mask %o read", o.Mask)
			case tc.mask != -2 && (!o.Forced || o.Mask != tc.mask):
				t.Errorf("force_mask %o (%v), want %o", o.Mask, o.Forced, tc.mask)
			}
			if want := min(len(tc.files), 1); tc.base != "." && s.Custody.Files() != want {
				t.Errorf("%d files in custody, want %d", s.Custody.Files(), want)
			}
		})
	}
}

// CRI-O's root is [crio] root of the evidence's crio.conf, overridden by
// each drop-in below crio.conf.d in lexical order; each file read is
// hashed into the chain of custody.
func TestCRIORoot(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		root, from string
	}{
		{"none", nil, "", ""},
		{"crio.conf", map[string]string{"etc/crio/crio.conf": "[crio]\nroot = \"/srv/crio\"\nrunroot = \"/run/x\"\n[crio.runtime]\nroot = \"/not/this\"\n"}, "/srv/crio", "etc/crio/crio.conf"},
		{"commented, as shipped", map[string]string{"etc/crio/crio.conf": "[crio]\n# root = \"/var/lib/containers/storage\"\n"}, "", ""},
		{"drop-ins in order", map[string]string{
			"etc/crio/crio.conf":                    "[crio]\nroot = \"/a\"\n",
			"etc/crio/crio.conf.d/10-root.conf":     "[crio]\nroot = \"/b\"\n",
			"etc/crio/crio.conf.d/20-other.conf":    "[crio.runtime]\ndefault_runtime = \"crun\"\n",
			"etc/crio/crio.conf.d/30-empty.conf":    "[crio]\nroot = \"\"\n",
			"etc/crio/crio.conf.d/sub/99-root.conf": "[crio]\nroot = '/c' # the last\n",
		}, "/c", "etc/crio/crio.conf.d/sub/99-root.conf"},
		{"a drop-in alone", map[string]string{"etc/crio/crio.conf.d/01-root": "[ crio ]\n  root = \"/d\"\n"}, "/d", "etc/crio/crio.conf.d/01-root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
			}
			ev, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
			s := &Store{Store: engine.NewStore(ev, Format)}
			if root, from := s.crioRoot(); root != tc.root || from != tc.from {
				t.Errorf("root %q from %q, want %q from %q", root, from, tc.root, tc.from)
			}
			if s.Custody.Files() != len(tc.files) {
				t.Errorf("%d files in custody, want %d", s.Custody.Files(), len(tc.files))
			}
		})
	}
}
