package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// mapSource is a Source held in memory: member name -> bytes.
type mapSource map[string][]byte

func (s mapSource) Members() []archive.Member {
	var out []archive.Member
	for name, b := range s {
		out = append(out, archive.Member{Name: name, Size: int64(len(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s mapSource) Stat(name string) (archive.Member, bool) {
	b, ok := s[name]
	return archive.Member{Name: name, Size: int64(len(b))}, ok
}

func (s mapSource) Open(name string) (io.ReadCloser, error) {
	b, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// sourceOf is a fixture's members in memory, a linked member holding a
// copy of the bytes it links to.
func sourceOf(t testing.TB, f *fixture) mapSource {
	byName := map[string]member{}
	for _, m := range f.members {
		byName[m.name] = m
	}
	s := mapSource{}
	for _, m := range f.members {
		target := byName[resolved(byName, m)]
		if target.link != "" || target.name == "" {
			t.Fatalf("%s: a link that resolves to no member", m.name)
		}
		s[m.name] = target.data
	}
	return s
}

// resolved is the name of the member m links to, or m's own.
func resolved(byName map[string]member, m member) string {
	for hops := 0; m.link != "" && hops < 8; hops++ {
		target := m.link
		if !m.hard {
			target = path.Join(path.Dir(m.name), m.link)
		}
		m = byName[target]
	}
	return m.name
}

// sample is a fixture and the kinds of problem Load finds in it.
type sample struct {
	name  string
	f     *fixture
	kinds []integrity.Kind
}

// samples are inputs of every format, sound and broken.
func samples(tb testing.TB) []sample {
	var out []sample
	add := func(name string, f *fixture, kinds ...integrity.Kind) {
		out = append(out, sample{name, f, sortedKinds(kinds...)})
	}

	f := newFixture(tb)
	f.layout(named(f.image(appSpec(tb, "v1")), annotationRefName, "latest"))
	add("oci layout", f)

	f = newFixture(tb)
	arm := appSpec(tb, "arm")
	arm.arch, arm.variant = "arm64", "v8"
	idx := f.blobJSON(ocispec.MediaTypeImageIndex, f.index(onPlatform(f.image(appSpec(tb, "amd")), "linux", "amd64", ""), onPlatform(f.image(arm), "linux", "arm64", "v8")))
	f.layout(named(idx, annotationRefName, "v1"))
	add("oci multi-platform index", f)

	f = newFixture(tb)
	f.docker25("app", "v1", appSpec(tb, "v1"))
	add("docker 25", f)

	f = newFixture(tb)
	f.dockerSave([]legacyImage{
		{tags: []string{"app:v1"}, spec: appSpec(tb, "v1"), ids: []string{v1ID(1), v1ID(2)}},
		{tags: []string{"app:v2"}, spec: appSpec(tb, "v2"), ids: []string{v1ID(3), v1ID(4)}, linkTo: []string{v1ID(1), ""}},
	}, true)
	add("docker save, linked layers", f)

	f = newFixture(tb)
	md := f.image(appSpec(tb, "v1"))
	f.layout(named(md, annotationRefName, "latest"))
	var m ocispec.Manifest
	if err := json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m); err != nil {
		tb.Fatal(err)
	}
	f.flip("blobs/sha256/"+m.Config.Digest.Encoded(), `"architecture":"`)
	f.remove("blobs/sha256/" + m.Layers[0].Digest.Encoded())
	f.blob("application/octet-stream", []byte("stray bytes"))
	f.blobJSON(ocispec.MediaTypeImageConfig, appSpec(tb, "left").config())
	add("oci layout, tampered, missing and extra blobs", f,
		integrity.DigestMismatch, integrity.MissingBlob, integrity.Unreferenced, integrity.Unreferenced)
	return out
}

// An image loads from any Source as it does from an archive of the same
// members: the same images, layers and problems.
func TestLoadFromSource(t *testing.T) {
	for _, tc := range samples(t) {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "input.tar")
			if err := os.WriteFile(p, tarBytes(t, tc.f.members), 0o644); err != nil {
				t.Fatal(err)
			}
			imgs, problems, err := Load(context.Background(), sourceOf(t, tc.f), Options{})
			if err != nil || len(imgs) == 0 {
				t.Fatalf("Load: %d images, %v", len(imgs), err)
			}
			if got := kinds(problems); !slices.Equal(got, tc.kinds) {
				t.Errorf("problems %v, want %v", got, tc.kinds)
			}
			got := renderSorted(t)(imgs, problems, err)
			want := renderSorted(t)(load(t, p, Options{}))
			if !bytes.Equal(got, want) {
				t.Fatalf("from memory:\n%s\nfrom the archive:\n%s", got, want)
			}
		})
	}
}

// renderSorted renders a Load with its problems in a fixed order: a Source
// lists its members in an order of its own.
func renderSorted(t *testing.T) func([]*Image, []integrity.Problem, error) []byte {
	return func(imgs []*Image, problems []integrity.Problem, err error) []byte {
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		problems = append([]integrity.Problem(nil), problems...)
		sort.Slice(problems, func(i, j int) bool {
			return fmt.Sprintf("%+v", problems[i]) < fmt.Sprintf("%+v", problems[j])
		})
		return render(t, imgs, problems)
	}
}
