package engines

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Podman runs steps with Debian's podman against a graph root and run
// root of its own (overlay driver, no network, no systemd, no container
// ever started) and returns the graph root: containers/storage as podman
// leaves it on a host's disk. Skipped when podman is not installed or the
// test is not root.
func Podman(t testing.TB, steps ...[]string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed (fixtures/install-tools.sh installs it)")
	}
	if os.Geteuid() != 0 {
		t.Skip("rootful podman needs root")
	}
	// A short folder: podman refuses a run root longer than 50 bytes.
	dir, err := os.MkdirTemp("", "pd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	graph, run := filepath.Join(dir, "storage"), filepath.Join(dir, "run")
	// The machine's own storage.conf and containers.conf are never read.
	conf := filepath.Join(dir, "storage.conf")
	if err := os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\ngraphroot = \""+graph+"\"\nrunroot = \""+run+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range steps {
		args := append([]string{"--root", graph, "--runroot", run, "--storage-driver", "overlay",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")}, s...)
		c := exec.CommandContext(ctx, "podman", args...)
		c.Env = append(os.Environ(), "CONTAINERS_CONF="+os.DevNull, "CONTAINERS_STORAGE_CONF="+conf, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return graph
}
