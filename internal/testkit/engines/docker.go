// Package engines makes real engine storage for tests: it starts Debian's
// dockerd with a data root, exec root and socket of its own (no bridge, no
// iptables), loads fixture images, creates containers and copies files
// into them (no container is ever started), and stops the daemon, leaving
// the data root as a host's disk would hold it. containerd and podman are
// run the same way, and Debian's docker-registry with a storage folder of
// its own, pushed to with skopeo.
package engines

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DockerStep is one docker command run against the test's daemon, as
// arguments to the docker CLI ("load", "-i", path).
type DockerStep []string

// Docker runs a private dockerd (overlay2) in a fresh folder, runs steps
// with the docker CLI, stops the daemon and returns its data root. The
// test is skipped when dockerd or docker is not installed or the test is
// not root (dockerd needs both); make test runs as root with both
// installed (fixtures/install-tools.sh).
func Docker(t testing.TB, steps ...DockerStep) string {
	t.Helper()
	for _, tool := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (fixtures/install-tools.sh installs it)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("dockerd needs root")
	}
	// A short folder: the daemon's sockets live below it, and a unix
	// socket's path is at most 108 bytes.
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, execRoot, run := filepath.Join(dir, "data"), filepath.Join(dir, "exec"), filepath.Join(dir, "run")
	for _, d := range []string{data, execRoot, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sock := "unix://" + filepath.Join(run, "docker.sock")
	var log bytes.Buffer
	d := exec.Command("dockerd", "--data-root", data, "--exec-root", execRoot, "-H", sock,
		"--pidfile", filepath.Join(run, "docker.pid"), "--bridge", "none", "--iptables=false", "--ip6tables=false",
		"--storage-driver", "overlay2", "--containerd-namespace", "strata-test", "--containerd-plugins-namespace", "strata-test-plugins")
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
	docker := func(args ...string) (string, error) {
		c := exec.CommandContext(ctx, "docker", append([]string{"-H", sock}, args...)...)
		c.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "cli"))
		out, err := c.CombinedOutput()
		return string(out), err
	}
	for {
		if _, err := docker("version"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("dockerd did not start: %s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range steps {
		if out, err := docker(s...); err != nil {
			t.Fatalf("docker %s: %v\n%s\ndockerd: %s", strings.Join(s, " "), err, out, tail(log.String()))
		}
	}
	stop()
	return data
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// Copy copies the folder src to a new folder below dst as root would copy
// a disk for examination (cp -a: modes, owners, times, xattrs, device
// nodes), and returns it: tests read and damage the copy.
func Copy(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s: %v\n%s", src, err, out)
	}
	return dst
}

// Listing describes every entry below root (type, mode, owner, size,
// times, link target, a file's bytes): two listings are equal when
// nothing below root changed.
func Listing(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
