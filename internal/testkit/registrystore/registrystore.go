// Package registrystore makes a registry's storage for tests with the
// registry's own code: distribution's storage package, over (a copy of)
// its filesystem driver and called in-process with no network listener,
// pushes images blob by blob, puts their manifests and tags them, as the
// registry's HTTP handlers do for a client. What it leaves on disk is what
// a mirror's /var/lib/registry holds, so strata's reader is tested against
// the real layout rather than against its own reading of paths.go.
//
// The storage package decides every path and every byte written (blob
// data, link files, upload folders); the driver under it only maps a path
// to a file. distribution's own filesystem driver is not imported: it
// wraps itself in driver/base, whose tracing pulls in OpenTelemetry's
// exporters, some hundred modules for a test helper. fsdriver.go is that
// driver's code without the wrapper.
package registrystore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TB is what the helpers need of a test: a testing.TB has it, and so can
// a script's command.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Image is one image to push: its manifest and the blobs it names.
type Image struct {
	MediaType string
	Manifest  []byte
	// Blobs are the config and layers, by digest.
	Blobs map[digest.Digest][]byte
	// Layers are the layers' digests, base first.
	Layers []digest.Digest
}

// Digest is the manifest's digest.
func (im *Image) Digest() digest.Digest { return digest.FromBytes(im.Manifest) }

// manifest is what Image needs of a manifest.
type manifest struct {
	MediaType string          `json:"mediaType"`
	Config    v1.Descriptor   `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
}

// FromLayout reads the image that the first entry of index.json names in
// the OCI image layout folder dir, its blobs byte for byte.
func FromLayout(t TB, dir string) *Image {
	t.Helper()
	read := func(p string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var idx v1.Index
	if err := json.Unmarshal(read("index.json"), &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("%s: index.json: %v", dir, err)
	}
	d := idx.Manifests[0].Digest
	raw := read("blobs/" + d.Algorithm().String() + "/" + d.Encoded())
	im := &Image{Manifest: raw, Blobs: map[digest.Digest][]byte{}}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	im.MediaType = m.MediaType
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		im.Blobs[b.Digest] = read("blobs/" + b.Digest.Algorithm().String() + "/" + b.Digest.Encoded())
	}
	for _, l := range m.Layers {
		im.Layers = append(im.Layers, l.Digest)
	}
	return im
}

// FromDockerArchive reads the image tag names in the docker save archive
// path with go-containerregistry, which gzips its layers as a client
// pushing it would.
func FromDockerArchive(t TB, path, tag string) *Image {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &ref)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	im := &Image{Blobs: map[digest.Digest][]byte{}}
	if im.Manifest, err = img.RawManifest(); err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	im.MediaType = string(mt)
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	im.Blobs[digest.FromBytes(cfg)] = cfg
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(b.Bytes())
		im.Blobs[d] = b.Bytes()
		im.Layers = append(im.Layers, d)
	}
	return im
}

// Registry is a registry's storage in a folder of its own.
type Registry struct {
	// Root is the driver's root directory, as a registry's
	// storage.filesystem.rootdirectory (/var/lib/registry): the layout is
	// below it, in docker/registry/v2.
	Root string

	ctx context.Context
	ns  distribution.Namespace
}

// New makes an empty registry storage in a new folder below dir.
func New(t TB, dir string) *Registry {
	t.Helper()
	root := filepath.Join(dir, "registry")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return Reopen(t, root)
}

// V2 is the folder of the layout itself.
func (r *Registry) V2() string { return filepath.Join(r.Root, "docker", "registry", "v2") }

func (r *Registry) repo(t TB, repo string) distribution.Repository {
	t.Helper()
	named, err := reference.WithName(repo)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := r.ns.Repository(r.ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// PushBlob uploads data into repo, as a client's POST, PATCH and PUT do.
func (r *Registry) PushBlob(t TB, repo string, data []byte) digest.Digest {
	t.Helper()
	bw, err := r.repo(t, repo).Blobs(r.ctx).Create(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bw.Write(data); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(data)
	if _, err := bw.Commit(r.ctx, v1.Descriptor{Digest: d, Size: int64(len(data)), MediaType: "application/octet-stream"}); err != nil {
		t.Fatal(err)
	}
	return d
}

// Push uploads im's blobs into repo, puts its manifest (which the
// registry checks against the blobs) and tags it with tags: none leaves
// it an untagged revision.
func (r *Registry) Push(t TB, repo string, im *Image, tags ...string) digest.Digest {
	t.Helper()
	for d, data := range im.Blobs {
		if got := r.PushBlob(t, repo, data); got != d {
			t.Fatalf("blob %s pushed as %s", d, got)
		}
	}
	m, _, err := distribution.UnmarshalManifest(im.MediaType, im.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.repo(t, repo).Manifests(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ms.Put(r.ctx, m)
	if err != nil {
		t.Fatalf("put manifest in %s: %v", repo, err)
	}
	if d != im.Digest() {
		t.Fatalf("manifest stored as %s, is %s", d, im.Digest())
	}
	for _, tag := range tags {
		r.Tag(t, repo, tag, d)
	}
	return d
}

// Tag points repo:tag at d, as a manifest PUT by tag does: the tag's
// index gains d and its current link is overwritten. The registry's tag
// store does not check that d is there.
func (r *Registry) Tag(t TB, repo, tag string, d digest.Digest) {
	t.Helper()
	if err := r.repo(t, repo).Tags(r.ctx).Tag(r.ctx, tag, v1.Descriptor{Digest: d}); err != nil {
		t.Fatal(err)
	}
}

// Interrupt starts an upload into repo, writes data and leaves it, as a
// client that went away mid-push does: the registry keeps its folder in
// _uploads until it is purged. It returns the upload's folder.
func (r *Registry) Interrupt(t TB, repo string, data []byte) string {
	t.Helper()
	bw, err := r.repo(t, repo).Blobs(r.ctx).Create(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(r.V2(), "repositories", filepath.FromSlash(repo), "_uploads", bw.ID())
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("upload left no data: %v", err)
	}
	return dir
}

// BlobFile is the file holding blob d's bytes.
func (r *Registry) BlobFile(d digest.Digest) string {
	return filepath.Join(r.V2(), "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

// String names the registry in test logs.
func (r *Registry) String() string { return fmt.Sprintf("registry storage %s", r.Root) }

// Reopen is the registry storage already in root (a copy of one New
// made), to push into or damage further through the registry's code.
func Reopen(t TB, root string) *Registry {
	t.Helper()
	ctx := context.Background()
	ns, err := storage.NewRegistry(ctx, &fsDriver{root: root}, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	return &Registry{Root: root, ctx: ctx, ns: ns}
}
