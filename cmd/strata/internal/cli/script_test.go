package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/strata-forensics/strata/forensics/layercache"
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
			// dropfinding DIR does what an intruder with write access
			// to a cache folder, but not its key, can: in every layer
			// entry that holds findings, drop the first, leaving the
			// MAC as it was.
			"dropfinding": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: dropfinding DIR")
				}
				n := 0
				ts.Check(filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() || !strings.HasSuffix(p, ".entry") {
						return err
					}
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					if edited, ok := dropFinding(b); ok {
						n++
						return os.WriteFile(p, edited, 0o644)
					}
					return nil
				}))
				if n == 0 {
					ts.Fatalf("no entry holding a finding in %s", args[0])
				}
			},
		},
	})
}

// dropFinding edits a cache entry as an intruder without the key would:
// the header line, the body with its first finding dropped, the old MAC
// line.
func dropFinding(b []byte) ([]byte, bool) {
	lines := bytes.SplitN(b, []byte("\n"), 3) // magic, header, body+mac
	mac := bytes.LastIndex(b, []byte("mac hmac-sha256 "))
	if len(lines) != 3 || mac < 0 {
		return nil, false
	}
	var h map[string]any
	if json.Unmarshal(lines[1], &h) != nil || h["kind"] != "layer" {
		return nil, false
	}
	bodyStart := len(lines[0]) + len(lines[1]) + 2
	sum, det, err := layercache.UnmarshalResults(b[bodyStart:mac])
	if err != nil || det == nil || len(det.Findings) == 0 {
		return nil, false
	}
	det.Findings = det.Findings[1:]
	body, err := layercache.MarshalResults(sum, det)
	if err != nil {
		return nil, false
	}
	h["body_size"] = len(body)
	hb, _ := json.Marshal(h)
	var out bytes.Buffer
	out.Write(lines[0])
	out.WriteByte('\n')
	out.Write(hb)
	out.WriteByte('\n')
	out.Write(body)
	out.Write(b[mac:])
	return out.Bytes(), true
}
