package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/strata-forensics/strata/internal/testkit/engines"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
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

// TestScanEngineAndRegistryRoot: a host's disk holding Docker's storage at
// /var/lib/docker (synthetic: image app:1, container web with a file of
// its own) and a registry's at /var/lib/registry (written by
// distribution's storage code: the xz-planted image as library/xz:5.6.1).
// scan reads the root as both: an input of Docker's images and
// containers, and one of the registry's images, named by the registry's
// folder; a selection made of the root skips the storage holding none of
// it. A command reading one input reads the engines' and names the
// registry's folder.
func TestScanEngineAndRegistryRoot(t *testing.T) {
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	ev := t.TempDir()
	syntheticDocker(t, filepath.Join(ev, "var/lib/docker"))
	r := registrystore.New(t, filepath.Join(ev, "var/lib"))
	r.Push(t, "library/xz", registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci")), "5.6.1")
	reg := filepath.Join(ev, "var/lib/registry")

	type input struct {
		path, format string
		images       []string // refs
	}
	docker := input{ev, "docker-overlay2", []string{"app:1", "container:web"}}
	registry := input{reg, "registry", []string{"library/xz:5.6.1"}}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		inputs  []input
		skipped string // a storage said to be skipped on stderr
	}{
		{"root", []string{ev}, exitFindings, []input{docker, registry}, ""},
		{"container", []string{"--container", "web", ev}, 0, []input{{ev, "docker-overlay2", []string{"container:web"}}}, reg},
		{"image", []string{"--image", "library/xz:5.6.1", ev}, exitFindings, []input{registry}, ev},
		// Given on its own as well, the registry is one input.
		{"root and registry", []string{ev, reg}, exitFindings, []input{docker, registry}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), testBuild, append([]string{"scan", "--format", "json"}, tc.args...), &out, &errOut)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (%s)", code, tc.code, errOut.String())
			}
			var doc struct {
				Inputs []struct {
					Input struct {
						Path   string `json:"path"`
						Format string `json:"format"`
					} `json:"input"`
					Images []struct {
						Ref string `json:"ref"`
					} `json:"images"`
					Integrity struct {
						OK bool `json:"ok"`
					} `json:"integrity"`
				} `json:"inputs"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v (%s)", err, errOut.String())
			}
			var got []input
			for _, in := range doc.Inputs {
				g := input{in.Input.Path, in.Input.Format, nil}
				for _, im := range in.Images {
					g.images = append(g.images, im.Ref)
				}
				got = append(got, g)
				if !in.Integrity.OK {
					t.Errorf("%s does not verify", in.Input.Path)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.inputs) {
				t.Errorf("inputs %v, want %v", got, tc.inputs)
			}
			if want := "strata: skipped " + tc.skipped + ": no image matches"; tc.skipped != "" && !strings.Contains(errOut.String(), want) {
				t.Errorf("stderr lacks %q: %s", want, errOut.String())
			}
		})
	}
	// A command that reads one input reads the engines', and says where
	// the registry's storage is.
	var text, errText bytes.Buffer
	if code := Run(context.Background(), testBuild, []string{"inspect", ev}, &text, &errText); code != 0 ||
		!strings.Contains(text.String(), "format: docker-overlay2") || !strings.Contains(errText.String(), "is read when its folder is given: "+reg) {
		t.Errorf("inspect: exit code %d\n%s\n%s", code, text.String(), errText.String())
	}
	// A selection no storage of the root holds is the error it always was.
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), testBuild, []string{"scan", "--image", "nothing:1", ev}, &out, &errOut); code != exitUsage ||
		strings.Contains(errOut.String(), "skipped") || strings.Count(errOut.String(), "no image matches") != 2 {
		t.Errorf("exit code %d, stderr %s", code, errOut.String())
	}
}

// TestScanRegistryInVolume: a host's disk whose Docker data root is where
// its own daemon.json says (/srv/docker), holding the synthetic store and
// registries in Docker volumes, as the official registry image keeps
// them: library/xz:5.6.1 in an anonymous one, library/clean:1 in one
// named mirror, beside a volume of something else. scan reads each
// registry as an input named by its volume's folder, in name order.
func TestScanRegistryInVolume(t *testing.T) {
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	ev := t.TempDir()
	volumes := filepath.Join(ev, "srv/docker/volumes")
	anon := filepath.Join(volumes, strings.Repeat("ab", 32), "_data")
	mirror := filepath.Join(volumes, "mirror", "_data")
	for name, body := range map[string]string{
		"etc/docker/daemon.json":                 `{"data-root": "/srv/docker"}`,
		"srv/docker/volumes/db/_data/PG_VERSION": "16\n",
	} {
		p := filepath.Join(ev, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	syntheticDocker(t, filepath.Join(ev, "srv/docker"))
	for _, dir := range []string{anon, mirror} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	registrystore.Reopen(t, anon).Push(t, "library/xz", registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci")), "5.6.1")
	registrystore.Reopen(t, mirror).Push(t, "library/clean",
		registrystore.FromDockerArchive(t, filepath.Join(fixtures, "clean.docker.tar"), "strata-fixtures/clean:latest"), "1")

	docker := ev + " docker-overlay2 [app:1 container:web]"
	xz := anon + " registry [library/xz:5.6.1]"
	clean := mirror + " registry [library/clean:1]"
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		inputs []string // path, format, images
	}{
		{"root", []string{ev}, exitFindings, []string{docker, xz, clean}},
		{"image", []string{"--image", "library/clean:1", ev}, 0, []string{clean}},
		// Given on its own as well, a volume's registry is one input.
		{"root and volume", []string{ev, mirror}, exitFindings, []string{docker, xz, clean}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), testBuild, append([]string{"scan", "--format", "json"}, tc.args...), &out, &errOut)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (%s)", code, tc.code, errOut.String())
			}
			var doc struct {
				Inputs []struct {
					Input struct {
						Path   string `json:"path"`
						Format string `json:"format"`
					} `json:"input"`
					Images []struct {
						Ref string `json:"ref"`
					} `json:"images"`
				} `json:"inputs"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v (%s)", err, errOut.String())
			}
			var got []string
			for _, in := range doc.Inputs {
				var refs []string
				for _, im := range in.Images {
					refs = append(refs, im.Ref)
				}
				got = append(got, fmt.Sprintf("%s %s %v", in.Input.Path, in.Input.Format, refs))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.inputs) {
				t.Errorf("inputs\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.inputs, "\n"))
			}
		})
	}
	// A command that reads one input names every registry's folder.
	var text, errText bytes.Buffer
	if code := Run(context.Background(), testBuild, []string{"inspect", ev}, &text, &errText); code != 0 ||
		!strings.Contains(errText.String(), "are read when their folders are given: "+anon+", "+mirror) {
		t.Errorf("inspect: exit code %d\n%s", code, errText.String())
	}
}

// syntheticDocker writes a Docker data root (overlay2, classic store) at
// data as dockerd lays it out: image app:1 of one layer (/etc/motd),
// recorded with its tar-split as moby records it, and container web of
// it, whose writable layer holds /etc/web.conf. Files are the test's
// user's, as the layer's headers say.
func syntheticDocker(t *testing.T, data string) {
	t.Helper()
	uid, gid := os.Getuid(), os.Getgid()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, Uid: uid, Gid: gid},
		{Typeflag: tar.TypeReg, Name: "etc/motd", Mode: 0o644, Uid: uid, Gid: gid, Size: 6},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, "hello\n")
		}
	}
	tw.Close()
	diffID := digest.FromBytes(layer.Bytes())
	var split bytes.Buffer
	zw := gzip.NewWriter(&split)
	r, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(layer.Bytes()), storage.NewJSONPacker(zw), storage.NewDiscardFilePutter())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	zw.Close()
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%q]},"history":[{"created_by":"ADD motd /etc/motd"}]}`, diffID)
	id := digest.FromString(config)
	const cacheID, mountID = "1111111111111111111111111111111111111111111111111111111111111111", "2222222222222222222222222222222222222222222222222222222222222222"
	ctr := strings.Repeat("c", 64)
	files := map[string]string{
		"image/overlay2/repositories.json":                                         fmt.Sprintf(`{"Repositories":{"app":{"app:1":%q}}}`, id),
		"image/overlay2/imagedb/content/sha256/" + id.Encoded():                    config,
		"image/overlay2/layerdb/sha256/" + diffID.Encoded() + "/diff":              diffID.String(),
		"image/overlay2/layerdb/sha256/" + diffID.Encoded() + "/cache-id":          cacheID,
		"image/overlay2/layerdb/sha256/" + diffID.Encoded() + "/tar-split.json.gz": split.String(),
		"overlay2/" + cacheID + "/diff/etc/motd":                                   "hello\n",
		"containers/" + ctr + "/config.v2.json": fmt.Sprintf(`{"ID":%q,"Name":"/web","Created":"2024-03-29T00:00:00Z","Path":"/bin/sh","Image":%q,"Driver":"overlay2","Config":{"Image":"app:1"}}`,
			ctr, id),
		"image/overlay2/layerdb/mounts/" + ctr + "/mount-id": mountID,
		"overlay2/" + mountID + "/diff/etc/web.conf":         "listen 80\n",
	}
	for name, body := range files {
		p := filepath.Join(data, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// As the layer's headers say, whatever the umask.
	for _, p := range []string{"overlay2/" + cacheID + "/diff/etc", "overlay2/" + mountID + "/diff/etc"} {
		if err := os.Chmod(filepath.Join(data, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(data, "overlay2", cacheID, "diff/etc/motd"), 0o644); err != nil {
		t.Fatal(err)
	}
}
