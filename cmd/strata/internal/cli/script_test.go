package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the strata command inside scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"strata": func() { os.Exit(Run(context.Background(), testBuild, os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScript runs every testdata/script/*.txtar. $FIXTURES is the
// repository's fixtures/testdata folder.
func TestScript(t *testing.T) {
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("FIXTURES", fixtures)
			env.Setenv("NO_COLOR", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// flipbyte FILE OFFSET flips the low bit of one byte, to
			// corrupt a copy of a fixture.
			"flipbyte": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: flipbyte FILE OFFSET")
				}
				p := ts.MkAbs(args[0])
				off, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				b, err := os.ReadFile(p)
				ts.Check(err)
				if off < 0 || off >= int64(len(b)) {
					ts.Fatalf("offset %d outside %s (%d bytes)", off, p, len(b))
				}
				b[off] ^= 1
				ts.Check(os.WriteFile(p, b, 0o644))
			},
		},
	})
}
