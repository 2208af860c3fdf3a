package report

import (
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Status is the overall verdict.
type Status string

const (
	// Compromised: a finding of high or critical severity.
	Compromised Status = "compromised"
	// Suspicious: findings, none above medium severity.
	Suspicious Status = "suspicious"
	// IntegrityFailed: no findings, but the input does not verify against
	// its own digests, so the absence of findings proves little.
	IntegrityFailed Status = "integrity-failed"
	// Clean: no findings and every blob verified.
	Clean Status = "clean"
)

// Verdict sums up findings and integrity problems.
type Verdict struct {
	Status        Status            `json:"status"`
	WorstSeverity *finding.Severity `json:"worst_severity"` // null without findings
	Findings      int               `json:"findings"`
	Problems      int               `json:"problems"` // problems that fail integrity (informational ones excluded)
}

// NewVerdict judges a set of findings and integrity problems.
func NewVerdict(fs []finding.Finding, problems []integrity.Problem) Verdict {
	v := Verdict{Findings: len(fs)}
	for _, p := range problems {
		if !p.Informational() {
			v.Problems++
		}
	}
	if worst, any := finding.Worst(fs); any {
		v.WorstSeverity = &worst
	}
	return v.judged()
}

// and is the verdict over both v's findings and problems and o's.
func (v Verdict) and(o Verdict) Verdict {
	v.Findings += o.Findings
	v.Problems += o.Problems
	if o.WorstSeverity != nil && (v.WorstSeverity == nil || *o.WorstSeverity > *v.WorstSeverity) {
		worst := *o.WorstSeverity
		v.WorstSeverity = &worst
	}
	return v.judged()
}

// judged sets the status from the counts and the worst severity.
func (v Verdict) judged() Verdict {
	switch {
	case v.WorstSeverity != nil && *v.WorstSeverity >= finding.High:
		v.Status = Compromised
	case v.WorstSeverity != nil:
		v.Status = Suspicious
	case v.Problems > 0:
		v.Status = IntegrityFailed
	default:
		v.Status = Clean
	}
	return v
}

// Failed reports whether the verdict warrants exit code 1.
func (v Verdict) Failed() bool { return v.Findings > 0 || v.Problems > 0 }

// ImageVerdict judges one image of an input: its own findings, and the
// integrity problems that touch its blobs or no image in particular (an
// unreadable index concerns them all).
func (in *Input) ImageVerdict(img *Image) Verdict {
	var fs []finding.Finding
	for _, f := range in.Findings {
		if f.Image == img.Ref {
			fs = append(fs, f)
		}
	}
	return NewVerdict(fs, in.imageProblems(img))
}

func (in *Input) imageProblems(img *Image) []integrity.Problem {
	mine := map[string]bool{}
	owned := map[string]bool{} // blobs of any image
	for i := range in.Images {
		for _, id := range blobIDs(&in.Images[i]) {
			owned[id] = true
			if &in.Images[i] == img {
				mine[id] = true
			}
		}
	}
	for i, blobs := range in.layerBlobs {
		for _, b := range blobs {
			owned[b] = true
			if in.Images[i].Ref == img.Ref {
				mine[b] = true
			}
		}
	}
	var out []integrity.Problem
	for _, p := range in.Integrity.Problems {
		if mine[p.Blob] || !owned[p.Blob] {
			out = append(out, p)
		}
	}
	return out
}

func blobIDs(img *Image) []string {
	ids := []string{img.ManifestDigest, img.ConfigDigest}
	ids = append(ids, img.IndexDigests...)
	for _, l := range img.Layers {
		ids = append(ids, l.Digest, l.DiffID)
	}
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}
