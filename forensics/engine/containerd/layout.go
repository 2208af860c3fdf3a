package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// member is how one member's bytes are had.
type member struct {
	file  string          // a file below ev (a content blob)
	data  []byte          // made here (oci-layout, index.json)
	upper *archive.Folder // a snapshot's folder, as a layer tar
	size  int64
	root  *os.Root // to close
}

// manifestInfo is what strata needs of an image manifest to find its
// snapshots: its layers' blobs and their chain IDs.
type manifestInfo struct {
	layers []digest.Digest
	chains []digest.Digest // "" past a diff_id that is missing
}

// blobs adds every file of the content store as the layout's blob of the
// digest its path names.
func (s *Store) blobs(ctx context.Context) error {
	dir := s.p(contentDir, "blobs")
	algs, err := s.readDir(dir)
	if err != nil {
		s.problem(dir, integrity.MissingBlob, "content store: %v", err)
		return nil
	}
	for _, alg := range algs {
		names, err := s.readDir(path.Join(dir, alg))
		if err != nil {
			s.problem(path.Join(dir, alg), integrity.Unreadable, "content store: %v", err)
			continue
		}
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			file := path.Join(dir, alg, n)
			fi, err := s.ev.Lstat(file)
			if err != nil || !fi.Mode().IsRegular() {
				s.problem(file, integrity.Inconsistent, "content store: %q is not a regular file", n)
				continue
			}
			if d := digest.NewDigestFromEncoded(digest.Algorithm(alg), n); blob.Validate(d) != nil {
				s.problem(file, integrity.BadDigest, "content store: %q names no %s digest", n, alg)
				continue
			}
			s.add(path.Join("blobs", alg, n), member{file: file, size: fi.Size()})
		}
	}
	return nil
}

// index makes the layout's index.json: one entry for each image of each
// namespace, named as the namespace names it. A name recorded in more
// than one namespace is prefixed with its namespace but in "default".
func (s *Store) index() ocispec.Index {
	count := map[string]int{}
	for _, ns := range s.meta.namespaces {
		for _, im := range ns.images {
			count[im.name]++
		}
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	for _, ns := range s.meta.namespaces {
		for _, im := range ns.images {
			name := im.name
			if count[name] > 1 && ns.name != "default" {
				name = ns.name + "/" + name
			}
			d := im.target
			d.Annotations = map[string]string{ocispec.AnnotationRefName: name, "io.containerd.image.name": name}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	return idx
}

// maxIndexDepth bounds the indexes followed below an image's target.
const maxIndexDepth = 4

// graph reads each image's manifests and configs, to find which snapshot
// each layer was unpacked to and which image each container was made
// from. What cannot be read is left to image.Load, which reads the same
// blobs and says why.
func (s *Store) graph(ctx context.Context, idx ocispec.Index) {
	s.manifest = map[digest.Digest]*manifestInfo{}
	s.targets = map[digest.Digest][]digest.Digest{}
	for _, d := range idx.Manifests {
		if ctx.Err() != nil {
			return
		}
		if _, ok := s.targets[d.Digest]; !ok {
			s.targets[d.Digest] = s.manifests(d.Digest, 0)
		}
	}
}

// manifests returns the image manifests below blob d (itself, or an
// index's), reading each once.
func (s *Store) manifests(d digest.Digest, depth int) []digest.Digest {
	if _, ok := s.manifest[d]; ok {
		return []digest.Digest{d}
	}
	var v struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	data, err := s.blob(d)
	if err != nil || json.Unmarshal(data, &v) != nil {
		return nil
	}
	if v.Config == nil {
		if depth >= maxIndexDepth {
			return nil
		}
		var out []digest.Digest
		for _, m := range v.Manifests {
			if blob.Validate(m.Digest) == nil {
				out = append(out, s.manifests(m.Digest, depth+1)...)
			}
		}
		return out
	}
	info := &manifestInfo{}
	s.manifest[d] = info
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if data, err := s.blob(v.Config.Digest); err == nil {
		_ = json.Unmarshal(data, &cfg) // without diff_ids no snapshot can be found
	}
	var chain digest.Digest
	for i, l := range v.Layers {
		info.layers = append(info.layers, l.Digest)
		switch {
		case i >= len(cfg.RootFS.DiffIDs) || blob.Validate(cfg.RootFS.DiffIDs[i]) != nil || (i > 0 && chain == ""):
			chain = ""
		case i == 0:
			chain = cfg.RootFS.DiffIDs[0]
		default:
			// The image-spec's identity.ChainID, which containerd's
			// unpacker keys committed snapshots by.
			chain = digest.FromString(chain.String() + " " + cfg.RootFS.DiffIDs[i].String())
		}
		info.chains = append(info.chains, chain)
	}
	return []digest.Digest{d}
}

// blob reads a content blob whole (a manifest, a config), into custody.
func (s *Store) blob(d digest.Digest) ([]byte, error) {
	if blob.Validate(d) != nil {
		return nil, fmt.Errorf("%q: not a digest", d)
	}
	return s.custody.ReadFile(s.p(contentDir, "blobs", d.Algorithm().String(), d.Encoded()))
}

// ingests lists the content store's interrupted downloads
// (ingest/<sha256 of ref>/{data,ref,total}, plugins/content/local).
func (s *Store) ingests() {
	dir := s.p(contentDir, "ingest")
	names, err := s.readDir(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		p := path.Join(dir, n)
		ref, _ := s.custody.ReadFile(path.Join(p, "ref"))
		total, _ := s.custody.ReadFile(path.Join(p, "total"))
		var size int64
		if fi, err := s.ev.Lstat(path.Join(p, "data")); err == nil {
			size = fi.Size()
		}
		detail := fmt.Sprintf("content store: a download that never finished (%s): %d bytes", strings.TrimSpace(string(ref)), size)
		if t := strings.TrimSpace(string(total)); t != "" {
			detail += " of " + t
		}
		s.problems = append(s.problems, integrity.Problem{Blob: p, Kind: integrity.Unreferenced, Content: "interrupted ingest", Size: size, Detail: detail})
	}
}

func (s *Store) add(name string, m member) {
	if _, ok := s.members[name]; !ok {
		s.order = append(s.order, name)
	}
	s.members[name] = m
}

// Members lists the layout (oci-layout, index.json, blobs) and the
// snapshot folders read as layers.
func (s *Store) Members() []archive.Member {
	out := make([]archive.Member, 0, len(s.order))
	for _, n := range s.order {
		m := s.members[n]
		size := m.size
		if m.data != nil {
			size = int64(len(m.data))
		}
		out = append(out, archive.Member{Name: n, Size: size})
	}
	return out
}

// Open reads a member: a blob as it is stored, a snapshot folder as the
// layer tar it stands for.
func (s *Store) Open(name string) (io.ReadCloser, error) {
	m, ok := s.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, archive.ErrNotExist)
	}
	switch {
	case m.data != nil:
		return io.NopCloser(bytes.NewReader(m.data)), nil
	case m.upper != nil:
		return m.upper.Open(), nil
	}
	return archive.OpenRegular(s.ev, m.file)
}
