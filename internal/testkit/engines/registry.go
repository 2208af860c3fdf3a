package engines

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RegistryPush is one image pushed to the test's registry with skopeo
// copy: From is skopeo's source reference (docker-archive:FILE), To the
// repository:tag it is pushed to, Args more flags for skopeo copy
// ("--format", "oci").
type RegistryPush struct {
	From string
	To   string
	Args []string
}

// Registry runs Debian's docker-registry (distribution 2.8) with
// filesystem storage in a fresh folder, listening on 127.0.0.1 only, at a
// free port, pushes each image in turn with skopeo copy (plain HTTP:
// --dest-tls-verify=false), stops the registry and returns its storage's
// root directory (storage.filesystem.rootdirectory: the layout is below
// it, in docker/registry/v2) and the manifest digest of each push, as
// skopeo wrote it (--digestfile). The test is skipped when docker-registry
// or skopeo is not installed; neither needs root.
func Registry(t testing.TB, pushes ...RegistryPush) (string, []string) {
	t.Helper()
	for _, tool := range []string{"docker-registry", "skopeo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (fixtures/install-tools.sh installs it, as root)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "reg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	var (
		addr string
		log  *syncBuffer
		stop func()
	)
	// The free port is found by listening on it and closing it: another
	// process may take it before the registry does, so a registry that
	// exits before it answers is started again, on another port.
	for try := 0; ; try++ {
		addr = freePort(t)
		var exited bool
		log, stop, exited = startRegistry(t, dir, storage, addr)
		if !exited {
			break
		}
		if try == 2 {
			t.Fatalf("docker-registry did not start on %s: %s", addr, tail(log.String()))
		}
	}
	t.Cleanup(stop)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var digests []string
	for i, p := range pushes {
		digestFile := filepath.Join(dir, fmt.Sprintf("digest-%d", i))
		args := append([]string{"--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", "--dest-no-creds",
			"--digestfile", digestFile}, p.Args...)
		args = append(args, p.From, "docker://"+addr+"/"+p.To)
		c := exec.CommandContext(ctx, "skopeo", args...)
		// Nothing of the machine's or the user's: no registries.conf,
		// no credentials, temporary files in the test's folder.
		conf := filepath.Join(dir, "registries.conf")
		if err := os.WriteFile(conf, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+conf, "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"),
			"TMPDIR="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"))
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("skopeo %s: %v\n%s\ndocker-registry: %s", strings.Join(args, " "), err, out, tail(log.String()))
		}
		d, err := os.ReadFile(digestFile)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, strings.TrimSpace(string(d)))
	}
	stop()
	return storage, digests
}

// freePort returns 127.0.0.1:PORT where PORT was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback network to run a registry on: %v", err)
	}
	defer l.Close()
	addr := l.Addr().String()
	// make offline-check runs the CLI tests in a network namespace of
	// their own, whose loopback interface is down: a port can be bound
	// there, but not reached.
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Skipf("no loopback network to run a registry on: %v", err)
	}
	c.Close()
	return addr
}

// startRegistry starts docker-registry serve with a configuration of the
// test's own (filesystem storage at storage, the HTTP server at addr and
// no other listener, no upload purging) and waits until it answers
// /v2/. exited says it stopped before it answered (its port was taken).
func startRegistry(t testing.TB, dir, storage, addr string) (log *syncBuffer, stop func(), exited bool) {
	t.Helper()
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
`, storage, addr)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	log = &syncBuffer{}
	d := exec.Command("docker-registry", "serve", cfg)
	// REGISTRY_* variables would override the configuration file.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "REGISTRY_") {
			d.Env = append(d.Env, e)
		}
	}
	d.Stdout, d.Stderr = log, log
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		d.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			d.Process.Kill()
			<-done
		}
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			stopped = true
			return log, stop, true
		default:
		}
		if resp, err := client.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return log, stop, false
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("docker-registry did not answer on %s: %s", addr, tail(log.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a daemon's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
