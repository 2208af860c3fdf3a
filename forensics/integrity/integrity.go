// Package integrity holds what strata records while it checks an archive
// against its own digests. Every blob an archive refers to ends in one of
// three outcomes, kept apart in every output:
//
//   - verified: its bytes match their digest and size (and a layer's
//     uncompressed bytes its diff_id); nothing is recorded;
//   - absent: the archive does not carry it. When its producer leaves such
//     blobs out by design (a platform that was never pulled, a
//     non-distributable layer) the absence is information, with a Reason;
//     when a carried image needs the blob, it is a problem;
//   - mismatch: its bytes do not match; always a problem.
//
// Besides these, blobs nothing refers to are listed (the image-layout spec
// allows them), and so are the producer defects strata read around. A
// problem is evidence, never a crash: readers record it and go on with
// whatever is still readable.
package integrity

import "fmt"

// Kind names what was recorded about a blob. The values are part of the
// JSON output and never change meaning.
type Kind string

const (
	DigestMismatch Kind = "digest-mismatch" // content does not hash to its descriptor digest
	SizeMismatch   Kind = "size-mismatch"   // content length differs from the descriptor size
	DiffIDMismatch Kind = "diffid-mismatch" // uncompressed layer does not hash to the config's rootfs.diff_ids
	MissingBlob    Kind = "missing-blob"    // a blob a carried image needs, absent with no producer reason
	ExtraBlob      Kind = "extra-blob"      // no longer recorded: see Unreferenced
	Truncated      Kind = "truncated"       // a tar or compressed stream ends early
	BadJSON        Kind = "bad-json"        // an index, manifest or config does not parse
	BadDigest      Kind = "bad-digest"      // a malformed or unsupported digest string
	MediaType      Kind = "media-type"      // content contradicting its own media type
	BadLayer       Kind = "bad-layer"       // a layer tar that cannot be walked to its end
	Limit          Kind = "limit"           // a configured safety limit was reached
	Foreign        Kind = "foreign-layer"   // no longer recorded: see Absent with NonDistributable
	// DuplicateMember is a member name an archive holds twice: no
	// producer writes one, and readers disagree on which copy counts.
	DuplicateMember Kind = "duplicate-member"

	// Absent is a referred-to blob the archive does not carry, for the
	// Reason given. Informational.
	Absent Kind = "absent"
	// Unreferenced is a blob nothing refers to, described by Content.
	// Informational: the image-layout spec allows them, and Docker 25+
	// writes some in every save.
	Unreferenced Kind = "unreferenced"
	// Defect is a known producer defect read around (Reason names it).
	// Informational.
	Defect Kind = "producer-defect"
	// NotUnpacked is a blob that is referred to and carried, verified, but
	// not a filesystem (an artifact, an attestation, a non-tar layer).
	// Informational.
	NotUnpacked Kind = "not-unpacked"
	// Unverifiable is an input that carries nothing to check it against:
	// a docker export or a root-filesystem folder has no manifest, no
	// config and no digests (Reason NoLayerHistory). Informational: it is
	// described as found, never said to be verified.
	Unverifiable Kind = "unverifiable"
	// Unreadable is a file or folder of a root-filesystem folder that
	// could not be read (permissions, an I/O error, changed while it was
	// listed): named, its bytes not examined.
	Unreadable Kind = "unreadable"

	// Drift is a file of an engine's layer folder that differs from what
	// the layer was when it was pulled (its tar-split): planted, changed,
	// re-permissioned or gone. The pulled bytes cannot say it; the folder
	// does.
	Drift Kind = "drift"
	// Inconsistent is engine metadata that contradicts itself or what it
	// names (a chain ID that does not follow from its diff_ids, a parent
	// that is not the layer below, a link to nothing).
	Inconsistent Kind = "inconsistent"
	// Degraded is a part of the input read with less than it holds
	// (xattrs of an engine's storage the examiner lacks the privilege to
	// see, a nested archive past a bound that ordinary images reach too):
	// what depends on it is said to be unknown, never absent.
	// Informational.
	Degraded Kind = "degraded"
)

// Reason says why a blob is absent, or which producer defect was read
// around. The values are part of the JSON output.
type Reason string

const (
	// PlatformNotCarried: a platform of a multi-platform index whose
	// manifest the producer left out (docker save on the containerd
	// store, ctr and nerdctl export only the platforms that were pulled).
	PlatformNotCarried Reason = "platform-not-carried"
	// ReferencedOnly: a manifest carried without its config and layers
	// (containerd's exporter with skip-missing writes a manifest alone
	// when any of its children is missing).
	ReferencedOnly Reason = "referenced-only-manifest"
	// NonDistributable: a foreign or non-distributable layer, which
	// producers do not copy.
	NonDistributable Reason = "non-distributable"
	// AttestationNotCarried: an attestation, signature or other referrer
	// of an image that was not pulled with it.
	AttestationNotCarried Reason = "attestation-not-carried"
	// ListedNotCarried: named in docker save's manifest.json but not in the
	// archive (containerd's exporter lists a manifest's layers even when
	// skip-missing left them out).
	ListedNotCarried Reason = "listed-not-carried"
	// Unknown: absent with no producer reason, where nothing carried
	// needs it.
	Unknown Reason = "unknown"

	// Docker25LayerOrder: Docker 25.0.0 wrote the OCI manifest's layers in
	// random order, and collapsed repeated ones (moby#47150, fixed in
	// 25.0.1); manifest.json kept the right order.
	Docker25LayerOrder Reason = "docker-25.0.0-layer-order"
	// CompressionMislabelled: a layer whose media type declares one
	// compression and whose bytes are another (podman save --uncompressed
	// labels plain tars +gzip; buildah#1589). Read by its magic bytes;
	// its digest decides integrity.
	CompressionMislabelled Reason = "compression-mislabelled"

	// NoLayerHistory: a docker export or a root filesystem is one layer
	// with no history, so which build step brought a file in cannot be
	// known, and nothing came with it to verify its bytes against.
	NoLayerHistory Reason = "no-layer-history"

	// WritableLayer: a container's writable layer is made by the running
	// container and recorded by no digest anywhere, so no one can verify
	// it; it is described as found.
	WritableLayer Reason = "writable-layer"
)

// Problem is one record about a blob, naming it (a digest, or a member name
// when no digest is known). Despite the name, a record of an
// informational kind (Absent, Unreferenced, Defect, NotUnpacked) is not a
// problem: see Informational.
type Problem struct {
	Blob   string `json:"blob"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
	// Reason is why an Absent blob is absent, or which Defect.
	Reason Reason `json:"reason,omitempty"`
	// Content is what an Unreferenced or NotUnpacked blob is
	// (legacy-v1-json, manifest, index, config, layer, attestation, ...).
	Content string `json:"content,omitempty"`
	// Platform is the platform an absent manifest was for, when known.
	Platform string `json:"platform,omitempty"`
	// Size is the blob's size as stored or as its descriptor says; 0 when
	// unknown.
	Size int64 `json:"size,omitempty"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Blob, p.Kind, p.Detail) }

// Informational reports whether the record is kept for completeness only
// and does not make the verdict fail.
func (p Problem) Informational() bool {
	switch p.Kind {
	case Foreign, Absent, Unreferenced, Defect, NotUnpacked, Unverifiable, Degraded:
		return true
	}
	return false
}

// Class names the part of a Report a record belongs to: "problem",
// "absent", "unreferenced" or "note".
func (p Problem) Class() string {
	switch p.Kind {
	case Absent, Foreign:
		return "absent"
	case Unreferenced:
		return "unreferenced"
	case Defect, NotUnpacked, Unverifiable, Degraded:
		return "note"
	}
	return "problem"
}

// Qualifier is what a line about a record says after its class: why an
// absent blob is absent, what an unreferenced blob is, which producer
// defect a note is about (else its kind), a problem's kind.
func (p Problem) Qualifier() string {
	switch p.Class() {
	case "absent":
		if p.Reason != "" {
			return string(p.Reason)
		}
	case "unreferenced":
		return p.Content
	case "note":
		if p.Reason != "" {
			return string(p.Reason)
		}
	}
	return string(p.Kind)
}

// Report is an integrity verdict with its records sorted into the outcomes
// they describe.
type Report struct {
	OK bool `json:"ok"`
	// Problems fail the verdict: mismatches, blobs a carried image needs
	// that are absent, unreadable content, limits reached.
	Problems []Problem `json:"problems"`
	// Absent lists the blobs the archive refers to but does not carry, by
	// its producer's design.
	Absent []Problem `json:"absent"`
	// Unreferenced lists the blobs nothing refers to.
	Unreferenced []Problem `json:"unreferenced"`
	// Notes lists producer defects read around and blobs verified but not
	// unpacked.
	Notes []Problem `json:"notes"`
}

// Verdict sorts records into a Report; it is OK when every record is
// informational.
func Verdict(records []Problem) Report {
	r := Report{OK: true, Problems: []Problem{}, Absent: []Problem{}, Unreferenced: []Problem{}, Notes: []Problem{}}
	for _, p := range records {
		switch p.Class() {
		case "absent":
			r.Absent = append(r.Absent, p)
		case "unreferenced":
			r.Unreferenced = append(r.Unreferenced, p)
		case "note":
			r.Notes = append(r.Notes, p)
		default:
			r.Problems = append(r.Problems, p)
			r.OK = false
		}
	}
	return r
}

// Records is every record of the report, problems first.
func (r Report) Records() []Problem {
	out := make([]Problem, 0, len(r.Problems)+len(r.Absent)+len(r.Unreferenced)+len(r.Notes))
	out = append(out, r.Problems...)
	out = append(out, r.Absent...)
	out = append(out, r.Unreferenced...)
	return append(out, r.Notes...)
}

// Failing is how many records fail the verdict.
func Failing(records []Problem) int {
	n := 0
	for _, p := range records {
		if !p.Informational() {
			n++
		}
	}
	return n
}

// ReasonText says a Reason in words, for text and document outputs.
func (r Reason) Text() string {
	switch r {
	case PlatformNotCarried:
		return "platform not pulled"
	case ReferencedOnly:
		return "manifest only, its config and layers not pulled"
	case NonDistributable:
		return "non-distributable layer"
	case AttestationNotCarried:
		return "attestation or signature not pulled"
	case ListedNotCarried:
		return "listed in manifest.json, not exported"
	case Docker25LayerOrder:
		return "Docker 25.0.0 layer order (moby#47150)"
	case CompressionMislabelled:
		return "media type and bytes disagree on compression"
	case NoLayerHistory:
		return "one layer, no history: unverifiable"
	case WritableLayer:
		return "a container's writable layer: unverifiable"
	case Unknown, "":
		return "no producer reason known"
	}
	return string(r)
}
