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
	return NewVerdict(in.index().findings[img.Ref], in.imageProblems(img))
}

// imageIndex is what judging an input's images one by one asks of the
// whole input, worked out once: for an input of n images (a registry's
// storage holds thousands) asking it again for each image cost n² map
// writes.
type imageIndex struct {
	findings map[string][]finding.Finding // by image ref, in the input's order
	// idOwners are, by blob, the images (indices) whose descriptors name
	// it; layerOwners the images whose layers were read from it.
	idOwners, layerOwners map[string][]int
}

// index returns the input's imageIndex, made on first use: an input is
// complete once the report holds it.
func (in *Input) index() *imageIndex {
	if in.idx != nil {
		return in.idx
	}
	x := &imageIndex{findings: map[string][]finding.Finding{}, idOwners: map[string][]int{}, layerOwners: map[string][]int{}}
	for _, f := range in.Findings {
		x.findings[f.Image] = append(x.findings[f.Image], f)
	}
	for i := range in.Images {
		for _, id := range blobIDs(&in.Images[i]) {
			x.idOwners[id] = append(x.idOwners[id], i)
		}
	}
	for i, blobs := range in.layerBlobs {
		for _, b := range blobs {
			x.layerOwners[b] = append(x.layerOwners[b], i)
		}
	}
	in.idx = x
	return x
}

// owned reports whether some image of the input owns blob b.
func (x *imageIndex) owned(b string) bool { return len(x.idOwners[b]) > 0 || len(x.layerOwners[b]) > 0 }

func (in *Input) imageProblems(img *Image) []integrity.Problem {
	if len(in.Integrity.Problems) == 0 {
		return nil
	}
	x := in.index()
	mine := func(b string) bool {
		for _, i := range x.idOwners[b] {
			if &in.Images[i] == img {
				return true
			}
		}
		for _, i := range x.layerOwners[b] {
			if in.Images[i].Ref == img.Ref {
				return true
			}
		}
		return false
	}
	var out []integrity.Problem
	for _, p := range in.Integrity.Problems {
		if !x.owned(p.Blob) || mine(p.Blob) {
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
