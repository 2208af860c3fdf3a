// Package golden compares test output with files under testdata, rewriting
// them when tests run with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/charmbracelet/x/exp/golden"
)

// updating reports whether -update was given. The flag is the one
// charmbracelet/x/exp/golden registers (teatest brings it in, and a
// second registration would panic), so it is imported here for its flag.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Assert compares got with testdata/<test name>.golden (a subtest's name
// becomes a folder), or writes the file under -update.
func Assert(t testing.TB, got string) {
	t.Helper()
	file := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}
