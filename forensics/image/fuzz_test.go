package image

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/corpus"
)

// fuzzSeeds are the samples as uncompressed archives, then every committed
// input, sound and hostile: files as they are, OCI layout folders as tars.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, s := range samples(tb) {
		seeds = append(seeds, tarBytes(tb, s.f.members))
	}
	return append(seeds, corpus.Inputs(tb)...)
}

// FuzzLoad loads whatever archive.Open accepts, from the archive and from
// its members copied into memory.
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
		opts := Options{MaxJSON: 1 << 20, MaxIndexDepth: 4}
		checkLoad(t, "archive")(Load(ctx, a, opts))
		mem := mapSource{}
		for _, m := range a.Members() {
			if m.Size > opts.MaxJSON {
				continue
			}
			rc, err := a.Open(m.Name)
			if err != nil {
				continue
			}
			if b, err := io.ReadAll(rc); err == nil {
				mem[m.Name] = b
			}
			rc.Close()
		}
		checkLoad(t, "memory")(Load(ctx, mem, opts))
	})
}

// checkLoad checks what Load returns from any input.
func checkLoad(t *testing.T, from string) func([]*Image, []integrity.Problem, error) {
	return func(imgs []*Image, problems []integrity.Problem, err error) {
		t.Helper()
		for _, pr := range problems {
			if pr.Kind == "" || pr.Blob == "" || pr.Detail == "" {
				t.Fatalf("%s: incomplete problem %+v", from, pr)
			}
		}
		if err != nil {
			if imgs != nil {
				t.Fatalf("%s: error %v with %d images", from, err, len(imgs))
			}
			return
		}
		for _, img := range imgs {
			for i, l := range img.Layers {
				if l.Index != i {
					t.Fatalf("%s: %s: layer %d has index %d", from, img.Ref(), i, l.Index)
				}
				if l.Blob != "" && l.Absent {
					t.Fatalf("%s: %s: layer %d both present (%s) and absent", from, img.Ref(), i, l.Blob)
				}
			}
		}
		// Filter must not fail on anything Load returns.
		if len(imgs) > 0 {
			if _, err := Filter(imgs, nil, ""); err != nil {
				t.Fatalf("%s: Filter everything: %v", from, err)
			}
		}
	}
}
