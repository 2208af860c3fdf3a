// Package integrity holds the problems strata records while it checks an
// archive against its own digests. A problem is evidence, never a crash:
// readers append problems and go on with whatever is still readable.
package integrity

import "fmt"

// Kind names what is wrong with a blob. The values are part of the JSON
// output and never change meaning.
type Kind string

const (
	DigestMismatch Kind = "digest-mismatch" // content does not hash to its descriptor digest
	SizeMismatch   Kind = "size-mismatch"   // content length differs from the descriptor size
	DiffIDMismatch Kind = "diffid-mismatch" // uncompressed layer does not hash to the config's rootfs.diff_ids
	MissingBlob    Kind = "missing-blob"    // a descriptor points at a blob the archive lacks
	ExtraBlob      Kind = "extra-blob"      // a blob no index, manifest or config refers to
	Truncated      Kind = "truncated"       // a tar or compressed stream ends early
	BadJSON        Kind = "bad-json"        // an index, manifest or config does not parse
	BadDigest      Kind = "bad-digest"      // a malformed or unsupported digest string
	MediaType      Kind = "media-type"      // a media type that does not match the content
	BadLayer       Kind = "bad-layer"       // a layer tar that cannot be walked to its end
	Limit          Kind = "limit"           // a configured safety limit was reached
	Foreign        Kind = "foreign-layer"   // a non-distributable layer whose blob is absent (informational)
)

// Problem is one integrity problem, naming the blob (a digest, or a member
// name when no digest is known) and what is wrong with it.
type Problem struct {
	Blob   string `json:"blob"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Blob, p.Kind, p.Detail) }

// Informational reports whether the problem is recorded for completeness
// only and does not make the verdict fail.
func (p Problem) Informational() bool { return p.Kind == Foreign }

// Report is an integrity verdict.
type Report struct {
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
}

// Verdict builds a Report from problems; it is OK when every problem is
// informational.
func Verdict(problems []Problem) Report {
	r := Report{OK: true, Problems: problems}
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	for _, p := range problems {
		if !p.Informational() {
			r.OK = false
		}
	}
	return r
}
