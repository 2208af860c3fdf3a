package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

// gendocs is set by `make dist`: the man pages and shell completions are
// generated from the command tree here, in a test binary, so the release
// binary does not carry the man page renderer.
var gendocs = flag.String("gendocs", "", "write man pages and completions into this folder")

func TestGenDocs(t *testing.T) {
	dir := *gendocs
	if dir == "" {
		dir = t.TempDir()
	}
	root := newRootCmd()
	root.DisableAutoGenTag = true // keeps the output reproducible
	man := filepath.Join(dir, "man")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hdr := &doc.GenManHeader{Title: "STRATA", Section: "1", Source: "strata " + version, Manual: "strata manual"}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		t.Fatal(err)
	}
	for name, gen := range map[string]func(string) error{
		"strata.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"_strata":     root.GenZshCompletionFile,
		"strata.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
	} {
		if err := gen(filepath.Join(comp, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"man/strata.1", "man/strata-scan.1", "man/strata-inspect.1", "completions/strata.bash", "completions/_strata", "completions/strata.fish"} {
		if fi, err := os.Stat(filepath.Join(dir, want)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not generated: %v", want, err)
		}
	}
}

// TestEveryCommandHasExamples keeps `strata CMD --help` useful.
func TestEveryCommandHasExamples(t *testing.T) {
	for _, c := range newRootCmd().Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("strata %s has no --help examples", c.Name())
		}
	}
}
