package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/ulikunitz/xz"
)

// Fixtures are generated here, deterministically, rather than committed:
// every digest below follows from the bytes these helpers write.

var epoch = time.Date(2024, 3, 29, 12, 0, 0, 0, time.UTC)

// member is one file of a fixture; link makes it a symlink (or, with hard,
// a hardlink) instead.
type member struct {
	name string
	data []byte
	link string
	hard bool
}

// fixture is an input being built, in member order.
type fixture struct {
	t       testing.TB
	members []member
}

func newFixture(t testing.TB) *fixture { return &fixture{t: t} }

func (f *fixture) add(name string, data []byte) {
	for i, m := range f.members {
		if m.name == name {
			f.members[i].data = data
			return
		}
	}
	f.members = append(f.members, member{name: name, data: data})
}

func (f *fixture) symlink(name, target string) {
	f.members = append(f.members, member{name: name, link: target})
}

func (f *fixture) remove(name string) {
	for i, m := range f.members {
		if m.name == name {
			f.members = append(f.members[:i], f.members[i+1:]...)
			return
		}
	}
	f.t.Fatalf("remove %s: no such member", name)
}

func (f *fixture) get(name string) []byte {
	for _, m := range f.members {
		if m.name == name {
			return m.data
		}
	}
	f.t.Fatalf("get %s: no such member", name)
	return nil
}

// flip flips one bit of the byte right after the first marker in member
// name, keeping the JSON valid when the marker opens a string value.
func (f *fixture) flip(name, marker string) {
	data := append([]byte(nil), f.get(name)...)
	i := bytes.Index(data, []byte(marker))
	if i < 0 {
		f.t.Fatalf("flip %s: marker %q not found", name, marker)
	}
	data[i+len(marker)] ^= 0x01
	f.add(name, data)
}

func (f *fixture) json(name string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	f.add(name, b)
	return b
}

// blob stores data under its digest and returns its descriptor.
func (f *fixture) blob(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	f.add("blobs/sha256/"+d.Encoded(), data)
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func (f *fixture) blobJSON(mediaType string, v any) ocispec.Descriptor {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.blob(mediaType, b)
}

// tarBytes writes members as a tar with fixed metadata.
func tarBytes(t testing.TB, members []member) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case m.link != "" && m.hard:
			h.Typeflag, h.Linkname = tar.TypeLink, m.link
		case m.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, m.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(m.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressBytes(t testing.TB, data []byte, how string) []byte {
	var buf bytes.Buffer
	switch how {
	case "":
		return data
	case "gzip":
		return gzipBytes(t, data)
	case "xz":
		zw, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown compression %q", how)
	}
	return buf.Bytes()
}

// writeTar writes the fixture as a tar (compressed as a whole by how) and
// returns its path.
func (f *fixture) writeTar(how string) string {
	p := filepath.Join(f.t.TempDir(), "input.tar")
	if err := os.WriteFile(p, compressBytes(f.t, tarBytes(f.t, f.members), how), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// writeDir writes the fixture as a folder and returns its path.
func (f *fixture) writeDir() string {
	dir := filepath.Join(f.t.TempDir(), "layout")
	for _, m := range f.members {
		p := filepath.Join(dir, filepath.FromSlash(m.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.t.Fatal(err)
		}
		var err error
		if m.link != "" {
			err = os.Symlink(m.link, p)
		} else {
			err = os.WriteFile(p, m.data, 0o644)
		}
		if err != nil {
			f.t.Fatal(err)
		}
	}
	return dir
}

// layerTar is an uncompressed layer holding files (path -> content).
func layerTar(t testing.TB, files ...string) []byte {
	var ms []member
	for i := 0; i+1 < len(files); i += 2 {
		ms = append(ms, member{name: files[i], data: []byte(files[i+1])})
	}
	return tarBytes(t, ms)
}

// imageSpec describes an image to build.
type imageSpec struct {
	os, arch, variant string
	layers            [][]byte // uncompressed layer tars, bottom first
	history           []string // created_by of each layer; an "ENV…" entry is an empty layer
	entrypoint, cmd   []string
	// uncompressed stores layers as plain tars (Docker 25 does).
	uncompressed bool
	// note is an annotation (manifest) and author (config) to flip bits in.
	note string
}

func (s imageSpec) config() map[string]any {
	var diffIDs []string
	for _, l := range s.layers {
		diffIDs = append(diffIDs, digest.FromBytes(l).String())
	}
	var history []map[string]any
	for _, h := range s.history {
		e := map[string]any{"created_by": h, "created": epoch}
		if strings.HasPrefix(h, "ENV") {
			e["empty_layer"] = true
		}
		history = append(history, e)
	}
	cfg := map[string]any{
		"created":      epoch,
		"author":       "note:" + s.note,
		"os":           s.os,
		"architecture": s.arch,
		"config":       map[string]any{"Entrypoint": s.entrypoint, "Cmd": s.cmd},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	}
	if s.variant != "" {
		cfg["variant"] = s.variant
	}
	return cfg
}

// image stores layers, config and manifest of s and returns the
// manifest's descriptor.
func (f *fixture) image(s imageSpec) ocispec.Descriptor {
	return f.imageWith(s, nil, nil)
}

// imageWith is image with hooks to change the config and the manifest
// before they are stored.
func (f *fixture) imageWith(s imageSpec, changeConfig func(map[string]any), changeManifest func(*ocispec.Manifest)) ocispec.Descriptor {
	c := s.config()
	if changeConfig != nil {
		changeConfig(c)
	}
	cfg := f.blobJSON(ocispec.MediaTypeImageConfig, c)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg,
		Annotations: map[string]string{"org.example.note": "note:" + s.note}}
	m.SchemaVersion = 2
	for _, l := range s.layers {
		if s.uncompressed {
			m.Layers = append(m.Layers, f.blob(ocispec.MediaTypeImageLayer, l))
		} else {
			m.Layers = append(m.Layers, f.blob(ocispec.MediaTypeImageLayerGzip, gzipBytes(f.t, l)))
		}
	}
	if changeManifest != nil {
		changeManifest(&m)
	}
	return f.blobJSON(m.MediaType, m)
}

func (f *fixture) index(ds ...ocispec.Descriptor) ocispec.Index {
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: ds}
	idx.SchemaVersion = 2
	return idx
}

// layout writes oci-layout and index.json over ds.
func (f *fixture) layout(ds ...ocispec.Descriptor) {
	f.add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	f.json("index.json", f.index(ds...))
}

func named(d ocispec.Descriptor, annotations ...string) ocispec.Descriptor {
	d.Annotations = map[string]string{}
	for i := 0; i+1 < len(annotations); i += 2 {
		d.Annotations[annotations[i]] = annotations[i+1]
	}
	return d
}

func onPlatform(d ocispec.Descriptor, os, arch, variant string) ocispec.Descriptor {
	d.Platform = &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	return d
}

// Standard layers and images of the fixtures.
func baseLayer(t testing.TB) []byte {
	return layerTar(t, "etc/os-release", "ID=strata\n", "bin/sh", "#!fake shell\n")
}

func appLayer(t testing.TB, v string) []byte {
	return layerTar(t, "app/run", "run "+v+"\n")
}

func appSpec(t testing.TB, v string) imageSpec {
	return imageSpec{
		os: "linux", arch: "amd64",
		layers:     [][]byte{baseLayer(t), appLayer(t, v)},
		history:    []string{"ADD rootfs /", "ENV A=1", "COPY app /app"},
		entrypoint: []string{"/app/run"}, cmd: []string{"--" + v},
		note: v,
	}
}

// legacyImage is one image of a legacy docker save fixture.
type legacyImage struct {
	tags   []string
	spec   imageSpec
	ids    []string // v1 layer ids
	linkTo []string // per layer: id whose layer.tar this one links to, or ""
}

// dockerSave writes a legacy docker save: manifest.json, <hex>.json
// configs, <id>/{layer.tar,json,VERSION}, repositories.
func (f *fixture) dockerSave(imgs []legacyImage, withRepositories bool) {
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var entries []entry
	repos := map[string]map[string]string{}
	for _, img := range imgs {
		cfgBytes, err := json.Marshal(img.spec.config())
		if err != nil {
			f.t.Fatal(err)
		}
		cfgName := digest.FromBytes(cfgBytes).Encoded() + ".json"
		f.add(cfgName, cfgBytes)
		e := entry{Config: cfgName, RepoTags: img.tags}
		for i, l := range img.spec.layers {
			id := img.ids[i]
			if img.linkTo != nil && img.linkTo[i] != "" {
				f.symlink(id+"/layer.tar", "../"+img.linkTo[i]+"/layer.tar")
			} else {
				f.add(id+"/layer.tar", l)
			}
			f.add(id+"/VERSION", []byte("1.0"))
			f.json(id+"/json", map[string]any{"id": id, "container_config": map[string]any{"Cmd": []string{"/bin/sh", "-c", "#(nop) layer " + id[:4]}}})
			e.Layers = append(e.Layers, id+"/layer.tar")
		}
		entries = append(entries, e)
		for _, tag := range img.tags {
			repo, t, _ := cut(tag)
			if repos[repo] == nil {
				repos[repo] = map[string]string{}
			}
			repos[repo][t] = img.ids[len(img.ids)-1]
		}
	}
	f.json("manifest.json", entries)
	if withRepositories {
		f.json("repositories", repos)
	}
}

func cut(tag string) (string, string, bool) {
	for i := len(tag) - 1; i >= 0; i-- {
		if tag[i] == ':' {
			return tag[:i], tag[i+1:], true
		}
		if tag[i] == '/' {
			break
		}
	}
	return tag, "latest", false
}

func v1ID(n byte) string { return string(bytes.Repeat([]byte{"0123456789abcdef"[n%16]}, 64)) }

// docker25 writes a Docker 25+ docker save: an OCI layout with
// uncompressed layers, index.json annotations, manifest.json and
// repositories.
func (f *fixture) docker25(name, tag string, spec imageSpec) ocispec.Descriptor {
	spec.uncompressed = true
	md := f.image(spec)
	var m ocispec.Manifest
	if err := json.Unmarshal(f.get("blobs/sha256/"+md.Digest.Encoded()), &m); err != nil {
		f.t.Fatal(err)
	}
	f.layout(named(md, annotationImageName, "docker.io/library/"+name+":"+tag, annotationRefName, tag))
	var layers []string
	for _, l := range m.Layers {
		layers = append(layers, "blobs/sha256/"+l.Digest.Encoded())
	}
	f.json("manifest.json", []map[string]any{{
		"Config": "blobs/sha256/" + m.Config.Digest.Encoded(), "RepoTags": []string{name + ":" + tag}, "Layers": layers,
	}})
	f.json("repositories", map[string]any{name: map[string]string{tag: m.Layers[len(m.Layers)-1].Digest.Encoded()}})
	return md
}
