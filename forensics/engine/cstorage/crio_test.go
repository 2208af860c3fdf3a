package cstorage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/cstorage"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/crio"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

// crioNode is what crioStore wrote.
type crioNode struct {
	graph        string // the graph root, below the evidence root
	pause, clean *crio.Image
	pod          *crio.Pod
	web, job     *crio.Container
	made         time.Time
}

// crioStore writes a Kubernetes node's CRI-O storage at graph (a folder
// below an evidence root), as CRI-O 1.26+ leaves it (internal/testkit/crio):
// no registries.conf, the pause image pulled by digest
// (registry.k8s.io/pause@sha256:…), the clean fixture image with no name
// at all (loaded with none), pod nginx of namespace shop (its infra
// container) and its containers web, of the nameless image asked for by
// its ID, with the xz-planted fixture's backdoored liblzma look-alike in
// its writable layer, and job, whose userdata/config.json is gone.
func crioStore(t *testing.T, graph string) *crioNode {
	t.Helper()
	fixtures, err := filepath.Abs("../../../fixtures/testdata")
	if err != nil {
		t.Fatal(err)
	}
	made := time.Date(2024, 4, 2, 10, 0, 0, 0, time.UTC)
	s := crio.New(t, graph)
	n := &crioNode{graph: graph, made: made}

	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	pause := []byte("\x7fELF pause look-alike\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "pause", Mode: 0o755, Size: int64(len(pause)), ModTime: made})
	tw.Write(pause)
	tw.Close()
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":[%q]},"history":[{"created_by":"ARG ARCH"}]}`,
		digest.FromBytes(layer.Bytes()))
	n.pause = s.AddImage(t, []byte(config), [][]byte{layer.Bytes()}, made)
	n.pause.Names = []string{"registry.k8s.io/pause@" + n.pause.Manifest.String()}

	cfg, layers := crio.DockerArchive(t, filepath.Join(fixtures, "clean.docker.tar"))
	n.clean = s.AddImage(t, cfg, layers, made)

	n.pod = s.AddPod(t, "nginx", "shop", "6f1c0f1e-4d7a-4b2b-9a56-0c1d2e3f4a5b", n.pause, n.pause.Names[0], made)
	n.web = s.AddContainer(t, n.pod, "web", n.clean, n.clean.ID, []string{"/usr/sbin/sshd", "-D"}, made.Add(time.Minute))
	s.WriteFile(t, n.web, lib, crio.FileIn(t, filepath.Join(fixtures, "xz-planted.docker.tar"), lib), 0o644)
	n.job = s.AddContainer(t, n.pod, "job", n.clean, n.clean.ID, []string{"/bin/true"}, made.Add(2*time.Minute))
	if err := os.Remove(filepath.Join(graph, "overlay-containers", n.job.ID, "userdata", "config.json")); err != nil {
		t.Fatal(err)
	}
	s.Save(t)
	return n
}

// containersOf lists the containers of a scan by name.
func containersOf(imgs []*image.Image) map[string]*image.Container {
	out := map[string]*image.Container{}
	for _, img := range imgs {
		if c := img.Container; c != nil {
			out[c.Name] = c
		}
	}
	return out
}

// A Kubernetes node's CRI-O storage, read end to end: every image, named
// or not, and every container, named as Kubernetes names them
// (namespace/pod/container, the pod's infra container as POD), with its
// image, creation time and command; the backdoor in a container's
// writable layer is found there; the store verifies and is unchanged.
func TestCRIOStore(t *testing.T) {
	ev := t.TempDir()
	n := crioStore(t, filepath.Join(ev, "var", "lib", "containers", "storage"))
	before := engines.Listing(t, ev)
	res := scanStore(t, ev)
	if res.Input.Format != "containers-storage" {
		t.Errorf("format %q", res.Input.Format)
	}
	if !res.Integrity().OK {
		t.Errorf("a genuine CRI-O store fails integrity: %v", res.Integrity().Problems)
	}
	var refs, imgs []string
	var all []*image.Image
	for _, ir := range res.Images {
		refs = append(refs, ir.Image.Ref())
		all = append(all, ir.Image)
		if ir.Image.Container == nil {
			imgs = append(imgs, ir.Image.Ref())
		}
	}
	for _, want := range []string{
		"registry.k8s.io/pause@" + n.pause.Manifest.String(), // pulled by digest
		"sha256:" + n.clean.ID,                               // no name: its ID
		"container:shop/nginx/POD", "container:shop/nginx/web", "container:shop/nginx/job",
	} {
		if !slices.Contains(refs, want) {
			t.Errorf("no %s in %q", want, refs)
		}
	}
	if len(imgs) != 2 || len(refs) != 5 {
		t.Errorf("images %q, all %q", imgs, refs)
	}
	ctrs := containersOf(all)
	for name, want := range map[string]image.Container{
		"shop/nginx/POD": {ID: n.pod.Infra.ID, Image: n.pause.Names[0], Command: []string{"/pause"}, Engine: "cri-o (pod infra container)", Created: &n.made},
		"shop/nginx/web": {ID: n.web.ID, Image: n.clean.ID, Command: []string{"/usr/sbin/sshd", "-D"}, Engine: "cri-o", Created: &n.web.Created},
		"shop/nginx/job": {ID: n.job.ID, Image: n.clean.ID, Engine: "cri-o", Created: &n.job.Created},
	} {
		c := ctrs[name]
		switch {
		case c == nil:
			t.Errorf("no container %s in %v", name, ctrs)
		case c.ID != want.ID || c.Image != want.Image || !slices.Equal(c.Command, want.Command) || c.Engine != want.Engine:
			t.Errorf("%s: %+v, want %+v", name, c, want)
		case c.Created == nil || !c.Created.Equal(*want.Created):
			t.Errorf("%s: created %v, want %v", name, c.Created, want.Created)
		}
	}
	if !hasProblem(res.Problems, integrity.Degraded, "container shop/nginx/job: its command is unknown: CRI-O keeps it in its "+
		"userdata/config.json alone, which is not there") {
		t.Errorf("no note that job's command is unknown: %v", res.Problems)
	}
	if hasProblem(res.Problems, integrity.Degraded, "container shop/nginx/web") || hasProblem(res.Problems, integrity.Degraded, "podman") {
		t.Errorf("notes: %v", res.Problems)
	}
	var inRW bool
	for _, f := range res.Findings {
		if f.Image == "container:shop/nginx/web" && f.Path == lib && f.Writable && strings.HasPrefix(f.Rule, "xz-backdoor") {
			inRW = true
		} else {
			t.Errorf("finding %+v", f)
		}
	}
	if !inRW {
		t.Error("the backdoor in web's writable layer is not found")
	}
	res.Close()
	if engines.Listing(t, ev) != before {
		t.Error("the store changed while it was read")
	}
}

// volatile-containers.json is written without fsync: a host that lost
// power may leave it empty, and a note then says its containers are
// unknown. A container recorded in containers.json too is read once, as
// containers/storage reads it.
func TestCRIOStoreVolatile(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		ev := t.TempDir()
		crioStore(t, filepath.Join(ev, "var", "lib", "containers", "storage"))
		name := filepath.Join(ev, "var", "lib", "containers", "storage", "overlay-containers", "volatile-containers.json")
		if err := os.WriteFile(name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		res := scanStore(t, ev)
		if !hasProblem(res.Problems, integrity.Degraded, "volatile-containers.json is empty") {
			t.Errorf("no note of the empty file: %v", res.Problems)
		}
		for _, ir := range res.Images {
			if ir.Image.Container != nil {
				t.Errorf("container %s", ir.Image.Ref())
			}
		}
	})
	t.Run("in both files", func(t *testing.T) {
		ev := t.TempDir()
		graph := filepath.Join(ev, "var", "lib", "containers", "storage")
		crioStore(t, graph)
		data, err := os.ReadFile(filepath.Join(graph, "overlay-containers", "volatile-containers.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(graph, "overlay-containers", "containers.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		res := scanStore(t, ev)
		var refs []string
		for _, ir := range res.Images {
			refs = append(refs, ir.Image.Ref())
		}
		if len(refs) != 5 || !slices.Contains(refs, "container:shop/nginx/web") {
			t.Errorf("images %q", refs)
		}
	})
}

// A record without its creation time (containers/storage before it kept
// one): CRI-O's metadata says it, in seconds.
func TestCRIOStoreCreatedAt(t *testing.T) {
	ev := t.TempDir()
	graph := filepath.Join(ev, "var", "lib", "containers", "storage")
	n := crioStore(t, graph)
	name := filepath.Join(graph, "overlay-containers", "volatile-containers.json")
	var recs []map[string]any
	data, _ := os.ReadFile(name)
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		delete(r, "created")
	}
	data, _ = json.Marshal(recs)
	os.WriteFile(name, data, 0o600)
	res := scanStore(t, ev)
	var all []*image.Image
	for _, ir := range res.Images {
		all = append(all, ir.Image)
	}
	if c := containersOf(all)["shop/nginx/web"]; c == nil || c.Created == nil || !c.Created.Equal(n.web.Created) {
		t.Errorf("web: %+v", c)
	}
}

// CRI-O's own configuration may move its storage: [crio] root of
// /etc/crio/crio.conf, overridden by a drop-in of crio.conf.d. The
// evidence's files say where it is, and are part of what was read; a
// graph root found besides (podman's, at the default) is named in a note.
func TestCRIOStoreRoot(t *testing.T) {
	ev := t.TempDir()
	for name, data := range map[string]string{
		"etc/crio/crio.conf":                "[crio]\n# root = \"/var/lib/containers/storage\"\nroot = \"/var/lib/crio\"\n\n[crio.image]\npause_image = \"registry.k8s.io/pause:3.10\"\n",
		"etc/crio/crio.conf.d/10-disk.conf": "[crio]\nroot = \"/srv/crio/storage\"\nrunroot = \"/run/crio/storage\"\n",
	} {
		p := filepath.Join(ev, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	crioStore(t, filepath.Join(ev, "srv", "crio", "storage"))
	before := engines.Listing(t, ev)
	res := scanStore(t, ev)
	if res.Input.Format != "containers-storage" || !res.Integrity().OK {
		t.Errorf("format %q, integrity %v", res.Input.Format, res.Integrity().Problems)
	}
	found := false
	for _, f := range res.Findings {
		found = found || f.Image == "container:shop/nginx/web" && f.Path == lib && f.Writable
	}
	if !found {
		t.Errorf("the backdoor in web's writable layer is not found: %v", res.Findings)
	}
	if hasProblem(res.Problems, integrity.Degraded, "graph root") {
		t.Errorf("notes: %v", res.Problems)
	}
	s, err := cstorage.Open(context.Background(), ev)
	if err != nil || s == nil {
		t.Fatalf("open: %v", err)
	}
	withConf := s.(*engine.Store).Custody.Files()
	s.Close()
	res.Close()
	if engines.Listing(t, ev) != before {
		t.Error("the store changed while it was read")
	}

	// Without its drop-in, crio.conf's root holds nothing: no store.
	os.Remove(filepath.Join(ev, "etc", "crio", "crio.conf.d", "10-disk.conf"))
	if cstorage.Is(ev) {
		t.Error("a store found where CRI-O's configuration puts none")
	}
	os.WriteFile(filepath.Join(ev, "etc", "crio", "crio.conf.d", "10-disk.conf"), []byte("[crio]\nroot = \"/srv/crio/storage\"\n"), 0o644)

	// podman's store at the default as well: CRI-O's is read, and a note
	// names podman's.
	crioStore(t, filepath.Join(ev, "var", "lib", "containers", "storage"))
	s, err = cstorage.Open(context.Background(), ev)
	if err != nil || s == nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	es := s.(*engine.Store)
	if !hasProblem(es.Problems(), integrity.Degraded, "another containers/storage graph root (the default) is not read with srv/crio/storage") {
		t.Errorf("no note of the other graph root: %v", es.Problems())
	}
	if es.Custody.Files() != withConf {
		t.Errorf("%d files read, %d before", es.Custody.Files(), withConf)
	}
}
