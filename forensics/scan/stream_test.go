package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// streamRegistry is verifiedRegistry's storage with more images, pushed
// through the registry's own code, that share layers: the planted image
// in a second repository, an image of its layers but the top one, and the
// clean and the whiteouts images.
func streamRegistry(t *testing.T) *registrystore.Registry {
	t.Helper()
	reg := verifiedRegistry(t)
	planted := registrystore.FromLayout(t, "../../fixtures/testdata/xz-planted.oci")
	reg.Push(t, "mirror/xz", planted, "latest", "5.6.1")
	reg.Push(t, "library/xz-base", lowerImage(t, planted), "latest")
	reg.Push(t, "library/clean", registrystore.FromDockerArchive(t, "../../fixtures/testdata/clean.docker.tar", "strata-fixtures/clean:latest"), "latest")
	reg.Push(t, "library/whiteouts", registrystore.FromDockerArchive(t, "../../fixtures/testdata/whiteouts.docker.tar", "strata-fixtures/whiteouts:latest"), "latest")
	return reg
}

// An input of many images read in place with DropListings builds each
// image while its layers are read and lets every listing go once its last
// image is judged, and reports byte for byte what a scan that keeps them
// all reports: in one process, and assembled from shards' cache entries
// (where the layers come from the cache one after another, and the cache
// keeps none of them in memory afterwards).
func TestStreamBuildSameReport(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	reg := streamRegistry(t)
	key := testCacheKey(t)
	shards := t.TempDir()
	for i := range 2 {
		scanWith(t, eng, reg.Root, shards, key, &Shard{i, 2})
	}
	render := func(t *testing.T, res *Result) [][]byte {
		doc := report.NewDocument(report.Meta{Version: "test"}, res.ReportSource())
		var out [][]byte
		for _, f := range []report.Format{report.JSON, report.OpenVEX, report.CycloneDX, report.Text} {
			var b bytes.Buffer
			if err := doc.Write(&b, f, report.TextOptions{}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, b.Bytes())
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		cache string // "" for none
	}{{"one process", ""}, {"assembled from shards", shards}} {
		t.Run(tc.name, func(t *testing.T) {
			scanOnce := func(listings bool) (*run, *Result, *Memo) {
				m := NewMemo("")
				if tc.cache != "" {
					m = openMemo(t, layercache.Config{Dir: tc.cache, Key: key, ToolVersion: "test", Now: epoch})
				}
				r := newRun(Options{Engine: eng, Memo: m, Now: epoch, DropTrees: true, DropListings: listings}, sched.New(), false)
				res, err := r.scan(ctx, reg.Root)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { res.Close() })
				return r, res, m
			}
			_, kept, _ := scanOnce(false)
			r, res, m := scanOnce(true)
			want, got := render(t, kept), render(t, res)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("report %d differs with the listings let go:\n%s\nwant:\n%s", i, got[i], want[i])
				}
			}
			if r.stream == nil || len(res.Images) < 4 {
				t.Fatalf("%d images, built as read: %v", len(res.Images), r.stream != nil)
			}
			for i, done := range r.stream.done {
				if !done {
					t.Errorf("image %s built after its layers were read", r.stream.imgs[i].Ref())
				}
			}
			for _, ir := range res.Images {
				for i, lr := range ir.Layers {
					if lr == nil || lr.Summary == nil {
						continue
					}
					if lr.Summary.Entries != nil {
						t.Errorf("%s layer %d: listing kept", ir.Image.Ref(), i)
					}
					if lr.EntryCount() == 0 {
						t.Errorf("%s layer %d: no count of its entries", ir.Image.Ref(), i)
					}
				}
			}
			if sharedLayers(res) == 0 {
				t.Error("no layer is shared by two images: nothing is held for a later image")
			}
			if tc.cache != "" {
				if held := m.cache.Held(); held != 0 {
					t.Errorf("the cache holds %d layers' entries in memory", held)
				}
			}
		})
	}
}

// sharedLayers counts the layers that more than one image is on.
func sharedLayers(res *Result) int {
	on := map[string]int{}
	for _, ir := range res.Images {
		for _, l := range ir.Image.Layers {
			on[l.Blob]++
		}
	}
	n := 0
	for _, c := range on {
		if c > 1 {
			n++
		}
	}
	return n
}

// lowerImage is an image of im's layers but its top one: its manifest and
// config made again (the config's history left out, its diff_ids cut).
func lowerImage(t *testing.T, im *registrystore.Image) *registrystore.Image {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(im.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	layers := m["layers"].([]any)
	m["layers"] = layers[:len(layers)-1]
	cfgDesc := m["config"].(map[string]any)
	var cfg map[string]any
	if err := json.Unmarshal(im.Blobs[digest.Digest(cfgDesc["digest"].(string))], &cfg); err != nil {
		t.Fatal(err)
	}
	delete(cfg, "history")
	rootfs := cfg["rootfs"].(map[string]any)
	ids := rootfs["diff_ids"].([]any)
	rootfs["diff_ids"] = ids[:len(ids)-1]
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgDesc["digest"], cfgDesc["size"] = digest.FromBytes(cfgBytes).String(), len(cfgBytes)
	out := &registrystore.Image{MediaType: im.MediaType, Blobs: map[digest.Digest][]byte{digest.FromBytes(cfgBytes): cfgBytes}, Layers: im.Layers[:len(im.Layers)-1]}
	for _, d := range out.Layers {
		out.Blobs[d] = im.Blobs[d]
	}
	if out.Manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return out
}

// --max-input-entries bounds what a scan holds: a streamed input gives
// back the entries of each listing it lets go, so a storage whose layers
// hold more entries in all than the bound is read whole within it, where
// a scan holding every listing to its end finds a layer over it.
func TestStreamBuildBoundsHeldEntries(t *testing.T) {
	eng := testEngine(t)
	reg := streamRegistry(t)
	scan := func(listings bool, limit int64) *Result {
		res, err := Run(context.Background(), reg.Root, Options{Engine: eng, Memo: NewMemo(""), Now: epoch, Parallel: 1,
			DropTrees: true, DropListings: listings, MaxInputEntries: limit})
		if err != nil {
			t.Fatal(err)
		}
		res.Close()
		return res
	}
	total := int64(0)
	seen := map[string]bool{}
	for _, ir := range scan(false, 0).Images {
		for _, lr := range ir.Layers {
			if lr != nil && !seen[lr.Blob] {
				seen[lr.Blob] = true
				total += int64(lr.EntryCount())
			}
		}
	}
	overBudget := func(res *Result) int {
		n := 0
		for _, p := range res.Problems {
			if bytes.Contains([]byte(p.Detail), []byte("--max-input-entries")) {
				n++
			}
		}
		return n
	}
	if n := overBudget(scan(false, total-1)); n == 0 {
		t.Fatalf("holding every listing, %d entries in all fit a bound of %d", total, total-1)
	}
	if n := overBudget(scan(true, total-1)); n != 0 {
		t.Errorf("streamed, %d layers over a bound of %d (%d entries in all)", n, total-1, total)
	}
}
