// Package golden compares test output with files under testdata, rewriting
// them when tests run with -update.
//
// The -update flag is registered here, once, so every test binary that
// imports the package accepts it (go test ./forensics/... -update); a
// package importing it must not register its own.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Path is testdata/<test name>.golden; a subtest's name becomes a folder.
func Path(t testing.TB) string {
	return filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
}

// Assert compares got with the file at path, or writes it under -update.
func Assert(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after checking the change):\n%s", path, FirstDiff(want, got))
	}
}

// FirstDiff describes the first line where want and got differ; golden
// files can be long, and the first change is the one to read.
func FirstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	if len(wl) != len(gl) {
		return "want " + strconv.Itoa(len(wl)) + " lines, got " + strconv.Itoa(len(gl))
	}
	return "(no difference)"
}
