package app_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/strataexe"
)

const smokeFixture = "../../fixtures/testdata/xz-planted.docker.tar"

// TestTmuxSmoke drives the real binary in a tmux terminal of 80×24: it
// opens the planted fixture, searches for liblzma, jumps to the first
// finding and checks that the screen names the layer that introduced the
// planted library, by index and digest. The expectation comes from a scan
// of the fixture, not from the UI.
func TestTmuxSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a real terminal")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed")
	}
	if _, err := os.Stat(smokeFixture); err != nil {
		t.Fatalf("committed fixture missing: %v", err)
	}
	fixture, err := filepath.Abs(smokeFixture)
	if err != nil {
		t.Fatal(err)
	}
	bin := strataexe.Path(t)

	// What the screen must show, from the forensic pipeline itself.
	res, err := scan.Run(context.Background(), fixture, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	ir := res.Images[0]
	var lib string
	for _, p := range ir.Tree.Paths() {
		if path.Base(p) == "liblzma.so.5.6.1" && ir.Tree.Node(p).Present() {
			lib = p
		}
	}
	if lib == "" {
		t.Fatal("the fixture has no liblzma.so.5.6.1")
	}
	intro := ir.Tree.Node(lib).Introduced()
	_, hex, _ := strings.Cut(string(ir.LayerDigest(intro)), ":")
	short := hex[:12]

	socket := fmt.Sprintf("strata-smoke-%d", os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-s", "smoke", "-x", "80", "-y", "24",
		"env", "NO_COLOR=1", "TERM=xterm-256color", bin, "explore", fixture)
	defer exec.Command(tmux, "-L", socket, "kill-server").Run()

	screen := ""
	waitFor := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			screen = run("capture-pane", "-p", "-t", "smoke")
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(screen, w)
			}
			if ok {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the screen never showed %q; it shows:\n%s", want, screen)
	}

	waitFor("Layers (", "Findings (")
	run("send-keys", "-t", "smoke", "/", "liblzma", "Enter")
	waitFor("[/liblzma]")
	run("send-keys", "-t", "smoke", "Tab")
	waitFor("Findings (")
	run("send-keys", "-t", "smoke", "Enter")
	waitFor(fmt.Sprintf("Tree @ layer %d", intro))
	// The layers pane lists the introducing layer by index and digest, and
	// the history of the selected (planted) file starts with its add there.
	waitFor(fmt.Sprintf("%2d %s", intro, short), fmt.Sprintf("L%-2d add    sha256:%s", intro, short), lib[:20])
	if os.Getenv("STRATA_SCREENSHOT") != "" {
		if err := os.WriteFile(os.Getenv("STRATA_SCREENSHOT"), []byte(screen), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("send-keys", "-t", "smoke", "q")
}

func TestMain(m *testing.M) { os.Exit(strataexe.Main(m)) }
