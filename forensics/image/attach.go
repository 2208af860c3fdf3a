package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Attachment is something attached to an image rather than an image: a
// BuildKit attestation manifest, a cosign signature, a sigstore bundle, an
// SBOM or any other OCI 1.1 artifact whose subject is the image. Its blobs
// are verified when carried and never unpacked as a filesystem.
type Attachment struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"media_type"`
	ArtifactType string        `json:"artifact_type,omitempty"`
	// Kind is attestation, signature, sbom or artifact.
	Kind string `json:"kind"`
	// Carried is false when the archive names the attachment but its
	// producer left it out (an attestation of a platform not pulled).
	Carried bool `json:"carried"`
	// Provenance is the SLSA provenance an attestation carries, when it
	// does.
	Provenance *Provenance `json:"provenance,omitempty"`

	subject digest.Digest
}

// Provenance is what an SLSA provenance statement says of the build.
type Provenance struct {
	PredicateType string `json:"predicate_type"`
	Builder       string `json:"builder,omitempty"`
	Source        string `json:"source,omitempty"`
}

// Annotations and media types that mark attachments.
const (
	annotationRefDigest     = "vnd.docker.reference.digest"    // BuildKit: the manifest an attestation describes
	annotationSubject       = "io.containerd.manifest.subject" // containerd's exporter: a referrer's subject
	annotationCosignKind    = "kind"                           // cosign save: dev.cosignproject.cosign/sigs, /atts, /sboms
	mtInToto                = "application/vnd.in-toto+json"
	mtCosignSimpleSigning   = "application/vnd.dev.cosign.simplesigning.v1+json"
	mtSigstoreBundlePrefix  = "application/vnd.dev.sigstore.bundle"
	mtCosignArtifactSig     = "application/vnd.dev.cosign.artifact.sig.v1+json"
	predicateSLSAPrefixV02  = "https://slsa.dev/provenance/v0"
	predicateSLSAPrefixV1   = "https://slsa.dev/provenance/v1"
	annotationPredicateType = "in-toto.io/predicate-type"
)

// attachmentOf tells from an index descriptor alone whether it names an
// attachment, and of what.
func attachmentOf(d ocispec.Descriptor) (subject digest.Digest, kind string) {
	if d.Annotations[annotationRefType] == annotationRefTypeAtt {
		return digest.Digest(d.Annotations[annotationRefDigest]), "attestation"
	}
	if s := d.Annotations[annotationSubject]; s != "" {
		return digest.Digest(s), kindOfArtifact(d.ArtifactType, "")
	}
	if k := d.Annotations[annotationCosignKind]; strings.HasPrefix(k, "dev.cosignproject.cosign/") {
		return "", kindOfArtifact("", k)
	}
	return cosignTag(d.Annotations[annotationRefName])
}

// cosignTag reads cosign's tag for what it attaches to an image,
// sha256-<hex>.sig (signature), .att (attestation) or .sbom, as the
// subject's digest and the kind.
func cosignTag(ref string) (subject digest.Digest, kind string) {
	hexPart, suffix, ok := strings.Cut(strings.TrimPrefix(ref, "sha256-"), ".")
	if !ok || len(ref) == len(hexPart)+len(suffix)+1 || !isHex64(hexPart) {
		return "", ""
	}
	switch suffix {
	case "sig":
		kind = "signature"
	case "att":
		kind = "attestation"
	case "sbom":
		kind = "sbom"
	default:
		return "", ""
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hexPart), kind
}

// attachment tells from a manifest whether it is an attachment: it has a
// subject, an artifactType, or a config that is no image config. A manifest
// with an image config and filesystem layers is an image whatever it is
// marked with (filesystemImage).
func (v *versioned) attachment() (subject digest.Digest, kind string) {
	if v.filesystemImage() {
		return "", ""
	}
	if v.Subject != nil {
		subject = v.Subject.Digest
	}
	switch {
	case v.Subject != nil || v.ArtifactType != "":
		return subject, kindOfArtifact(v.ArtifactType, v.layerTypes())
	case v.Config != nil && !isImageConfig(v.Config.MediaType):
		return subject, kindOfArtifact(v.Config.MediaType, v.layerTypes())
	case len(v.Layers) > 0:
		// An image config over layers that say what they are (cosign's
		// simplesigning, an in-toto statement, an SBOM), none a
		// filesystem. A nydus or EROFS image says nothing of the kind and
		// stays an image of opaque layers.
		if k := kindOfArtifact("", v.layerTypes()); k != "artifact" {
			return subject, k
		}
	}
	return "", ""
}

// filesystemImage reports whether a manifest describes a filesystem: an
// image config and at least one tar layer. Such a manifest is read as an
// image even when something marks it as an attachment (an artifactType,
// which go-containerregistry writes on images too; a subject; an index
// entry calling it an attestation): otherwise an image could keep its
// layers from every detector by wearing such a mark.
func (v *versioned) filesystemImage() bool {
	if v.Config == nil || !isImageConfig(v.Config.MediaType) {
		return false
	}
	for _, l := range v.Layers {
		if l.MediaType != "" && isFilesystemLayer(l.MediaType) {
			return true
		}
	}
	return false
}

func (v *versioned) layerTypes() string {
	var ts []string
	for _, l := range v.Layers {
		ts = append(ts, l.MediaType)
	}
	return strings.Join(ts, " ")
}

// kindOfArtifact names an attachment by what its types say.
func kindOfArtifact(artifactType, more string) string {
	s := strings.ToLower(artifactType + " " + more)
	switch {
	case strings.Contains(s, "sigstore.bundle"), strings.Contains(s, "cosign.artifact.sig"),
		strings.Contains(s, "simplesigning"), strings.Contains(s, "cosign/sigs"), strings.Contains(s, "signature"):
		return "signature"
	case strings.Contains(s, "spdx"), strings.Contains(s, "cyclonedx"), strings.Contains(s, "sbom"):
		return "sbom"
	case strings.Contains(s, "in-toto"), strings.Contains(s, "cosign/atts"), strings.Contains(s, "attestation"):
		return "attestation"
	}
	return "artifact"
}

// attachment handles an index entry that names an attachment: absent ones
// are absent by design (pulls fetch the attestation of the platform pulled
// at most), carried ones are read for their blobs and provenance.
func (l *loader) attachment(d ocispec.Descriptor, subject digest.Digest, kind string, w walk, depth int) {
	p := blob.Path(d.Digest)
	if p == "" {
		l.problem(shorten(d.Digest.String()), integrity.BadDigest, "%s: %v", kind, blob.Validate(d.Digest))
		return
	}
	l.reached[p] = true
	if _, ok := l.src.Stat(p); !ok {
		l.attachments = append(l.attachments, &Attachment{Digest: d.Digest, MediaType: d.MediaType, ArtifactType: d.ArtifactType,
			Kind: kind, subject: subject})
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.Absent, Reason: integrity.AttestationNotCarried, Size: d.Size,
			Detail: fmt.Sprintf("%s of %s is not in the archive", kind, orUnknown(subject))})
		return
	}
	data, ok := l.readBlob(d.Digest, d.Size, kind+" manifest")
	if !ok {
		return
	}
	var v versioned
	if err := json.Unmarshal(data, &v); err != nil {
		l.problem(d.Digest.String(), integrity.BadJSON, "%s manifest: %v", kind, err)
		return
	}
	if v.filesystemImage() {
		l.manifest(d, &v, w)
		return
	}
	if v.shape() == kindIndex {
		// An index of attachments (cosign's): follow it as one.
		for _, c := range v.Manifests {
			l.descend(c, w.down(d.Digest, c), depth+1)
		}
		return
	}
	if s, _ := v.attachment(); subject == "" {
		subject = s
	}
	if kind == "artifact" {
		// A referrer entry says only whose it is: its content says what.
		kind = kindOfArtifact(v.ArtifactType, v.layerTypes())
	}
	l.attachmentManifest(d, &v, subject, kind, w)
}

// attachmentManifest records a carried attachment manifest and verifies
// its config and layers.
func (l *loader) attachmentManifest(d ocispec.Descriptor, m *versioned, subject digest.Digest, kind string, w walk) {
	att := &Attachment{Digest: d.Digest, MediaType: d.MediaType, ArtifactType: m.ArtifactType, Kind: kind, Carried: true, subject: subject}
	if att.MediaType == "" {
		att.MediaType = m.MediaType
	}
	if att.ArtifactType == "" {
		att.ArtifactType = d.ArtifactType
	}
	l.attachments = append(l.attachments, att)
	var descs []ocispec.Descriptor
	if m.Config != nil {
		descs = append(descs, *m.Config)
	}
	descs = append(descs, m.Layers...)
	missing := 0
	for _, bd := range descs {
		if bd.Data != nil {
			// The empty descriptor carries its content inline.
			if got := bd.Digest.Algorithm(); got.Available() && got.FromBytes(bd.Data) != bd.Digest {
				l.problem(bd.Digest.String(), integrity.DigestMismatch, "%s %s: inline data does not hash to its digest", kind, d.Digest)
			}
			l.reachDescriptor(bd)
			continue
		}
		switch {
		case bd.MediaType == mtInToto && l.carried(bd.Digest) && bd.Size <= l.opts.MaxJSON:
			// Read once: readBlob verifies what provenance parses.
			if p := l.provenance(bd); att.Provenance == nil {
				att.Provenance = p
			}
		case !l.verifyOpaque(bd, kind+" blob"):
			missing++
		}
	}
	l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.NotUnpacked, Content: kind, Size: d.Size,
		Detail: fmt.Sprintf("%s of %s: not a filesystem; its blobs are checked against their digests, never unpacked", kind, orUnknown(subject))})
	if missing > 0 {
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.Absent, Reason: integrity.ReferencedOnly, Size: d.Size,
			Detail: fmt.Sprintf("%s carried without %d of its blobs", kind, missing)})
	}
}

// opaque verifies a blob that is not read as JSON or a layer (an index
// entry of a media type strata does not know) and notes it.
func (l *loader) opaque(d ocispec.Descriptor, what, why string) {
	if l.verifyOpaque(d, what) {
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.NotUnpacked, Content: "artifact", Size: d.Size,
			Detail: fmt.Sprintf("%s of %s: not an image; checked against its digest, never unpacked", what, why)})
		return
	}
	if blob.Path(d.Digest) != "" {
		l.record(integrity.Problem{Blob: d.Digest.String(), Kind: integrity.Absent, Reason: integrity.Unknown, Size: d.Size,
			Detail: fmt.Sprintf("%s of %s is not in the archive", what, why)})
	}
}

// verifyOpaque marks a blob referred to and queues it to be verified by
// readQueued, with the others, in one pass over the input; it returns
// false when the blob is absent.
func (l *loader) verifyOpaque(d ocispec.Descriptor, what string) bool {
	p := blob.Path(d.Digest)
	if p == "" {
		l.problem(shorten(d.Digest.String()), integrity.BadDigest, "%s: %v", what, blob.Validate(d.Digest))
		return true
	}
	l.reached[p] = true
	if _, ok := l.src.Stat(p); !ok {
		return false
	}
	if _, queued := l.queued[p]; !queued {
		l.queued[p] = queuedBlob{d: d, what: what}
		l.queue = append(l.queue, p)
	}
	return true
}

// queuedBlob is a blob to verify without parsing it.
type queuedBlob struct {
	d    ocispec.Descriptor
	what string
}

// verifyStream checks a queued blob's bytes against its descriptor.
func verifyStream(q queuedBlob, name string, r io.Reader) *integrity.Problem {
	_, err := io.Copy(io.Discard, blob.NewVerifier(r, q.d.Digest, q.d.Size))
	id := q.d.Digest.String()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, blob.ErrDigestMismatch):
		return &integrity.Problem{Blob: id, Kind: integrity.DigestMismatch, Detail: fmt.Sprintf("%s: %v", q.what, err)}
	case errors.Is(err, blob.ErrSizeMismatch):
		return &integrity.Problem{Blob: id, Kind: integrity.SizeMismatch, Detail: fmt.Sprintf("%s: %v", q.what, err)}
	}
	return &integrity.Problem{Blob: id, Kind: integrity.Truncated, Detail: fmt.Sprintf("%s: reading %s: %v", q.what, name, err)}
}

// provenance reads an in-toto statement and keeps what SLSA provenance
// says of the builder and the source, v0.2 and v1 alike.
func (l *loader) provenance(d ocispec.Descriptor) *Provenance {
	data, ok := l.readBlob(d.Digest, d.Size, "in-toto statement")
	if !ok {
		return nil
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			Builder    struct{ ID string } `json:"builder"`
			Invocation struct {
				ConfigSource struct{ URI string } `json:"configSource"`
			} `json:"invocation"`
			RunDetails struct {
				Builder struct{ ID string } `json:"builder"`
			} `json:"runDetails"`
			BuildDefinition struct {
				ExternalParameters struct {
					ConfigSource struct{ URI string } `json:"configSource"`
				} `json:"externalParameters"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if json.Unmarshal(data, &st) != nil {
		return nil
	}
	pt := st.PredicateType
	if pt == "" {
		pt = d.Annotations[annotationPredicateType]
	}
	if !strings.HasPrefix(pt, predicateSLSAPrefixV02) && !strings.HasPrefix(pt, predicateSLSAPrefixV1) {
		return nil
	}
	p := &Provenance{PredicateType: pt, Builder: st.Predicate.Builder.ID, Source: st.Predicate.Invocation.ConfigSource.URI}
	if p.Builder == "" {
		p.Builder = st.Predicate.RunDetails.Builder.ID
	}
	if p.Source == "" {
		p.Source = st.Predicate.BuildDefinition.ExternalParameters.ConfigSource.URI
	}
	return p
}

// attach gives every attachment to the image it describes: its subject,
// or the subject of the attestation it is itself attached to (a sigstore
// bundle signs an attestation manifest). Attachments of nothing carried
// stay with the loader and are noted.
func (l *loader) attach() {
	byDigest := map[digest.Digest]*Attachment{}
	for _, a := range l.attachments {
		byDigest[a.Digest] = a
	}
	for _, a := range l.attachments {
		subject := a.subject
		for hops := 0; hops < 4; hops++ {
			parent, ok := byDigest[subject]
			if !ok || parent == a {
				break
			}
			subject = parent.subject
		}
		if img, ok := l.byDigest[subject]; ok {
			img.Attachments = append(img.Attachments, *a)
		}
	}
}

func orUnknown(d digest.Digest) string {
	if d == "" {
		return "an unnamed subject"
	}
	return shorten(d.String())
}
