package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
)

// fuzzSeeds are uncompressed archives of both formats, sound and broken.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(f *fixture) { seeds = append(seeds, tarBytes(tb, f.members)) }

	f := newFixture(tb)
	f.layout(named(f.image(appSpec(tb, "v1")), annotationRefName, "latest"))
	add(f)

	f = newFixture(tb)
	arm := appSpec(tb, "arm")
	arm.arch, arm.variant = "arm64", "v8"
	idx := f.blobJSON("application/vnd.oci.image.index.v1+json", f.index(onPlatform(f.image(appSpec(tb, "amd")), "linux", "amd64", ""), onPlatform(f.image(arm), "linux", "arm64", "v8")))
	f.layout(named(idx, annotationRefName, "v1"))
	add(f)

	f = newFixture(tb)
	f.docker25("app", "v1", appSpec(tb, "v1"))
	add(f)

	f = newFixture(tb)
	f.dockerSave([]legacyImage{
		{tags: []string{"app:v1"}, spec: appSpec(tb, "v1"), ids: []string{v1ID(1), v1ID(2)}},
		{tags: []string{"app:v2"}, spec: appSpec(tb, "v2"), ids: []string{v1ID(3), v1ID(4)}, linkTo: []string{v1ID(1), ""}},
	}, true)
	add(f)
	return seeds
}

func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "input.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		a, err := archive.Open(ctx, p, archive.Options{MaxMembers: 1000})
		if err != nil {
			return
		}
		defer a.Close()
		imgs, problems, err := Load(ctx, a, Options{MaxJSON: 1 << 20, MaxIndexDepth: 4})
		for _, pr := range problems {
			if pr.Kind == "" || pr.Blob == "" || pr.Detail == "" {
				t.Fatalf("incomplete problem %+v", pr)
			}
		}
		if err != nil {
			if imgs != nil {
				t.Fatalf("error %v with %d images", err, len(imgs))
			}
			return
		}
		for _, img := range imgs {
			for i, l := range img.Layers {
				if l.Index != i {
					t.Fatalf("%s: layer %d has index %d", img.Ref(), i, l.Index)
				}
				if l.Blob != "" && l.Absent {
					t.Fatalf("%s: layer %d both present (%s) and absent", img.Ref(), i, l.Blob)
				}
			}
		}
		// Filter must not fail on anything Load returns.
		if len(imgs) > 0 {
			if _, err := Filter(imgs, nil, ""); err != nil {
				t.Fatalf("Filter everything: %v", err)
			}
		}
	})
}
