package image

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// catalogSource is a store in memory that lists its own images.
type catalogSource struct {
	mapSource
	entries []Entry
}

func (c *catalogSource) Store() archive.Store          { return c }
func (c *catalogSource) Catalog() []Entry              { return c.entries }
func (c *catalogSource) Info() archive.Info            { return archive.Info{} }
func (c *catalogSource) Problems() []integrity.Problem { return nil }
func (c *catalogSource) Close() error                  { return nil }

func TestCatalog(t *testing.T) {
	f := newFixture(t)
	md := f.image(appSpec(t, "v1"))
	f.layout(named(md, annotationRefName, "latest"))
	src := sourceOf(t, f)
	var m ocispec.Manifest
	if err := json.Unmarshal(src["blobs/sha256/"+md.Digest.Encoded()], &m); err != nil {
		t.Fatal(err)
	}
	layers := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		layers[i] = "blobs/sha256/" + l.Digest.Encoded()
	}
	cfg := "blobs/sha256/" + m.Config.Digest.Encoded()
	src["rw/web"] = []byte("not read by Load")

	tests := []struct {
		name    string
		src     mapSource
		entries []Entry
		refs    []string
		kinds   []integrity.Kind
	}{
		{"image and container by config", mapSource{cfg: src[cfg], layers[0]: src[layers[0]], layers[1]: src[layers[1]], "rw/web": nil},
			[]Entry{
				{Names: []string{"app:v1"}, Config: cfg, ConfigDigest: m.Config.Digest, Layers: layers},
				{Config: cfg, ConfigDigest: m.Config.Digest, Layers: layers, Container: &Container{ID: "c1", Name: "web", Engine: "test"}, Writable: "rw/web"},
			}, []string{"app:v1", "container:web"}, []integrity.Kind{integrity.Unverifiable}},
		{"config that is not its digest", mapSource{cfg: []byte(`{"rootfs":{"diff_ids":[]}}`), layers[0]: nil, layers[1]: nil},
			[]Entry{{Names: []string{"app:v1"}, Config: cfg, ConfigDigest: m.Config.Digest, Layers: layers}},
			[]string{"app:v1"}, []integrity.Kind{integrity.DigestMismatch, integrity.DiffIDMismatch}},
		{"container of a layout's image", src,
			[]Entry{{Manifest: md.Digest, Container: &Container{ID: "c1", Name: "web", Engine: "test"}, Writable: "rw/web"}},
			[]string{"latest", "container:web"}, []integrity.Kind{integrity.Unverifiable}},
		{"container of an image not there", src,
			[]Entry{{Manifest: digest.FromString("gone"), Container: &Container{ID: "c1", Name: "web", Engine: "test"}, Writable: "rw/web"}},
			[]string{"latest"}, []integrity.Kind{integrity.MissingBlob}},
		{"writable layer missing", mapSource{cfg: src[cfg], layers[0]: nil, layers[1]: nil},
			[]Entry{{Config: cfg, ConfigDigest: m.Config.Digest, Layers: layers, Container: &Container{ID: "c1", Name: "web"}, Writable: "rw/web"}},
			[]string{"container:web"}, []integrity.Kind{integrity.MissingBlob}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imgs, problems, err := Load(context.Background(), &catalogSource{tc.src, tc.entries}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, img := range imgs {
				refs = append(refs, img.Ref())
				if img.Container != nil {
					top := img.Layers[len(img.Layers)-1]
					if !top.Writable || top.Index != len(img.Layers)-1 {
						t.Errorf("%s: top layer %+v is not its writable layer", img.Ref(), top)
					}
					if len(img.Layers) != len(layers)+1 {
						t.Errorf("%s: %d layers, want its image's %d and rw", img.Ref(), len(img.Layers), len(layers))
					}
				}
			}
			if len(refs) != len(tc.refs) {
				t.Fatalf("images %q, want %q", refs, tc.refs)
			}
			for i := range refs {
				if refs[i] != tc.refs[i] {
					t.Errorf("images %q, want %q", refs, tc.refs)
				}
			}
			var kinds []integrity.Kind
			for _, p := range problems {
				kinds = append(kinds, p.Kind)
			}
			if got, want := sortedKinds(kinds...), sortedKinds(tc.kinds...); !slices.Equal(got, want) {
				t.Errorf("records %v, want kinds %v", problems, tc.kinds)
			}
		})
	}
}
