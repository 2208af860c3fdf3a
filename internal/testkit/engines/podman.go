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
	return podman(t, "", steps)
}

// PodmanOverlay is Podman with the overlay driver's options overlay (the
// lines of storage.conf's [storage.options.overlay] table, such as
// force_mask and mount_program). Podman drops the file's driver options
// when the graph root or driver is given on its command line, so they are
// given in the file alone.
func PodmanOverlay(t testing.TB, overlay string, steps ...[]string) string {
	t.Helper()
	return podman(t, overlay, steps)
}

func podman(t testing.TB, overlay string, steps [][]string) string {
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
	data := "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + graph + "\"\nrunroot = \"" + run + "\"\n"
	if overlay != "" {
		data += "[storage.options.overlay]\n" + overlay + "\n"
	}
	if err := os.WriteFile(conf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range steps {
		args := []string{"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")}
		if overlay == "" {
			args = append(args, "--root", graph, "--runroot", run, "--storage-driver", "overlay")
		}
		args = append(args, s...)
		c := exec.CommandContext(ctx, "podman", args...)
		c.Env = append(os.Environ(), "CONTAINERS_CONF="+os.DevNull, "CONTAINERS_STORAGE_CONF="+conf, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return graph
}
