// Command gendocs writes strata's man pages and shell completions into a
// folder; `make dist` runs it:
//
//	go run ./cmd/strata/internal/gendocs -out dist -version v1.2.0 -date 2026-11-27T10:00:00Z
//
// It writes OUT/man/strata.1 and a page for every command (strata-scan.1,
// strata-rules-verify.1, …), and OUT/completions/strata.bash, _strata (zsh)
// and strata.fish. It is a program of its own, next to cmd/strata rather
// than a flag of it, so that the release binary does not carry the man page
// renderer.
//
// The output depends only on the command tree and the flags: no generation
// date is written, and the month the man pages carry is that of -date (make
// dist passes the commit's date), so two runs for one commit are
// byte-identical.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/strata-forensics/strata/cmd/strata/internal/cli"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gendocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write man/ and completions/ into this `folder` (created if absent)")
	version := fs.String("version", "dev", "the strata `version` the man pages name")
	date := fs.String("date", "", "the build `date` (RFC 3339) whose month and year the man pages carry; default: $SOURCE_DATE_EPOCH, else today")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("name the folder to write into with -out")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var at *time.Time
	if *date != "" {
		t, err := time.Parse(time.RFC3339, *date)
		if err != nil {
			return fmt.Errorf("-date: %w", err)
		}
		t = t.UTC()
		at = &t
	}
	return generate(*out, cli.Build{Version: *version, Date: *date}, at)
}

// generate writes the man pages and completions of build b into dir/man
// and dir/completions. A nil date leaves the man pages' month to cobra:
// $SOURCE_DATE_EPOCH, else the current month.
func generate(dir string, b cli.Build, date *time.Time) error {
	root := cli.NewRootCmd(b)
	root.DisableAutoGenTag = true // no generation date: the output is reproducible
	man := filepath.Join(dir, "man")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	hdr := &doc.GenManHeader{Title: "STRATA", Section: "1", Date: date, Source: "strata " + b.Version, Manual: "strata manual"}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for _, c := range []struct {
		name string
		gen  func(string) error
	}{
		{"strata.bash", func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{"_strata", root.GenZshCompletionFile},
		{"strata.fish", func(p string) error { return root.GenFishCompletionFile(p, true) }},
	} {
		if err := c.gen(filepath.Join(comp, c.name)); err != nil {
			return fmt.Errorf("completions: %w", err)
		}
	}
	return nil
}
