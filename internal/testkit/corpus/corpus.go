// Package corpus hands fuzz targets the repository's committed inputs as
// seeds: the sound and real-tool fixtures (fixtures/testdata) and the
// hostile cases (fixtures/hostile/testdata), so every go test replays
// them and every fuzzing run starts from them. Only tests import it.
package corpus

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Folders are the committed inputs' folders, relative to the module root.
var Folders = []string{"fixtures/testdata", "fixtures/hostile/testdata"}

// Inputs is every committed input below Folders, in walk order: files as
// they are, OCI layout folders (named *.oci) as tars. A folder that is
// missing or holds no input fails tb: the inputs are committed.
func Inputs(tb testing.TB) [][]byte {
	tb.Helper()
	root := moduleRoot(tb)
	var seeds [][]byte
	for _, rel := range Folders {
		dir := filepath.Join(root, filepath.FromSlash(rel))
		n := len(seeds)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && strings.HasSuffix(p, ".oci"):
				seeds = append(seeds, TarFolder(tb, p))
				return fs.SkipDir
			case !d.Type().IsRegular():
				return nil
			}
			b, err := os.ReadFile(p)
			seeds = append(seeds, b)
			return err
		})
		if err != nil || len(seeds) == n {
			tb.Fatalf("%s: %d inputs, %v", rel, len(seeds)-n, err)
		}
	}
	return seeds
}

// TarFolder is a folder as a tar, its symlinks kept as links.
func TarFolder(tb testing.TB, dir string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil || !fi.Mode().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		tb.Fatalf("%s: %v", dir, err)
	}
	return buf.Bytes()
}

// moduleRoot is the folder holding go.mod, above the test's working
// directory (its package's folder).
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}
