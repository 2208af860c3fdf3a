package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The tests here are of the binary as it ships; the commands are tested
// in package cli.

// stampFlags stamp the build as the Makefile's LDFLAGS do.
const stampFlags = "-X main.version=v9.8.7 -X main.commit=0123456789ab -X main.date=2026-11-27T10:00:00Z"

var built struct {
	once     sync.Once
	dir, bin string
	out      []byte
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// strataBinary builds the strata binary once, static as it ships and
// stamped with stampFlags, for the tests that look at it.
func strataBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin := goTool(t)
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "strata-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "strata")
		build := exec.Command(goBin, "build", "-ldflags", stampFlags, "-o", built.bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = build.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// TestLinkerStamp: the -X main.… stamps the Makefile sets reach `strata
// version` (the linker ignores a -X naming a variable that does not exist).
func TestLinkerStamp(t *testing.T) {
	out, err := exec.Command(strataBinary(t), "version").Output()
	if err != nil {
		t.Fatalf("strata version: %v", err)
	}
	want := regexp.MustCompile(`(?m)^strata v9\.8\.7 \(commit 0123456789ab, 2026-11-27T10:00:00Z\) go\S+ \S+/\S+$`)
	if !want.Match(out) {
		t.Errorf("strata version does not show the linker stamps:\n%s", out)
	}
}

// TestNoDocRenderer: the man pages and completions come from
// cmd/strata/internal/gendocs, so the release binary does not link the
// man page renderer.
func TestNoDocRenderer(t *testing.T) {
	out, err := exec.Command(goTool(t), "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/spf13/cobra/doc" || strings.HasPrefix(dep, "github.com/cpuguy83/go-md2man") || strings.HasSuffix(dep, "/gendocs") {
			t.Errorf("the strata binary depends on %s", dep)
		}
	}
}
