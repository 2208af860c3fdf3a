package scan_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// A fleet keeps every input to its end, but a released one holds no file
// descriptor: a fleet of more tarballs or image layout folders than the
// process may open files (1,024 on many systems) read every one, and
// their files can still be read out of them (the evidence folder).
func TestFleetReleasesDescriptors(t *testing.T) {
	for _, c := range []struct{ name, fixture string }{
		{"tarballs", "xz-planted.docker.tar"},
		{"image layout folders", "xz-planted.oci"},
	} {
		t.Run(c.name, func(t *testing.T) { fleetReleasesDescriptors(t, c.fixture) })
	}
}

func fleetReleasesDescriptors(t *testing.T, fixture string) {
	src := filepath.Join(fixturesDir, fixture)
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for i := range 24 {
		p := filepath.Join(dir, string(rune('a'+i))+filepath.Ext(fixture))
		if fi.IsDir() {
			err = os.CopyFS(p, os.DirFS(src))
		} else {
			var b []byte
			if b, err = os.ReadFile(src); err == nil {
				err = os.WriteFile(p, b, 0o444)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	base := openDescriptors(t)
	var open []*scan.Result
	defer func() {
		for _, r := range open {
			r.Close()
		}
	}()
	// A file of each input, to read once all are released.
	type file struct {
		content report.Opener
		layer   int
		entry   *layer.Entry
	}
	var files []file
	scan.RunEach(context.Background(), paths, scan.Options{}, func(o scan.Outcome) {
		if o.Err != nil {
			t.Errorf("%s: %v", o.Path, o.Err)
			return
		}
		src := o.Result.ReportSource()
	next:
		for _, img := range src.Images {
			for i := len(img.Layers) - 1; i >= 0 && img.Content != nil; i-- {
				for _, e := range img.Layers[i].Entries {
					if e.IsRegular() && e.Size > 0 {
						files = append(files, file{img.Content, i, e})
						break next
					}
				}
			}
		}
		o.Result.Release()
		open = append(open, o.Result)
	})
	if n := openDescriptors(t) - base; n > 4 {
		t.Errorf("%d inputs read and released hold %d more descriptors than before", len(open), n)
	}
	if len(files) < len(paths) {
		t.Fatalf("%d files to read for %d inputs", len(files), len(paths))
	}
	for _, f := range files {
		rc, err := f.content.Open(f.layer, f.entry)
		if err != nil {
			t.Fatalf("%s: %v", f.entry.Path, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != f.entry.Size {
			t.Fatalf("%s: %d bytes of %d, %v", f.entry.Path, n, f.entry.Size, err)
		}
	}
}

// Asking a folder that holds no store whether it is one, and opening it
// as each store, leaves no descriptor open: a fleet asks it of every
// input, and a descriptor left to the garbage collector (an engine's
// custody reading the evidence's daemon.json) made a folder of 420 image
// layouts fail under a 256-file limit.
func TestNoStoreLeavesNoDescriptor(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer closes what a leak left
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := openDescriptors(t)
	for range 10 {
		if scan.IsStore(dir) {
			t.Fatal("a layout folder taken for a store")
		}
		if got := scan.Inputs(dir); len(got) != 1 {
			t.Fatalf("Inputs: %v", got)
		}
		for _, open := range scan.Stores(scan.Options{}) {
			if s, err := open(context.Background(), dir); s != nil || err != nil {
				t.Fatalf("a layout folder opened as a store: %v, %v", s, err)
			}
		}
	}
	if n := openDescriptors(t) - base; n != 0 {
		t.Errorf("%d descriptors left open", n)
	}
}

// openDescriptors counts the process's open file descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}
