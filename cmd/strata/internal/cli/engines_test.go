package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/internal/testkit/engines"
)

// An acquired host's Docker storage, as Debian's dockerd 20.10 leaves it,
// through every command: container "web" holds the look-alike backdoored
// liblzma in its writable layer, found there and shown as layer rw.
func TestDockerStoreCommands(t *testing.T) {
	const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	root := engines.Copy(t, engines.Docker(t,
		engines.DockerStep{"load", "-i", filepath.Join(fixtures, "clean.docker.tar")},
		engines.DockerStep{"load", "-i", filepath.Join(fixtures, "xz-planted.docker.tar")},
		engines.DockerStep{"create", "--name", "src", "strata-fixtures/xz-planted:latest", "/bin/true"},
		engines.DockerStep{"cp", "src:" + lib, filepath.Join(tmp, "lib")},
		engines.DockerStep{"rm", "src"},
		engines.DockerStep{"create", "--name", "web", "strata-fixtures/clean:latest", "/usr/sbin/sshd", "-D"},
		engines.DockerStep{"cp", filepath.Join(tmp, "lib"), "web:" + lib},
	))
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"scan", root}, exitFindings, []string{"CLEAN  strata-fixtures/clean:latest", "COMPROMISED  container:web", "layer rw  " + lib}},
		{[]string{"scan", "--container", "web", "--format", "json", root}, exitFindings, []string{`"writable": true`, `"name": "web"`, `"engine": "docker"`}},
		{[]string{"inspect", root}, 0, []string{"format: docker-overlay2", "image: container:web\n  container: ", "(docker, created)", "  rw  "}},
		{[]string{"ls", "--container", "web", root, "/usr/lib/x86_64-linux-gnu/"}, 0, []string{"liblzma.so.5.6.1"}},
		{[]string{"blame", "--container", "web", root, lib}, 0, []string{"writable layer of container web"}},
		{[]string{"extract", "--container", "web", root, lib, "-o", filepath.Join(tmp, "out")}, 0, nil},
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
	pfExplore(t, root, []string{"--container", "web"}, []string{"container:web", "!rw ", "writable layer of container w", "CRITICAL rw  /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"})
}
