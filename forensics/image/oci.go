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
	ArtifactType  string               `json:"artifactType"`
	Subject       *ocispec.Descriptor  `json:"subject"`
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

// parent names the index an entry was found in.
func (w walk) parent() string {
	if len(w.indexes) == 0 {
		return "index.json"
	}
	return w.indexes[len(w.indexes)-1].String()
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
	limit := l.opts.MaxJSON
	if l.madeFrom != "" {
		// A store's own index.json (IndexMaker: a registry's, one entry
		// per tag) is no file of the evidence: MaxJSON bounds what an
		// input's author wrote, while this one grows with the tags the
		// store read, some 200 bytes each (80,000 tags fill 16 MiB).
		limit = max(limit, MaxMadeIndex)
	}
	data, ok := l.readBounded(name, "", -1, name, "image layout index", limit)
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
	if subject, kind := attachmentOf(d); kind != "" {
		l.attachment(d, subject, kind, w, depth)
		return
	}
	descKind := kindOf(d.MediaType)
	if d.MediaType != "" && descKind == kindUnknown {
		// The image-spec: "An encountered mediaType that is unknown to
		// the implementation MUST NOT generate an error." Verify what
		// is carried, unpack nothing.
		l.opaque(d, "index entry", "media type "+shorten(d.MediaType))
		return
	}
	what := "manifest"
	if descKind == kindIndex {
		what = "index"
	}
	if p := blob.Path(d.Digest); p != "" {
		if _, ok := l.src.Stat(p); !ok {
			l.absentManifest(d, w, depth, what)
			return
		}
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
		if subject, kind := v.attachment(); kind != "" {
			l.attachmentManifest(d, &v, subject, kind, w)
			return
		}
		l.manifest(d, &v, w)
	case kindSchema1:
		l.problem(d.Digest.String(), integrity.MediaType, "docker schema 1 manifests are not supported")
	default:
		l.problem(d.Digest.String(), integrity.MediaType, "%s is neither an index nor a manifest (mediaType %q)", what, shorten(v.MediaType))
	}
}

// absentManifest records an index entry whose blob the archive lacks. Below
// a carried index this is how containerd's exporter writes a platform that
// was never pulled (WithSkipMissing): absent by design. An entry of
// index.json itself names what the producer was asked to export, so its
// absence has no producer reason.
func (l *loader) absentManifest(d ocispec.Descriptor, w walk, depth int, what string) {
	p := blob.Path(d.Digest)
	l.reached[p] = true
	if depth <= 1 {
		l.problem(d.Digest.String(), integrity.MissingBlob, "%s named by index.json: %s is not in the archive", what, p)
		return
	}
	reason := integrity.Unknown
	if w.platform != "" && w.platform != "unknown/unknown" {
		reason = integrity.PlatformNotCarried
	}
	l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.Absent, Reason: reason, Platform: w.platform, Size: d.Size,
		Detail: fmt.Sprintf("%s of index %s is not in the archive", what, w.parent())})
}

// maxSteps bounds the index entries followed: content addressing makes
// the graph a DAG, but a hostile one can fan out exponentially with depth.
const maxSteps = 100_000

// manifest turns an image manifest into an Image. The same manifest
// reached again (another tag, another index) only adds names. A manifest
// carried without its config and its layers is containerd's
// referenced-only manifest (its exporter writes a manifest alone when any
// child is missing): described, not an image.
func (l *loader) manifest(d ocispec.Descriptor, m *versioned, w walk) {
	if img, ok := l.byDigest[d.Digest]; ok {
		img.Names = append(img.Names, w.names...)
		return
	}
	if m.Config == nil {
		l.problem(d.Digest.String(), integrity.BadJSON, "manifest has no config")
		return
	}
	if !l.carried(m.Config.Digest) {
		// Decided once every image is loaded: see referencedOnly.
		l.reachDescriptor(*m.Config)
		for _, ld := range m.Layers {
			l.reachDescriptor(ld)
		}
		l.configless = append(l.configless, pendingManifest{d: d, m: m, w: w})
		return
	}
	l.image(d, m, w)
}

// pendingManifest is a manifest whose config the archive lacks.
type pendingManifest struct {
	d ocispec.Descriptor
	m *versioned
	w walk
}

// referencedOnly settles the manifests carried without their config. After
// containerd's exporter (WithSkipMissing), a manifest whose children are
// missing is written alone, though blobs it shares with an exported image
// are in the archive anyway: when every layer of it that is carried belongs
// to a carried image, it is a referenced-only manifest, absent by design.
// Otherwise blobs of its own are here without their config: an image
// missing its config, which fails.
func (l *loader) referencedOnly() {
	owned := map[digest.Digest]bool{}
	for _, img := range l.images {
		for _, layer := range img.Layers {
			owned[layer.Digest] = true
		}
	}
	seen := map[digest.Digest]bool{}
	for _, p := range l.configless {
		if seen[p.d.Digest] {
			continue
		}
		seen[p.d.Digest] = true
		if l.mismatched[p.d.Digest] {
			// Content that is not what its digest names says nothing
			// trustworthy about what it refers to.
			continue
		}
		own := 0
		for _, ld := range p.m.Layers {
			if l.carried(ld.Digest) && !owned[ld.Digest] {
				own++
			}
		}
		if own > 0 {
			l.image(p.d, p.m, p.w)
			continue
		}
		l.record(integrity.Problem{Blob: p.d.Digest.String(), Kind: integrity.Absent, Reason: integrity.ReferencedOnly, Platform: p.w.platform, Size: p.d.Size,
			Detail: fmt.Sprintf("manifest carried without its config and its own layers (%d listed)", len(p.m.Layers))})
	}
}

// image describes the image of manifest m.
func (l *loader) image(d ocispec.Descriptor, m *versioned, w walk) {
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
		l.configs[img] = &cfg
		l.applyDiffIDs(img, &cfg, m.Config.Digest.String())
		createdBy := cfg.createdBy()
		for i, layer := range img.Layers {
			if i < len(createdBy) {
				layer.CreatedBy = createdBy[i]
			}
		}
	}
}

// carried reports whether the archive holds the blob of d.
func (l *loader) carried(d digest.Digest) bool {
	p := blob.Path(d)
	if p == "" {
		return false
	}
	_, ok := l.src.Stat(p)
	return ok
}

// reachDescriptor marks a blob referred to.
func (l *loader) reachDescriptor(d ocispec.Descriptor) {
	if p := blob.Path(d.Digest); p != "" {
		l.reached[p] = true
	}
}

func (l *loader) ociLayer(i int, d ocispec.Descriptor) *Layer {
	layer := &Layer{Index: i, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Foreign: isForeign(d.MediaType)}
	what := fmt.Sprintf("layer %d", i)
	p := blob.Path(d.Digest)
	if p == "" {
		l.problem(shorten(d.Digest.String()), integrity.BadDigest, "%s: %v", what, blob.Validate(d.Digest))
		layer.Absent = true
		return layer
	}
	l.reached[p] = true
	if !isFilesystemLayer(d.MediaType) {
		// A nydus or EROFS blob, an encrypted layer, an in-toto
		// statement: verified, never unpacked as a tar.
		layer.Opaque = true
		if !l.verifyOpaque(d, what) {
			layer.Absent = true
			l.problem(d.Digest.String(), integrity.MissingBlob, "%s: %s is not in the archive", what, p)
			return layer
		}
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.NotUnpacked, Content: "layer", Size: d.Size,
			Detail: fmt.Sprintf("%s has media type %q, no filesystem tar: checked against its digest, never unpacked", what, shorten(d.MediaType))})
		return layer
	}
	if _, ok := l.src.Stat(p); ok {
		layer.Blob = p
		return layer
	}
	layer.Absent = true
	if layer.Foreign {
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.Absent, Reason: integrity.NonDistributable, Size: d.Size,
			Detail: fmt.Sprintf("%s: non-distributable (%s), not in the archive", what, d.MediaType)})
	} else {
		l.problem(d.Digest.String(), integrity.MissingBlob, "%s: %s is not in the archive", what, p)
	}
	return layer
}

// diffIDCount is a config's diff_ids count to hold against its image's
// layers once manifest.json has had its say (a Docker 25.0.0 manifest
// collapses repeated layers, which manifest.json restores).
type diffIDCount struct {
	img    *Image
	ids    int
	config string
}

// checkCounts reports every image with more or fewer layers than its
// config's diff_ids.
func (l *loader) checkCounts() {
	for _, c := range l.counts {
		n := len(c.img.Layers)
		if n > 0 && c.img.Layers[n-1].Writable {
			n-- // a container's own layer, which no config lists
		}
		if c.ids != n {
			l.problem(c.config, integrity.DiffIDMismatch, "config lists %d diff_ids for %d layers", c.ids, n)
		}
	}
}

// applyDiffIDs copies rootfs.diff_ids onto the layers, in order.
func (l *loader) applyDiffIDs(img *Image, cfg *configFile, id string) {
	ids := cfg.diffIDs()
	l.counts = append(l.counts, diffIDCount{img: img, ids: len(ids), config: id})
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
