package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/internal/testkit/crio"
)

// A Kubernetes node's CRI-O storage (written as CRI-O and
// containers/storage lay it out: internal/testkit/crio), through the
// commands: the pause image pulled by digest, a nameless image listed by
// its ID, the pod's containers named namespace/pod/container, and the
// backdoored liblzma look-alike in container web's writable layer found
// there, as layer rw.
func TestCRIOStoreCommands(t *testing.T) {
	const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	ev := t.TempDir()
	made := time.Date(2024, 4, 2, 10, 0, 0, 0, time.UTC)
	s := crio.New(t, filepath.Join(ev, "var/lib/containers/storage"))
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "pause", Mode: 0o755, Size: 6, ModTime: made})
	tw.Write([]byte("pause\n"))
	tw.Close()
	pause := s.AddImage(t, fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`,
		digest.FromBytes(layer.Bytes())), [][]byte{layer.Bytes()}, made)
	pause.Names = []string{"registry.k8s.io/pause@" + pause.Manifest.String()}
	cfg, layers := crio.DockerArchive(t, filepath.Join(fixtures, "clean.docker.tar"))
	clean := s.AddImage(t, cfg, layers, made)
	pod := s.AddPod(t, "nginx", "shop", "6f1c0f1e-4d7a-4b2b-9a56-0c1d2e3f4a5b", pause, pause.Names[0], made)
	web := s.AddContainer(t, pod, "web", clean, clean.ID, []string{"/usr/sbin/sshd", "-D"}, made)
	s.WriteFile(t, web, lib, crio.FileIn(t, filepath.Join(fixtures, "xz-planted.docker.tar"), lib), 0o644)
	s.Save(t)

	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"scan", ev}, exitFindings, []string{"CLEAN  " + pause.Names[0], "CLEAN  sha256:" + clean.ID, "CLEAN  container:shop/nginx/POD",
			"COMPROMISED  container:shop/nginx/web", "layer rw  " + lib}},
		{[]string{"inspect", ev}, 0, []string{"format: containers-storage", "image: container:shop/nginx/web\n  container: " + web.ID + " (cri-o, )\n  image: " + clean.ID,
			"  container created: " + made.Format(time.RFC3339) + "\n  command: [\"/usr/sbin/sshd\" \"-D\"]", "(cri-o (pod infra container), )\n  image: " + pause.Names[0], `command: ["/pause"]`,
			"image: sha256:" + clean.ID + "\n  (untagged)\n"}},
		{[]string{"blame", "--container", "shop/nginx/web", ev, lib}, 0, []string{"writable layer of container shop/nginx/web"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), testBuild, tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
