// Command genreg writes the registry benchmark input of `make bench`: a
// registry mirror's storage (distribution's filesystem layout, as its
// registry/storage/paths.go names every file) holding -images images over
// -bases base layers, each image its base plus a small layer of its own,
// one repository and tag each. Output is deterministic; a STAMP file makes
// a second run a no-op.
//
//	genreg -out .cache/bench/registry [-images 200] [-bases 20]
package main

import (
	_ "crypto/sha256" // go-digest's sha256
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/bench/synth"
)

const version = "genreg/1"

func main() {
	out := flag.String("out", ".cache/bench/registry", "folder to write the storage into")
	images := flag.Int("images", 200, "images (repositories), one tag each")
	bases := flag.Int("bases", 20, "base layers the images share")
	flag.Parse()
	if err := run(*out, *images, *bases); err != nil {
		fmt.Fprintln(os.Stderr, "genreg:", err)
		os.Exit(1)
	}
}

func run(out string, images, bases int) error {
	stamp := fmt.Sprintf("%s %s images=%d bases=%d\n", version, synth.Version, images, bases)
	if b, err := os.ReadFile(filepath.Join(out, "STAMP")); err == nil && string(b) == stamp {
		fmt.Fprintf(os.Stderr, "genreg: %s is up to date\n", out)
		return nil
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	v2 := filepath.Join(out, "docker", "registry", "v2")
	r := &reg{v2: v2}
	base := make([]*synth.Blob, bases)
	for b := range bases {
		l, err := synth.GzipLayer(uint64(5000+b), 3000, 40<<20)
		if err != nil {
			return err
		}
		if err := r.blob(l.Gzip); err != nil {
			return err
		}
		base[b] = l
	}
	for k := range images {
		own, err := synth.GzipLayer(uint64(9000+k), 150, 2<<20)
		if err != nil {
			return err
		}
		if err := r.blob(own.Gzip); err != nil {
			return err
		}
		ls := []*synth.Blob{base[k%bases], own}
		cfg, err := config(ls, k)
		if err != nil {
			return err
		}
		if err := r.blob(cfg); err != nil {
			return err
		}
		m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
			Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}}
		for _, l := range ls {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: l.Digest, Size: int64(len(l.Gzip))})
		}
		mb, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := r.blob(mb); err != nil {
			return err
		}
		repo := fmt.Sprintf("bench/service-%03d", k)
		for _, d := range append([]digest.Digest{m.Config.Digest}, m.Layers[0].Digest, m.Layers[1].Digest) {
			if err := r.link(repo, filepath.Join("_layers", "sha256", d.Encoded()), d); err != nil {
				return err
			}
		}
		md := digest.FromBytes(mb)
		for _, p := range []string{
			filepath.Join("_manifests", "revisions", "sha256", md.Encoded()),
			filepath.Join("_manifests", "tags", "latest", "index", "sha256", md.Encoded()),
			filepath.Join("_manifests", "tags", "latest", "current"),
		} {
			if err := r.link(repo, p, md); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(out, "STAMP"), []byte(stamp), 0o644)
}

// reg writes distribution's layout (registry/storage/paths.go).
type reg struct{ v2 string }

// blob writes blobs/sha256/<hex[:2]>/<hex>/data (blobDataPathSpec).
func (r *reg) blob(b []byte) error {
	d := digest.FromBytes(b)
	p := filepath.Join(r.v2, "blobs", "sha256", d.Encoded()[:2], d.Encoded(), "data")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// link writes repositories/<repo>/<rel>/link holding the digest, with no
// newline, as blobstore.go's link does.
func (r *reg) link(repo, rel string, d digest.Digest) error {
	p := filepath.Join(r.v2, "repositories", repo, rel, "link")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(d.String()), 0o644)
}

func config(ls []*synth.Blob, k int) ([]byte, error) {
	created := synth.ModTime
	c := v1.Image{Created: &created, Platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		Config: v1.ImageConfig{Cmd: []string{fmt.Sprintf("/srv/service-%03d", k)}}, RootFS: v1.RootFS{Type: "layers"}}
	for i, l := range ls {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, l.DiffID)
		c.History = append(c.History, v1.History{Created: &created, CreatedBy: fmt.Sprintf("/bin/sh -c #(nop) ADD layer-%d /", i)})
	}
	return json.Marshal(c)
}
