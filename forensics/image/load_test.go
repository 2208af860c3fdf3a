package image

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

// render is the golden form of a Load: images with their layers' member
// names, which Image's JSON leaves out, and problems.
func render(t *testing.T, imgs []*Image, problems []integrity.Problem) []byte {
	type view struct {
		*Image
		Blobs []string `json:"blobs"`
	}
	out := struct {
		Images   []view              `json:"images"`
		Problems []integrity.Problem `json:"problems"`
	}{Images: []view{}, Problems: problems}
	for _, img := range imgs {
		v := view{Image: img, Blobs: []string{}}
		for _, l := range img.Layers {
			v.Blobs = append(v.Blobs, l.Blob)
		}
		out.Images = append(out.Images, v)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func load(t *testing.T, p string, opts Options) ([]*Image, []integrity.Problem, error) {
	t.Helper()
	a, err := archive.Open(context.Background(), p, archive.Options{})
	if err != nil {
		t.Fatalf("archive.Open: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return Load(context.Background(), a, opts)
}

func kinds(problems []integrity.Problem) []integrity.Kind {
	var out []integrity.Kind
	for _, p := range problems {
		out = append(out, p.Kind)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedKinds(ks ...integrity.Kind) []integrity.Kind {
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

func names(imgs []*Image) [][]string {
	var out [][]string
	for _, img := range imgs {
		out = append(out, img.Names)
	}
	return out
}

const (
	amd64 = "linux/amd64"
	arm64 = "linux/arm64/v8"
)

func TestLoad(t *testing.T) {
	ociImage := func(t *testing.T) *fixture {
		f := newFixture(t)
		f.layout(named(f.image(appSpec(t, "v1")), annotationRefName, "latest"))
		return f
	}
	// nested is what buildah writes: index.json points to an index of
	// platform manifests.
	nested := func(t *testing.T, idxAnnotations map[string]string) (*fixture, ocispec.Descriptor) {
		f := newFixture(t)
		amd := appSpec(t, "amd")
		arm := appSpec(t, "arm")
		arm.arch, arm.variant = "arm64", "v8"
		armv7 := appSpec(t, "armv7")
		armv7.arch, armv7.variant = "arm", "v7"
		idx := f.index(
			onPlatform(f.image(amd), "linux", "amd64", ""),
			onPlatform(f.image(arm), "linux", "arm64", "v8"),
			f.image(armv7), // platform from its config only
		)
		idx.Annotations = idxAnnotations
		id := f.blobJSON(ocispec.MediaTypeImageIndex, idx)
		f.layout(named(id, annotationRefName, "v1", annotationImageName, "registry.example/app:v1"))
		return f, id
	}

	tests := []struct {
		name      string
		input     func(t *testing.T) string
		opts      Options
		wantErr   bool
		wantKinds []integrity.Kind
		check     func(t *testing.T, imgs []*Image)
	}{
		{
			name:  "oci-folder",
			input: func(t *testing.T) string { return ociImage(t).writeDir() },
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 {
					t.Fatalf("%d images", len(imgs))
				}
				img := imgs[0]
				if !slices.Equal(img.Names, []string{"latest"}) || img.Platform != amd64 {
					t.Errorf("names %v platform %q", img.Names, img.Platform)
				}
				if len(img.Layers) != 2 || img.Layers[0].DiffID != digest.FromBytes(baseLayer(t)) ||
					img.Layers[0].CreatedBy != "ADD rootfs /" || img.Layers[1].CreatedBy != "COPY app /app" {
					t.Errorf("layers %+v %+v", img.Layers[0], img.Layers[1])
				}
				if !slices.Equal(img.Entrypoint, []string{"/app/run"}) || !slices.Equal(img.Cmd, []string{"--v1"}) || img.Created == nil || !img.Created.Equal(epoch) {
					t.Errorf("entrypoint %v cmd %v created %v", img.Entrypoint, img.Cmd, img.Created)
				}
				for _, l := range img.Layers {
					if l.Blob != "blobs/sha256/"+l.Digest.Encoded() || l.Absent || l.MediaType != ocispec.MediaTypeImageLayerGzip {
						t.Errorf("layer %d: %+v", l.Index, l)
					}
				}
			},
		},
		{name: "oci-archive", input: func(t *testing.T) string { return ociImage(t).writeTar("") }},
		{name: "oci-archive-gzip", input: func(t *testing.T) string { return ociImage(t).writeTar("gzip") }},
		{name: "oci-archive-xz", input: func(t *testing.T) string { return ociImage(t).writeTar("xz") }},
		{name: "oci-archive-zstd", input: func(t *testing.T) string { return ociImage(t).writeTar("zstd") }},
		{
			name: "nested-multiplatform",
			input: func(t *testing.T) string {
				f, _ := nested(t, nil)
				return f.writeTar("")
			},
			check: func(t *testing.T, imgs []*Image) {
				var plats []string
				for _, img := range imgs {
					plats = append(plats, img.Platform)
					if !slices.Equal(img.Names, []string{"registry.example/app:v1", "v1"}) || len(img.IndexDigests) != 1 {
						t.Errorf("%s: names %v indexes %v", img.Platform, img.Names, img.IndexDigests)
					}
				}
				// Same names: ordered by manifest digest, so compare as sets.
				sort.Strings(plats)
				if want := []string{amd64, "linux/arm/v7", arm64}; !slices.Equal(plats, want) {
					t.Errorf("platforms %v, want %v", plats, want)
				}
			},
		},
		{
			name: "two-tags-one-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.image(appSpec(t, "v1"))
				f.layout(named(md, annotationRefName, "latest"), named(md, annotationRefName, "v1", annotationImageName, "docker.io/library/app:v1"))
				return f.writeTar("")
			},
			check: func(t *testing.T, imgs []*Image) {
				if want := [][]string{{"docker.io/library/app:v1", "latest", "v1"}}; !slices.EqualFunc(names(imgs), want, slices.Equal) {
					t.Errorf("names %v, want %v", names(imgs), want)
				}
			},
		},
		{
			name: "attestation-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := onPlatform(f.image(appSpec(t, "v1")), "linux", "amd64", "")
				att := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
					Config: f.blob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`)),
					Layers: []ocispec.Descriptor{f.blob("application/vnd.in-toto+json", []byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`))}}
				att.SchemaVersion = 2
				ad := named(onPlatform(f.blobJSON(att.MediaType, att), "unknown", "unknown", ""), annotationRefType, annotationRefTypeAtt, "vnd.docker.reference.digest", md.Digest.String())
				f.layout(named(f.blobJSON(ocispec.MediaTypeImageIndex, f.index(md, ad)), annotationRefName, "latest"))
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.NotUnpacked},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || imgs[0].Platform != amd64 {
					t.Fatalf("want one linux/amd64 image, got %d", len(imgs))
				}
				if a := imgs[0].Attachments; len(a) != 1 || a[0].Kind != "attestation" || !a[0].Carried {
					t.Errorf("attachments %+v, want one carried attestation", a)
				}
			},
		},
		{
			name: "docker25",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.docker25("app", "v1", appSpec(t, "v1"))
				return f.writeTar("")
			},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || !slices.Equal(imgs[0].Names, []string{"app:v1", "docker.io/library/app:v1", "v1"}) || imgs[0].ManifestDigest == "" {
					t.Fatalf("images %v", names(imgs))
				}
				if l := imgs[0].Layers[0]; l.MediaType != ocispec.MediaTypeImageLayer || l.Digest != l.DiffID {
					t.Errorf("uncompressed layer: %+v", l)
				}
			},
		},
		{
			name: "docker25-index-broken",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.docker25("app", "v1", appSpec(t, "v1"))
				f.add("index.json", f.get("index.json")[:40])
				return f.writeTar("")
			},
			wantKinds: sortedKinds(integrity.BadJSON, integrity.Unreferenced),
			check: func(t *testing.T, imgs []*Image) {
				// From manifest.json alone: no manifest digest, the
				// manifest blob is extra, layers named by their blobs.
				if len(imgs) != 1 || imgs[0].ManifestDigest != "" || imgs[0].ConfigDigest == "" || imgs[0].Layers[1].Digest == "" {
					t.Fatalf("images %+v", imgs)
				}
			},
		},
		{
			name: "legacy-docker-save",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.dockerSave([]legacyImage{
					{tags: []string{"app:v1", "registry.example:5000/app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}},
					// The shared base layer is stored once: the second
					// image's layer folder links to the first's.
					{tags: []string{"app:v2"}, spec: appSpec(t, "v2"), ids: []string{v1ID(3), v1ID(4)}, linkTo: []string{v1ID(1), ""}},
				}, true)
				return f.writeTar("")
			},
			check: func(t *testing.T, imgs []*Image) {
				if want := [][]string{{"app:v1", "registry.example:5000/app:v1"}, {"app:v2"}}; !slices.EqualFunc(names(imgs), want, slices.Equal) {
					t.Fatalf("names %v, want %v", names(imgs), want)
				}
				base := digest.FromBytes(baseLayer(t))
				for _, img := range imgs {
					if img.ManifestDigest != "" || img.Platform != amd64 || len(img.Layers) != 2 {
						t.Errorf("%s: %+v", img.Ref(), img)
					}
					if l := img.Layers[0]; l.DiffID != base || l.Digest != "" || l.Blob == "" || l.Size != int64(len(baseLayer(t))) || l.CreatedBy != "ADD rootfs /" {
						t.Errorf("%s layer 0: %+v", img.Ref(), l)
					}
				}
				if imgs[1].Layers[0].Blob != v1ID(3)+"/layer.tar" {
					t.Errorf("aliased layer blob %q", imgs[1].Layers[0].Blob)
				}
			},
		},
		{
			name: "legacy-repositories-only",
			input: func(t *testing.T) string {
				f := newFixture(t)
				spec := appSpec(t, "v1")
				spec.history = nil // CreatedBy from the v1 <id>/json
				f.dockerSave([]legacyImage{{tags: []string{"app:v1"}, spec: spec, ids: []string{v1ID(1), v1ID(2)}}}, true)
				f.add("manifest.json", []byte(strings.Replace(string(f.get("manifest.json")), `"RepoTags":["app:v1"]`, `"RepoTags":null`, 1)))
				return f.writeTar("gzip")
			},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || !slices.Equal(imgs[0].Names, []string{"app:v1"}) {
					t.Fatalf("names %v", names(imgs))
				}
				if got := imgs[0].Layers[1].CreatedBy; got != "/bin/sh -c #(nop) layer 2222" {
					t.Errorf("created_by %q", got)
				}
			},
		},

		// Corruption: each gives its problem and Load goes on.
		{
			name: "flip-index",
			input: func(t *testing.T) string {
				f, id := nested(t, map[string]string{"org.example.note": "note:index"})
				f.flip("blobs/sha256/"+id.Digest.Encoded(), `"org.example.note":"`)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.DigestMismatch},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 3 {
					t.Errorf("%d images, want the 3 still readable", len(imgs))
				}
			},
		},
		{
			name: "flip-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.image(appSpec(t, "v1"))
				f.layout(named(md, annotationRefName, "latest"))
				f.flip("blobs/sha256/"+md.Digest.Encoded(), `"org.example.note":"`)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.DigestMismatch},
		},
		{
			name: "flip-config",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.layout(f.image(appSpec(t, "v1")))
				cfg := digest.FromBytes(mustJSON(t, appSpec(t, "v1").config()))
				f.flip("blobs/sha256/"+cfg.Encoded(), `"author":"`)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.DigestMismatch},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || len(imgs[0].Layers) != 2 || imgs[0].Layers[1].DiffID == "" {
					t.Errorf("image not described from its tampered config: %+v", imgs)
				}
			},
		},
		{
			name: "missing-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.image(appSpec(t, "v1"))
				f.layout(md, f.image(appSpec(t, "v2")))
				f.remove("blobs/sha256/" + md.Digest.Encoded())
				return f.writeTar("")
			},
			// The v1 config and top layer are now referred to by nothing.
			wantKinds: sortedKinds(integrity.MissingBlob, integrity.Unreferenced, integrity.Unreferenced),
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || imgs[0].Cmd[0] != "--v2" {
					t.Errorf("want the v2 image only, got %d", len(imgs))
				}
			},
		},
		{
			name: "missing-config",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.layout(f.image(appSpec(t, "v1")))
				f.remove("blobs/sha256/" + digest.FromBytes(mustJSON(t, appSpec(t, "v1").config())).Encoded())
				return f.writeDir()
			},
			wantKinds: []integrity.Kind{integrity.MissingBlob},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 || imgs[0].ConfigDigest == "" || len(imgs[0].Layers) != 2 || imgs[0].Layers[0].DiffID != "" {
					t.Errorf("images %+v", imgs)
				}
			},
		},
		{
			name: "truncated-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.image(appSpec(t, "v1"))
				f.layout(md)
				name := "blobs/sha256/" + md.Digest.Encoded()
				f.add(name, f.get(name)[:md.Size/2])
				return f.writeTar("")
			},
			wantKinds: sortedKinds(integrity.SizeMismatch, integrity.DigestMismatch, integrity.BadJSON,
				integrity.Unreferenced, integrity.Unreferenced, integrity.Unreferenced),
		},
		{
			name: "truncated-config-addressed",
			input: func(t *testing.T) string {
				// Broken JSON stored under its own digest: only BadJSON.
				f := newFixture(t)
				bad := f.blob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"li`))
				f.layout(f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) { m.Config = bad }))
				f.remove("blobs/sha256/" + digest.FromBytes(mustJSON(t, appSpec(t, "v1").config())).Encoded())
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.BadJSON},
		},
		{
			name: "truncated-index-json",
			input: func(t *testing.T) string {
				f := ociImage(t)
				f.add("index.json", f.get("index.json")[:30])
				return f.writeTar("")
			},
			wantErr: true,
		},
		{
			name: "truncated-manifest-json",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.dockerSave([]legacyImage{{tags: []string{"app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}}}, false)
				f.add("manifest.json", f.get("manifest.json")[:20])
				return f.writeTar("")
			},
			wantErr: true,
		},
		{
			name: "self-referencing-index",
			input: func(t *testing.T) string {
				// No content can hold its own digest, so the index is
				// stored under a digest it does not hash to.
				f := newFixture(t)
				self := digest.FromString("self")
				idx := f.index(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: self, Size: 0}, f.image(appSpec(t, "v1")))
				b := mustJSON(t, idx)
				// Size the self descriptor right so only the digest is off.
				for range 3 {
					idx.Manifests[0].Size = int64(len(b))
					b = mustJSON(t, idx)
				}
				f.add("blobs/sha256/"+self.Encoded(), b)
				f.layout(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: self, Size: int64(len(b))})
				return f.writeTar("")
			},
			wantKinds: sortedKinds(integrity.DigestMismatch, integrity.Limit),
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 {
					t.Errorf("%d images, want the one beside the cycle", len(imgs))
				}
			},
		},
		{
			name: "depth-limit",
			opts: Options{MaxIndexDepth: 2},
			input: func(t *testing.T) string {
				f := newFixture(t)
				inner := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(f.image(appSpec(t, "v1"))))
				outer := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(inner))
				f.layout(outer)
				return f.writeTar("")
			},
			// The inner index is not followed: its manifest, config and
			// layers are reached from nothing.
			wantKinds: sortedKinds(integrity.Limit, integrity.Unreferenced, integrity.Unreferenced, integrity.Unreferenced, integrity.Unreferenced),
		},
		{
			name: "descriptor-says-manifest-content-is-index",
			input: func(t *testing.T) string {
				f := newFixture(t)
				id := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(f.image(appSpec(t, "v1"))))
				id.MediaType = ocispec.MediaTypeImageManifest
				f.layout(id)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.MediaType},
			check: func(t *testing.T, imgs []*Image) {
				if len(imgs) != 1 {
					t.Errorf("%d images, want 1 (content followed)", len(imgs))
				}
			},
		},
		{
			name: "manifest-content-says-index",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) { m.MediaType = ocispec.MediaTypeImageIndex })
				md.MediaType = ocispec.MediaTypeImageManifest
				f.layout(md)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.MediaType},
		},
		{
			name: "unknown-index-entry",
			input: func(t *testing.T) string {
				f := ociImage(t)
				var idx ocispec.Index
				json.Unmarshal(f.get("index.json"), &idx)
				idx.Manifests = append(idx.Manifests, f.blob("application/x-strata-unknown", []byte("?")))
				f.json("index.json", idx)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.NotUnpacked},
		},
		{
			name: "bad-layer-digest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.layout(f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) { m.Layers[1].Digest = "sha256:../../../etc/passwd" }))
				return f.writeTar("")
			},
			wantKinds: sortedKinds(integrity.BadDigest, integrity.Unreferenced),
			check: func(t *testing.T, imgs []*Image) {
				if l := imgs[0].Layers[1]; !l.Absent || l.Blob != "" {
					t.Errorf("bad-digest layer: %+v", l)
				}
			},
		},
		{
			name: "foreign-and-missing-layers",
			input: func(t *testing.T) string {
				f := newFixture(t)
				spec := appSpec(t, "v1")
				f.layout(f.imageWith(spec, nil, func(m *ocispec.Manifest) {
					m.Layers[0].MediaType = mtOCINonDistGzip
					m.Layers[0].URLs = []string{"https://example.invalid/base"}
				}))
				for _, l := range spec.layers {
					f.remove("blobs/sha256/" + digest.FromBytes(gzipBytes(t, l)).Encoded())
				}
				return f.writeTar("")
			},
			wantKinds: sortedKinds(integrity.Absent, integrity.MissingBlob),
			check: func(t *testing.T, imgs []*Image) {
				l0, l1 := imgs[0].Layers[0], imgs[0].Layers[1]
				if !l0.Foreign || !l0.Absent || l1.Foreign || !l1.Absent {
					t.Errorf("layers %+v %+v", l0, l1)
				}
			},
		},
		{
			name: "diffid-count",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.layout(f.imageWith(appSpec(t, "v1"), func(c map[string]any) {
					c["rootfs"] = map[string]any{"type": "layers", "diff_ids": []string{digest.FromBytes(baseLayer(t)).String()}}
				}, nil))
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.DiffIDMismatch},
		},
		{
			name: "extra-blob",
			input: func(t *testing.T) string {
				f := ociImage(t)
				f.blob("application/octet-stream", []byte("hidden payload"))
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.Unreferenced},
		},
		{
			name: "legacy-config-renamed",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.dockerSave([]legacyImage{{tags: []string{"app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}}}, false)
				good := digest.FromBytes(mustJSON(t, appSpec(t, "v1").config())).Encoded() + ".json"
				f.flip(good, `"author":"`)
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.DigestMismatch},
		},
		{
			name: "legacy-foreign-layer",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.dockerSave([]legacyImage{{tags: []string{"app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}}}, false)
				var entries []map[string]any
				if err := json.Unmarshal(f.get("manifest.json"), &entries); err != nil {
					t.Fatal(err)
				}
				src := ocispec.Descriptor{MediaType: mtDockerForeign, Digest: digest.FromString("remote base"), Size: 1234, URLs: []string{"https://example.invalid/base"}}
				entries[0]["LayerSources"] = map[string]ocispec.Descriptor{digest.FromBytes(baseLayer(t)).String(): src}
				f.json("manifest.json", entries)
				f.remove(v1ID(1) + "/layer.tar")
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.Absent},
			check: func(t *testing.T, imgs []*Image) {
				l := imgs[0].Layers[0]
				if !l.Foreign || !l.Absent || l.Digest != digest.FromString("remote base") || l.MediaType != mtDockerForeign || l.Size != 1234 {
					t.Errorf("foreign layer %+v", l)
				}
			},
		},
		{
			name: "legacy-missing-layer",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.dockerSave([]legacyImage{{tags: []string{"app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}}}, false)
				f.remove(v1ID(2) + "/layer.tar")
				return f.writeTar("")
			},
			wantKinds: []integrity.Kind{integrity.MissingBlob},
			check: func(t *testing.T, imgs []*Image) {
				if !imgs[0].Layers[1].Absent || imgs[0].Layers[0].Absent {
					t.Errorf("layers %+v", imgs[0].Layers)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imgs, problems, err := load(t, tc.input(t), tc.opts)
			if tc.wantErr {
				if !errors.Is(err, ErrNoImages) {
					t.Fatalf("err = %v, want ErrNoImages", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := kinds(problems); !slices.Equal(got, tc.wantKinds) {
				t.Errorf("problem kinds %v, want %v\n%v", got, tc.wantKinds, problems)
			}
			for _, img := range imgs {
				for i, l := range img.Layers {
					if l.Index != i {
						t.Errorf("%s: layer %d has index %d", img.Ref(), i, l.Index)
					}
				}
			}
			if tc.check != nil {
				tc.check(t, imgs)
			}
			golden.Assert(t, golden.Path(t), render(t, imgs, problems))
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadCancelled(t *testing.T) {
	f := newFixture(t)
	f.layout(f.image(appSpec(t, "v1")))
	a, err := archive.Open(context.Background(), f.writeTar(""), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Load(ctx, a, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestLoadMaxJSON(t *testing.T) {
	f := newFixture(t)
	f.layout(f.image(appSpec(t, "v1")))
	imgs, problems, err := load(t, f.writeTar(""), Options{MaxJSON: int64(len(f.get("index.json")))})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 0 || len(problems) == 0 || problems[0].Kind != integrity.Limit {
		t.Errorf("images %d problems %v, want a limit problem", len(imgs), problems)
	}
}
