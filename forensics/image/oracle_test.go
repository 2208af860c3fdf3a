package image

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/internal/testkit/oracle"
)

// The oracle tests compare Load with go-containerregistry, an independent
// reader of the same formats, on the same generated inputs.

// ggcrImages collects every image below idx by manifest digest.
func ggcrImages(t *testing.T, idx v1.ImageIndex, out map[string]v1.Image) {
	t.Helper()
	imgs, err := oracle.Images(idx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range imgs {
		out[o.Desc.Digest.String()] = o.Image
	}
}

func ggcrLayers(t *testing.T, img v1.Image) (digests, diffIDs []digest.Digest) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		id, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digest.Digest(d.String()))
		diffIDs = append(diffIDs, digest.Digest(id.String()))
	}
	return digests, diffIDs
}

func TestOracleOCILayout(t *testing.T) {
	f := newFixture(t)
	amd := appSpec(t, "amd")
	arm := appSpec(t, "arm")
	arm.arch, arm.variant = "arm64", "v8"
	nested := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(
		onPlatform(f.image(amd), "linux", "amd64", ""),
		onPlatform(f.image(arm), "linux", "arm64", "v8")))
	f.layout(named(nested, annotationRefName, "multi"), named(f.image(appSpec(t, "single")), annotationRefName, "single"))
	dir := f.writeDir()

	ours, problems, err := load(t, dir, Options{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("Load: %v %v", err, problems)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[string]v1.Image{}
	ggcrImages(t, idx, theirs)
	if len(theirs) != len(ours) || len(ours) != 3 {
		t.Fatalf("go-containerregistry finds %d images, Load %d", len(theirs), len(ours))
	}
	for _, img := range ours {
		t.Run(img.Ref()+"@"+img.Platform, func(t *testing.T) {
			g, ok := theirs[img.ManifestDigest.String()]
			if !ok {
				t.Fatalf("manifest %s unknown to go-containerregistry", img.ManifestDigest)
			}
			md, err := g.Digest()
			if err != nil || md.String() != img.ManifestDigest.String() {
				t.Errorf("manifest digest %v (%v), ours %s", md, err, img.ManifestDigest)
			}
			cfg, err := g.ConfigName()
			if err != nil || cfg.String() != img.ConfigDigest.String() {
				t.Errorf("config digest %v (%v), ours %s", cfg, err, img.ConfigDigest)
			}
			digests, diffIDs := ggcrLayers(t, g)
			if len(digests) != len(img.Layers) {
				t.Fatalf("%d layers, ours %d", len(digests), len(img.Layers))
			}
			for i, l := range img.Layers {
				if l.Digest != digests[i] || l.DiffID != diffIDs[i] {
					t.Errorf("layer %d: digest %s diff_id %s, ours %s %s", i, digests[i], diffIDs[i], l.Digest, l.DiffID)
				}
			}
		})
	}
}

func TestOracleDockerArchive(t *testing.T) {
	tests := []struct {
		name  string
		tag   string
		input func(t *testing.T) string
	}{
		{"legacy", "app:v2", func(t *testing.T) string {
			f := newFixture(t)
			f.dockerSave([]legacyImage{
				{tags: []string{"app:v1"}, spec: appSpec(t, "v1"), ids: []string{v1ID(1), v1ID(2)}},
				{tags: []string{"app:v2"}, spec: appSpec(t, "v2"), ids: []string{v1ID(3), v1ID(4)}, linkTo: []string{v1ID(1), ""}},
			}, true)
			return f.writeTar("")
		}},
		{"docker25", "app:v1", func(t *testing.T) string {
			f := newFixture(t)
			f.docker25("app", "v1", appSpec(t, "v1"))
			return f.writeTar("")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.input(t)
			ours, problems, err := load(t, p, Options{})
			if err != nil || len(problems) > 0 {
				t.Fatalf("Load: %v %v", err, problems)
			}
			sel, err := Filter(ours, []string{tc.tag}, "")
			if err != nil || len(sel) != 1 {
				t.Fatalf("Filter %s: %v", tc.tag, err)
			}
			img := sel[0]
			tag, err := name.NewTag(tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			g, err := tarball.ImageFromPath(p, &tag)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := g.ConfigName()
			if err != nil || cfg.String() != img.ConfigDigest.String() {
				t.Errorf("config digest %v (%v), ours %s", cfg, err, img.ConfigDigest)
			}
			// go-containerregistry recompresses uncompressed layers, so
			// only diff_ids compare.
			_, diffIDs := ggcrLayers(t, g)
			if len(diffIDs) != len(img.Layers) {
				t.Fatalf("%d layers, ours %d", len(diffIDs), len(img.Layers))
			}
			for i, l := range img.Layers {
				if l.DiffID != diffIDs[i] {
					t.Errorf("layer %d: diff_id %s, ours %s", i, diffIDs[i], l.DiffID)
				}
			}
		})
	}
}
