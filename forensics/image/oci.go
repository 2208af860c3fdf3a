package image

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// versioned is an index or a manifest: which one is told by its mediaType,
// else by its shape.
type versioned struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	FSLayers      json.RawMessage      `json:"fsLayers"` // schema 1
}

// kind is what the content says it is, else what its shape is.
func (v *versioned) kind() kind {
	if k := kindOf(v.MediaType); k != kindUnknown {
		return k
	}
	return v.shape()
}

// shape is what the content is by its fields.
func (v *versioned) shape() kind {
	switch {
	case v.SchemaVersion == 1 || v.FSLayers != nil:
		return kindSchema1
	case v.Manifests != nil && v.Config == nil:
		return kindIndex
	case v.Config != nil && v.Manifests == nil:
		return kindManifest
	}
	return kindUnknown
}

// walk is the way down to a descriptor: the indexes passed, the names
// gathered from their descriptors' annotations, and the platform the
// nearest index gave.
type walk struct {
	indexes  []digest.Digest
	names    []string
	platform string
}

func (w walk) down(index digest.Digest, d ocispec.Descriptor) walk {
	next := walk{
		indexes:  append([]digest.Digest(nil), w.indexes...),
		names:    append(append([]string(nil), w.names...), annotationNames(d)...),
		platform: w.platform,
	}
	if index != "" {
		next.indexes = append(next.indexes, index)
	}
	if d.Platform != nil {
		if p := platformString(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant); p != "" {
			next.platform = p
		}
	}
	return next
}

// annotationNames are the names a descriptor gives its target: the OCI
// ref.name (often just a tag, kept as given) and containerd's full name.
func annotationNames(d ocispec.Descriptor) []string {
	var out []string
	for _, k := range []string{annotationRefName, annotationImageName} {
		if n := d.Annotations[k]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

func (l *loader) loadIndexJSON() error {
	const name = "index.json"
	l.reached[name] = true
	data, ok := l.readVerified(name, "", -1, name, "image layout index")
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrNoImages)
	}
	var idx versioned
	if err := json.Unmarshal(data, &idx); err != nil {
		l.problem(name, integrity.BadJSON, "image layout index: %v", err)
		return fmt.Errorf("%s: %w: %v", name, ErrNoImages, err)
	}
	if k := idx.kind(); k != kindIndex {
		l.problem(name, integrity.MediaType, "image layout index is %s (mediaType %q)", k, idx.MediaType)
		if idx.Manifests == nil {
			return fmt.Errorf("%s: %w: not an index", name, ErrNoImages)
		}
	}
	for _, d := range idx.Manifests {
		if l.ctx.Err() != nil {
			return l.ctx.Err()
		}
		l.descend(d, walk{}.down("", d), 1)
	}
	return nil
}

// descend follows descriptor d found in an index at depth (index.json is
// depth 1) down to every manifest.
func (l *loader) descend(d ocispec.Descriptor, w walk, depth int) {
	if l.ctx.Err() != nil {
		return
	}
	l.steps++
	if l.steps > maxSteps {
		l.problem(shorten(d.Digest.String()), integrity.Limit, "more than %d index entries followed; the rest are skipped", maxSteps)
		return
	}
	for _, seen := range w.indexes {
		if seen == d.Digest {
			l.problem(d.Digest.String(), integrity.Limit, "index cycle: %s refers back to itself through %v", d.Digest, w.indexes)
			return
		}
	}
	descKind := kindOf(d.MediaType)
	if d.MediaType != "" && descKind == kindUnknown {
		if p := blob.Path(d.Digest); p != "" {
			l.reached[p] = true
		}
		l.problem(shorten(d.Digest.String()), integrity.MediaType, "index entry has media type %q, neither an index nor a manifest", shorten(d.MediaType))
		return
	}
	what := "manifest"
	if descKind == kindIndex {
		what = "index"
	}
	data, ok := l.readBlob(d.Digest, d.Size, what)
	if !ok {
		return
	}
	var v versioned
	if err := json.Unmarshal(data, &v); err != nil {
		l.problem(d.Digest.String(), integrity.BadJSON, "%s: %v", what, err)
		return
	}
	k := v.kind()
	if shape := v.shape(); shape != kindUnknown && k != shape {
		// A mediaType contradicting the fields: the fields decide what
		// can be read.
		l.problem(d.Digest.String(), integrity.MediaType, "content says mediaType %q but is shaped as %s", shorten(v.MediaType), shape)
		k = shape
	}
	if d.MediaType != "" && k != kindUnknown && k != descKind {
		l.problem(d.Digest.String(), integrity.MediaType, "descriptor says %s (%s), content is %s (mediaType %q)",
			descKind, d.MediaType, k, v.MediaType)
	}
	if k == kindUnknown {
		k = descKind
	}
	switch k {
	case kindIndex:
		if depth >= l.opts.MaxIndexDepth {
			l.problem(d.Digest.String(), integrity.Limit, "index nested %d deep, beyond the limit of %d (raise with --max-index-depth); not followed", depth+1, l.opts.MaxIndexDepth)
			return
		}
		for _, c := range v.Manifests {
			l.descend(c, w.down(d.Digest, c), depth+1)
		}
	case kindManifest:
		l.manifest(d, &v, w)
	case kindSchema1:
		l.problem(d.Digest.String(), integrity.MediaType, "docker schema 1 manifests are not supported")
	default:
		l.problem(d.Digest.String(), integrity.MediaType, "%s is neither an index nor a manifest (mediaType %q)", what, shorten(v.MediaType))
	}
}

// maxSteps bounds the index entries followed: content addressing makes
// the graph a DAG, but a hostile one can fan out exponentially with depth.
const maxSteps = 100_000

// manifest turns an image manifest into an Image. The same manifest
// reached again (another tag, another index) only adds names.
func (l *loader) manifest(d ocispec.Descriptor, m *versioned, w walk) {
	if img, ok := l.byDigest[d.Digest]; ok {
		img.Names = append(img.Names, w.names...)
		return
	}
	artifact := d.Annotations[annotationRefType] != ""
	if m.Config == nil {
		l.problem(d.Digest.String(), integrity.BadJSON, "manifest has no config")
		return
	}
	if !isImageConfig(m.Config.MediaType) {
		artifact = true
	}
	if artifact {
		// Attestations, signatures and other artifacts are not images:
		// their blobs are referred to, and checked for presence, only.
		l.reachDescriptor(*m.Config, "artifact config")
		for _, ld := range m.Layers {
			l.reachDescriptor(ld, "artifact layer")
		}
		return
	}
	img := &Image{
		Names:          w.names,
		Platform:       w.platform,
		ManifestDigest: d.Digest,
		IndexDigests:   w.indexes,
		ConfigDigest:   m.Config.Digest,
	}
	l.byDigest[d.Digest] = img
	l.images = append(l.images, img)

	var cfg configFile
	haveConfig := false
	if data, ok := l.readBlob(m.Config.Digest, m.Config.Size, "config"); ok {
		if err := json.Unmarshal(data, &cfg); err != nil {
			l.problem(m.Config.Digest.String(), integrity.BadJSON, "config: %v", err)
		} else {
			haveConfig = true
			cfg.apply(img)
		}
	}
	for i, ld := range m.Layers {
		img.Layers = append(img.Layers, l.ociLayer(i, ld))
	}
	if haveConfig {
		l.applyDiffIDs(img, &cfg, m.Config.Digest.String())
		createdBy := cfg.createdBy()
		for i, layer := range img.Layers {
			if i < len(createdBy) {
				layer.CreatedBy = createdBy[i]
			}
		}
	}
}

// reachDescriptor marks a blob referred to and reports it when missing.
func (l *loader) reachDescriptor(d ocispec.Descriptor, what string) {
	p := blob.Path(d.Digest)
	if p == "" {
		l.problem(shorten(d.Digest.String()), integrity.BadDigest, "%s: %v", what, blob.Validate(d.Digest))
		return
	}
	l.reached[p] = true
	if _, ok := l.a.Stat(p); !ok {
		if isForeign(d.MediaType) {
			l.problem(d.Digest.String(), integrity.Foreign, "%s: non-distributable (%s), not in the archive", what, d.MediaType)
		} else {
			l.problem(d.Digest.String(), integrity.MissingBlob, "%s: %s is not in the archive", what, p)
		}
	}
}

func (l *loader) ociLayer(i int, d ocispec.Descriptor) *Layer {
	layer := &Layer{Index: i, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Foreign: isForeign(d.MediaType)}
	what := fmt.Sprintf("layer %d", i)
	if !isLayer(d.MediaType) {
		l.problem(shorten(d.Digest.String()), integrity.MediaType, "%s has media type %q, not a layer", what, shorten(d.MediaType))
	}
	p := blob.Path(d.Digest)
	if p == "" {
		l.problem(shorten(d.Digest.String()), integrity.BadDigest, "%s: %v", what, blob.Validate(d.Digest))
		layer.Absent = true
		return layer
	}
	l.reached[p] = true
	if _, ok := l.a.Stat(p); ok {
		layer.Blob = p
		return layer
	}
	layer.Absent = true
	if layer.Foreign {
		l.problem(d.Digest.String(), integrity.Foreign, "%s: non-distributable (%s), not in the archive", what, d.MediaType)
	} else {
		l.problem(d.Digest.String(), integrity.MissingBlob, "%s: %s is not in the archive", what, p)
	}
	return layer
}

// applyDiffIDs copies rootfs.diff_ids onto the layers, in order.
func (l *loader) applyDiffIDs(img *Image, cfg *configFile, id string) {
	ids := cfg.diffIDs()
	if len(ids) != len(img.Layers) {
		l.problem(id, integrity.DiffIDMismatch, "config lists %d diff_ids for %d layers", len(ids), len(img.Layers))
	}
	for i, s := range ids {
		if i >= len(img.Layers) {
			break
		}
		d := digest.Digest(s)
		if err := blob.Validate(d); err != nil {
			l.problem(id, integrity.BadDigest, "config diff_ids[%d]: %v", i, err)
			continue
		}
		img.Layers[i].DiffID = d
	}
}
