package image

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// partialIndex writes what containerd's exporter writes for a
// multi-platform image of which only linux/amd64 was pulled (docker save on
// Docker 29's containerd store): the whole index, the amd64 manifest with
// its config and layers and its attestation; the other platforms'
// manifests and attestation named but not carried; a sigstore bundle
// referrer of the amd64 attestation at the top of index.json.
func partialIndex(t *testing.T, f *fixture) (amd64, arm64 ocispec.Descriptor) {
	amd64 = onPlatform(f.image(appSpec(t, "v1")), "linux", "amd64", "")
	arm := newFixture(t)
	arm64 = onPlatform(arm.image(appSpec(t, "arm")), "linux", "arm64", "v8")
	armv7 := onPlatform(arm.image(appSpec(t, "armv7")), "linux", "arm", "v7")
	att := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: f.blob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`)),
		Layers: []ocispec.Descriptor{named(f.blob(mtInToto, []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2",`+
			`"predicate":{"builder":{"id":"https://github.com/docker/buildx"},"invocation":{"configSource":{"uri":"https://github.com/example/app.git#main"}}}}`)),
			annotationPredicateType, "https://slsa.dev/provenance/v0.2")}}
	att.SchemaVersion = 2
	ad := named(onPlatform(f.blobJSON(att.MediaType, att), "unknown", "unknown", ""), annotationRefType, annotationRefTypeAtt, annotationRefDigest, amd64.Digest.String())
	armAtt := named(onPlatform(arm.blobJSON(att.MediaType, att), "unknown", "unknown", ""), annotationRefType, annotationRefTypeAtt, annotationRefDigest, arm64.Digest.String())
	armAtt.Digest = digest.FromString("arm64 attestation") // never carried
	idx := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(amd64, arm64, armv7, ad, armAtt))
	empty := ocispec.DescriptorEmptyJSON
	sig := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		Config: empty, Layers: []ocispec.Descriptor{f.blob("application/vnd.dev.sigstore.bundle.v0.3+json", []byte(`{"bundle":1}`))},
		Subject: &ad}
	sig.SchemaVersion = 2
	sd := f.blobJSON(sig.MediaType, sig)
	sd.ArtifactType = sig.ArtifactType
	f.layout(named(idx, annotationImageName, "docker.io/library/app:v1", annotationRefName, "v1"),
		named(sd, annotationSubject, ad.Digest.String()))
	return amd64, arm64
}

// manifestJSON writes containerd's manifest.json entry for md.
func (f *fixture) manifestJSON(md ocispec.Descriptor, tag string) {
	var m ocispec.Manifest
	if err := json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m); err != nil {
		f.t.Fatal(err)
	}
	var layers []string
	for _, l := range m.Layers {
		layers = append(layers, "blobs/sha256/"+l.Digest.Encoded())
	}
	f.json("manifest.json", []map[string]any{{"Config": "blobs/sha256/" + m.Config.Digest.Encoded(), "RepoTags": []string{tag}, "Layers": layers}})
}

func TestAbsentByDesign(t *testing.T) {
	reasons := func(ps []integrity.Problem) []string {
		var out []string
		for _, p := range ps {
			if p.Kind == integrity.Absent {
				out = append(out, string(p.Reason)+" "+p.Platform)
			}
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name        string
		input       func(t *testing.T) string
		ok          bool     // the integrity verdict
		failing     []string // kinds of the failing records, sorted
		absent      []string // "reason platform" of absent records, sorted
		images      int
		check       func(t *testing.T, imgs []*Image, ps []integrity.Problem)
		wantDefects int
	}{
		{
			name:   "partial-multiplatform",
			input:  func(t *testing.T) string { f := newFixture(t); partialIndex(t, f); return f.writeTar("") },
			ok:     true,
			absent: []string{"attestation-not-carried ", "platform-not-carried linux/arm/v7", "platform-not-carried linux/arm64/v8"},
			images: 1,
			check: func(t *testing.T, imgs []*Image, ps []integrity.Problem) {
				img := imgs[0]
				if img.Platform != "linux/amd64" || !slices.Contains(img.Names, "docker.io/library/app:v1") {
					t.Errorf("image %s %v", img.Platform, img.Names)
				}
				var kinds []string
				for _, a := range img.Attachments {
					kinds = append(kinds, a.Kind)
				}
				slices.Sort(kinds)
				if !slices.Equal(kinds, []string{"attestation", "signature"}) {
					t.Errorf("attachments %v, want the attestation and the bundle signing it", kinds)
				}
				for _, a := range img.Attachments {
					if a.Kind == "attestation" && (a.Provenance == nil || a.Provenance.Builder != "https://github.com/docker/buildx" ||
						a.Provenance.Source != "https://github.com/example/app.git#main") {
						t.Errorf("provenance %+v", a.Provenance)
					}
				}
			},
		},
		{
			name: "partial-with-manifest-json",
			input: func(t *testing.T) string {
				f := newFixture(t)
				amd64, _ := partialIndex(t, f)
				f.manifestJSON(amd64, "app:v1")
				return f.writeTar("")
			},
			ok:     true,
			absent: []string{"attestation-not-carried ", "platform-not-carried linux/arm/v7", "platform-not-carried linux/arm64/v8"},
			images: 1,
			check: func(t *testing.T, imgs []*Image, _ []integrity.Problem) {
				if !slices.Contains(imgs[0].Names, "app:v1") {
					t.Errorf("names %v: manifest.json's tag not added", imgs[0].Names)
				}
			},
		},
		{
			// The exporter lists the host platform in manifest.json even
			// when skip-missing left its blobs out.
			name: "manifest-json-lists-absent-platform",
			input: func(t *testing.T) string {
				f := newFixture(t)
				partialIndex(t, f)
				arm := newFixture(t)
				arm64 := arm.image(appSpec(t, "arm"))
				for name, data := range map[string][]byte{"blobs/sha256/" + arm64.Digest.Encoded(): arm.get("blobs/sha256/" + arm64.Digest.Encoded())} {
					f.add(name, data)
				}
				f.manifestJSON(arm64, "app:v1")
				f.remove("blobs/sha256/" + arm64.Digest.Encoded())
				return f.writeTar("")
			},
			ok:     true,
			absent: []string{"attestation-not-carried ", "listed-not-carried ", "platform-not-carried linux/arm/v7", "platform-not-carried linux/arm64/v8"},
			images: 1,
		},
		{
			name: "referenced-only-manifest",
			input: func(t *testing.T) string {
				f := newFixture(t)
				_, arm64 := partialIndex(t, f)
				arm := newFixture(t)
				arm.image(appSpec(t, "arm"))
				f.add("blobs/sha256/"+arm64.Digest.Encoded(), arm.get("blobs/sha256/"+arm64.Digest.Encoded()))
				return f.writeTar("")
			},
			ok:     true,
			absent: []string{"attestation-not-carried ", "platform-not-carried linux/arm/v7", "referenced-only-manifest linux/arm64/v8"},
			images: 1,
		},
		{
			name: "carried-layer-removed",
			input: func(t *testing.T) string {
				f := newFixture(t)
				amd64, _ := partialIndex(t, f)
				var m ocispec.Manifest
				json.Unmarshal(f.get("blobs/sha256/"+amd64.Digest.Encoded()), &m)
				f.remove("blobs/sha256/" + m.Layers[1].Digest.Encoded())
				return f.writeTar("")
			},
			failing: []string{"missing-blob"},
			absent:  []string{"attestation-not-carried ", "platform-not-carried linux/arm/v7", "platform-not-carried linux/arm64/v8"},
			images:  1,
		},
		{
			// What skopeo copy --multi-arch index-only writes, and what
			// removing every platform would leave: nothing to tell them
			// apart, so no failure; the scan refuses the input as
			// carrying no image (scan's TestIndexOnly).
			name: "carries-no-platform",
			input: func(t *testing.T) string {
				f := newFixture(t)
				amd64, _ := partialIndex(t, f)
				var m ocispec.Manifest
				json.Unmarshal(f.get("blobs/sha256/"+amd64.Digest.Encoded()), &m)
				f.remove("blobs/sha256/" + amd64.Digest.Encoded())
				f.remove("blobs/sha256/" + m.Config.Digest.Encoded())
				for _, l := range m.Layers {
					f.remove("blobs/sha256/" + l.Digest.Encoded())
				}
				return f.writeTar("")
			},
			ok:     true,
			absent: []string{"attestation-not-carried ", "platform-not-carried linux/amd64", "platform-not-carried linux/arm/v7", "platform-not-carried linux/arm64/v8"},
		},
		{
			name: "docker-25.0.0-shuffled-layers",
			input: func(t *testing.T) string {
				f := newFixture(t)
				md := f.docker25("app", "v1", appSpec(t, "v1"))
				var m ocispec.Manifest
				json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m)
				slices.Reverse(m.Layers)
				nd := f.blobJSON(m.MediaType, m)
				f.remove("blobs/sha256/" + md.Digest.Encoded())
				f.layout(named(nd, annotationRefName, "v1"))
				return f.writeTar("")
			},
			ok:          true,
			images:      1,
			wantDefects: 1,
			check: func(t *testing.T, imgs []*Image, _ []integrity.Problem) {
				for i, l := range imgs[0].Layers {
					if l.Digest != l.DiffID || l.Index != i {
						t.Errorf("layer %d: digest %s diff_id %s index %d", i, l.Digest, l.DiffID, l.Index)
					}
				}
				if imgs[0].Layers[1].CreatedBy != "COPY app /app" {
					t.Errorf("layer 1 created by %q", imgs[0].Layers[1].CreatedBy)
				}
			},
		},
		{
			name: "docker-25.0.0-collapsed-layers",
			input: func(t *testing.T) string {
				f := newFixture(t)
				spec := appSpec(t, "v1")
				spec.layers = append(spec.layers, spec.layers[0])
				spec.history = append(spec.history, "ADD rootfs /")
				md := f.docker25("app", "v1", spec)
				var m ocispec.Manifest
				json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m)
				m.Layers = m.Layers[:2]
				nd := f.blobJSON(m.MediaType, m)
				f.remove("blobs/sha256/" + md.Digest.Encoded())
				f.layout(named(nd, annotationRefName, "v1"))
				return f.writeTar("")
			},
			ok:          true,
			images:      1,
			wantDefects: 1,
			check: func(t *testing.T, imgs []*Image, _ []integrity.Problem) {
				if n := len(imgs[0].Layers); n != 3 {
					t.Errorf("%d layers, want 3 as manifest.json lists", n)
				}
			},
		},
		{
			// A reordering that is not the config's diff_ids order is
			// no producer defect: nothing is repaired.
			name: "shuffled-against-diff-ids",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.docker25("app", "v1", appSpec(t, "v1"))
				var entries []map[string]any
				json.Unmarshal(f.get("manifest.json"), &entries)
				ls := entries[0]["Layers"].([]any)
				slices.Reverse(ls)
				f.json("manifest.json", entries)
				return f.writeTar("")
			},
			// Read as two images: the manifest's, and manifest.json's
			// entry as docker load would read it; the scan then finds
			// the entry's layers disagree with its diff_ids.
			ok:     true,
			images: 2,
		},
		{
			name: "docker-25.0.2-null-manifests",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.docker25("app", "v1", appSpec(t, "v1"))
				f.add("index.json", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}`))
				return f.writeTar("")
			},
			ok:     true,
			images: 1,
			check: func(t *testing.T, imgs []*Image, ps []integrity.Problem) {
				var contents []string
				for _, p := range ps {
					if p.Kind == integrity.Unreferenced {
						contents = append(contents, p.Content)
					}
				}
				if !slices.Equal(contents, []string{"manifest"}) {
					t.Errorf("unreferenced %v, want the manifest", contents)
				}
			},
		},
		{
			name: "non-tar-layer",
			input: func(t *testing.T) string {
				f := newFixture(t)
				f.layout(f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) {
					m.Layers[1] = f.blob("application/vnd.oci.image.layer.nydus.blob.v1", []byte("nydus bootstrap"))
				}))
				return f.writeTar("")
			},
			ok:     true,
			images: 1,
			check: func(t *testing.T, imgs []*Image, _ []integrity.Problem) {
				if l := imgs[0].Layers[1]; !l.Opaque || l.Blob != "" || l.Absent {
					t.Errorf("nydus layer %+v: want opaque, verified, not unpacked", l)
				}
			},
		},
		{
			name: "non-tar-layer-tampered",
			input: func(t *testing.T) string {
				f := newFixture(t)
				var d ocispec.Descriptor
				f.layout(f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) {
					d = f.blob("application/vnd.oci.image.layer.nydus.blob.v1", []byte("nydus bootstrap"))
					m.Layers[1] = d
				}))
				f.add("blobs/sha256/"+d.Digest.Encoded(), []byte("nydus bootstraq"))
				return f.writeTar("")
			},
			failing: []string{"digest-mismatch"},
			images:  1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imgs, problems, err := load(t, tc.input(t), Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			r := integrity.Verdict(problems)
			if tc.failing != nil || tc.ok {
				var failing []string
				for _, p := range r.Problems {
					failing = append(failing, string(p.Kind))
				}
				slices.Sort(failing)
				if tc.failing == nil {
					tc.failing = []string{}
				}
				if failing == nil {
					failing = []string{}
				}
				if !slices.Equal(failing, tc.failing) {
					t.Errorf("failing %v, want %v\n%v", failing, tc.failing, r.Problems)
				}
			}
			if r.OK != tc.ok {
				t.Errorf("OK = %v, want %v: %v", r.OK, tc.ok, problems)
			}
			if got := reasons(problems); !slices.Equal(got, tc.absent) {
				t.Errorf("absent %q, want %q", got, tc.absent)
			}
			if len(imgs) != tc.images {
				t.Errorf("%d images, want %d", len(imgs), tc.images)
			}
			defects := 0
			for _, p := range problems {
				if p.Kind == integrity.Defect {
					defects++
				}
			}
			if defects != tc.wantDefects {
				t.Errorf("%d producer defects noted, want %d", defects, tc.wantDefects)
			}
			if tc.check != nil && len(imgs) > 0 {
				tc.check(t, imgs, problems)
			}
		})
	}
}

// TestRefsUniqueInInput: two platforms both named only "latest" (oras'
// flat index, a ref.name per manifest) are told apart by manifest digest,
// so a finding of one is never counted against the other.
func TestRefsUniqueInInput(t *testing.T) {
	f := newFixture(t)
	amd := named(onPlatform(f.image(appSpec(t, "v1")), "linux", "amd64", ""), annotationRefName, "latest")
	arm := named(onPlatform(f.image(appSpec(t, "arm")), "linux", "arm64", ""), annotationRefName, "latest")
	f.layout(amd, arm)
	imgs, _, err := load(t, f.writeTar(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("%d images", len(imgs))
	}
	a, b := imgs[0].Ref(), imgs[1].Ref()
	if a == b || a != "latest@"+imgs[0].ManifestDigest.String() {
		t.Errorf("refs %q and %q", a, b)
	}
}

// TestListedConfigRemoved: manifest.json beside an index that lists no
// manifests (Docker 25.0.0-25.0.2 saved by ID) names two images; one's
// config is removed, its layers are still here. That is an image missing
// its config, not containerd's listed-not-carried (which leaves config and
// layers out together).
func TestListedConfigRemoved(t *testing.T) {
	f := newFixture(t)
	var entries []map[string]any
	var removed string
	for _, v := range []string{"v1", "v2"} {
		spec := appSpec(t, v)
		spec.uncompressed = true
		spec.layers[0] = layerTar(t, "etc/os-release", "ID="+v+"\n")
		md := f.image(spec)
		var m ocispec.Manifest
		if err := json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m); err != nil {
			t.Fatal(err)
		}
		var layers []string
		for _, l := range m.Layers {
			layers = append(layers, "blobs/sha256/"+l.Digest.Encoded())
		}
		entries = append(entries, map[string]any{"Config": "blobs/sha256/" + m.Config.Digest.Encoded(), "RepoTags": []string{"app:" + v}, "Layers": layers})
		removed = "blobs/sha256/" + m.Config.Digest.Encoded()
	}
	f.add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	f.add("index.json", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}`))
	f.json("manifest.json", entries)
	f.remove(removed)
	_, problems, err := load(t, f.writeTar(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := integrity.Verdict(problems); r.OK {
		t.Fatalf("a removed config reads as absent by design: %v", problems)
	}
}

// TestMarkedImagesStillImages: marks of an attachment (an artifactType, a
// subject, an index entry calling it an attestation) do not stop a
// manifest with an image config and filesystem layers from being read as
// an image: otherwise an image could hide its layers from every detector
// by wearing one.
func TestMarkedImagesStillImages(t *testing.T) {
	tests := map[string]func(f *fixture, t *testing.T) ocispec.Descriptor{
		"artifactType": func(f *fixture, t *testing.T) ocispec.Descriptor {
			return f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) { m.ArtifactType = ocispec.MediaTypeImageConfig })
		},
		"subject": func(f *fixture, t *testing.T) ocispec.Descriptor {
			base := f.image(appSpec(t, "base"))
			return f.imageWith(appSpec(t, "v1"), nil, func(m *ocispec.Manifest) { m.Subject = &base })
		},
		"attestation-annotation": func(f *fixture, t *testing.T) ocispec.Descriptor {
			return named(f.image(appSpec(t, "v1")), annotationRefType, annotationRefTypeAtt, annotationRefDigest, digest.FromString("x").String())
		},
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.layout(build(f, t))
			imgs, _, err := load(t, f.writeTar(""), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || len(imgs[0].Layers) != 2 || imgs[0].Layers[1].Blob == "" {
				t.Fatalf("%d images: a marked image was not read as one", len(imgs))
			}
		})
	}
}

// TestCosignSignature: cosign stores a signature as a manifest with an
// image config and a simplesigning layer, tagged sha256-<subject hex>.sig:
// an attachment of its subject, not an image.
func TestCosignSignature(t *testing.T) {
	f := newFixture(t)
	img := named(f.image(appSpec(t, "v1")), annotationRefName, "latest")
	sig := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: f.blob(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}`)),
		Layers: []ocispec.Descriptor{f.blob(mtCosignSimpleSigning, []byte(`{"critical":{}}`))}}
	sig.SchemaVersion = 2
	sd := named(f.blobJSON(sig.MediaType, sig), annotationRefName, "sha256-"+img.Digest.Encoded()+".sig")
	f.layout(img, sd)
	imgs, problems, err := load(t, f.writeTar(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("%d images, want the signed image alone", len(imgs))
	}
	if a := imgs[0].Attachments; len(a) != 1 || a[0].Kind != "signature" || !a[0].Carried {
		t.Errorf("attachments %+v, want one carried signature", a)
	}
	if !integrity.Verdict(problems).OK {
		t.Errorf("problems %v", problems)
	}
}
