package engine

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// TestDriftedFiles: the regular files of a layer's folder whose bytes the
// layer's tar does not hold are listed for the detectors, readable through
// the store, bounded; the drift records stay as they were.
func TestDriftedFiles(t *testing.T) {
	layer := layerTar(t)
	tests := []struct {
		name   string
		damage func(diff string)
		want   []string // path what size, in the order found
	}{
		{"as pulled", func(string) {}, nil},
		{"planted file", func(d string) { os.WriteFile(filepath.Join(d, "etc/x.so"), []byte("x"), 0o644) },
			[]string{"/etc/x.so planted 1"}},
		// The folder has one record; each file below it is read.
		{"planted folder", func(d string) {
			os.MkdirAll(filepath.Join(d, "opt/a/b"), 0o755)
			os.WriteFile(filepath.Join(d, "opt/top.so"), []byte("top"), 0o644)
			os.WriteFile(filepath.Join(d, "opt/a/b/deep.so"), []byte("deep!"), 0o644)
			os.Symlink("/etc/shadow", filepath.Join(d, "opt/a/link"))
		}, []string{"/opt/a/b/deep.so planted 5", "/opt/top.so planted 3"}},
		{"planted link", func(d string) { os.Symlink("/etc/shadow", filepath.Join(d, "etc/shadow")) }, nil},
		// Its size shows it without reading it: the rebuild verifies.
		{"longer", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hello\nworld\n"), 0o644) },
			[]string{"/etc/motd changed 12"}},
		// Only the second look of a tar that did not verify names it.
		{"byte changed", func(d string) { os.WriteFile(filepath.Join(d, "etc/motd"), []byte("hellO\n"), 0o644) },
			[]string{"/etc/motd changed 6"}},
		{"link made a file", func(d string) {
			os.Remove(filepath.Join(d, "etc/link"))
			os.WriteFile(filepath.Join(d, "etc/link"), []byte("ab"), 0o644)
		}, []string{"/etc/link changed 2"}},
		{"mode changed", func(d string) { os.Chmod(filepath.Join(d, "etc/motd"), 0o4755) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, diff := splitOf(t, layer)
			tc.damage(diff)
			st := storeOf(t, s, diff)
			verified := rebuiltVerifies(t, st, layer)
			ps := st.Checked("layer", verified)
			var got []string
			for _, f := range st.Drifted("layer") {
				got = append(got, fmt.Sprintf("%s %s %d", f.Path, f.What, f.Size))
				rc, err := f.Open()
				if err != nil {
					t.Fatalf("%s: %v", f.Path, err)
				}
				data, _ := io.ReadAll(rc)
				rc.Close()
				if want, _ := os.ReadFile(filepath.Join(diff, f.Path)); string(data) != string(want) {
					t.Errorf("%s reads %q, the folder holds %q", f.Path, data, want)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("drifted %q, want %q", got, tc.want)
			}
			if tc.name == "planted folder" {
				var records []string
				for _, p := range ps {
					records = append(records, p.Detail)
				}
				if len(records) != 1 || !strings.HasPrefix(records[0], "drift: planted: /opt: a folder") {
					t.Errorf("records %q, want one for the planted folder", records)
				}
			}
		})
	}
}

// TestDriftedFilesBound: past maxDriftFiles, files are counted, not kept,
// and a degraded note says how many were not read.
func TestDriftedFilesBound(t *testing.T) {
	if testing.Short() {
		t.Skip("plants ten thousand files")
	}
	layer := layerTar(t)
	s, diff := splitOf(t, layer)
	dir := filepath.Join(diff, "opt")
	os.Mkdir(dir, 0o755)
	const extra = 3
	for i := range maxDriftFiles + extra {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := storeOf(t, s, diff)
	ps := st.Checked("layer", rebuiltVerifies(t, st, layer))
	if n := len(st.Drifted("layer")); n != maxDriftFiles {
		t.Errorf("%d files kept, want %d", n, maxDriftFiles)
	}
	var note bool
	for _, p := range ps {
		note = note || p.Kind == integrity.Degraded && strings.HasPrefix(p.Detail, fmt.Sprintf("drift: %d more files", extra))
	}
	if !note {
		t.Errorf("no degraded note for the %d files left out: %v", extra, ps)
	}
}

// storeOf serves s as the member "layer" of a store below its folder.
func storeOf(t *testing.T, s *Split, diff string) *Store {
	t.Helper()
	ev, err := os.OpenRoot(filepath.Dir(diff))
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(ev, "test")
	d, err := ev.OpenRoot("diff")
	if err != nil {
		t.Fatal(err)
	}
	s.Diff = d
	if !st.AddSplit(s, d) {
		t.Fatalf("not added: %v", st.Problems())
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rebuiltVerifies reads the store's layer to its end, as a scan does, and
// reports whether it is the tar that was pulled.
func rebuiltVerifies(t *testing.T, st *Store, layer []byte) bool {
	t.Helper()
	rc, err := st.Open("layer")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(data) == string(layer)
}

var _ archive.DriftFiles = (*Store)(nil)
