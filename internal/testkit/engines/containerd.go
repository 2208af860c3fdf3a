package engines

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CtrStep is one ctr command run against the test's containerd in a
// namespace, as arguments to ctr ("images", "import", path).
type CtrStep struct {
	Namespace string
	Args      []string
}

// Containerd runs a private containerd (Debian's 1.6; overlayfs
// snapshotter, no CRI plugin) with a root, state folder and socket of its
// own, runs steps with ctr, stops the daemon and returns its root and what
// each step printed. No container is ever started: ctr containers create
// only records one and prepares its writable snapshot. The test is skipped
// when containerd or ctr is not installed or the test is not root
// (containerd needs both).
func Containerd(t testing.TB, steps ...CtrStep) (string, []string) {
	t.Helper()
	for _, tool := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (fixtures/install-tools.sh installs it)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	// A short folder: a unix socket's path is at most 108 bytes.
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root, state := filepath.Join(dir, "root"), filepath.Join(dir, "state")
	sock := filepath.Join(dir, "c.sock")
	// Nothing of the host's: the CRI plugin (which would want CNI) is
	// off, and the opt plugin installs into a folder of the test's
	// rather than /opt/containerd.
	config := fmt.Sprintf(`version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "opt"))
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	d := exec.Command("containerd", "--config", cfg, "--root", root, "--state", state, "--address", sock)
	d.Stdout, d.Stderr = &log, &log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		d.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- d.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			d.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctr := func(ns string, args ...string) (string, error) {
		c := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", ns}, args...)...)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	for {
		if _, err := ctr("default", "version"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("containerd did not start: %s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var outs []string
	for _, s := range steps {
		out, err := ctr(s.Namespace, s.Args...)
		if err != nil {
			t.Fatalf("ctr -n %s %s: %v\n%s\ncontainerd: %s", s.Namespace, strings.Join(s.Args, " "), err, out, tail(log.String()))
		}
		outs = append(outs, out)
	}
	stop()
	return root, outs
}
