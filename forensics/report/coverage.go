package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Coverage says what an input carries of what it names: the platforms of
// its images, those whose content its producer left out by design, and
// the attachments it carries. Every output states it the same way (Words).
type Coverage struct {
	// Carried are the platforms of the images the input carries.
	Carried []string `json:"carried"`
	// NotCarried are the platforms its indexes name whose content is
	// absent by design (never pulled, or a manifest carried alone).
	NotCarried []string `json:"not_carried"`
	// Attachments counts the carried attachments by kind (attestation,
	// signature, sbom, artifact).
	Attachments map[string]int `json:"attachments"`
	// Absent, Unreferenced and Notes count the integrity records of each
	// informational class.
	Absent       int `json:"absent"`
	Unreferenced int `json:"unreferenced"`
	Notes        int `json:"notes"`

	attestationsAbsent, otherAbsent, defects int
	unverifiable                             bool // a root filesystem: nothing to verify
}

// Attachment is an attestation, signature or other artifact attached to an
// image, as reports describe it.
type Attachment struct {
	Digest       string            `json:"digest"`
	Kind         string            `json:"kind"`
	MediaType    string            `json:"media_type"`
	ArtifactType string            `json:"artifact_type,omitempty"`
	Carried      bool              `json:"carried"`
	Provenance   *image.Provenance `json:"provenance,omitempty"`
}

func attachmentsOf(img *image.Image) []Attachment {
	out := []Attachment{}
	for _, a := range img.Attachments {
		out = append(out, Attachment{Digest: a.Digest.String(), Kind: a.Kind, MediaType: a.MediaType,
			ArtifactType: a.ArtifactType, Carried: a.Carried, Provenance: a.Provenance})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Digest < out[j].Digest
	})
	return out
}

func newCoverage(images []Image, r integrity.Report) Coverage {
	c := Coverage{Carried: []string{}, NotCarried: []string{}, Attachments: map[string]int{},
		Absent: len(r.Absent), Unreferenced: len(r.Unreferenced), Notes: len(r.Notes)}
	carried := map[string]bool{}
	for _, img := range images {
		if img.Platform != "" && !carried[img.Platform] {
			carried[img.Platform] = true
			c.Carried = append(c.Carried, img.Platform)
		}
		for _, a := range img.Attachments {
			if a.Carried {
				c.Attachments[a.Kind]++
			}
		}
	}
	for _, p := range r.Notes {
		if p.Kind == integrity.Defect {
			c.defects++
		}
		if p.Kind == integrity.Unverifiable && p.Reason == integrity.NoLayerHistory {
			c.unverifiable = true
		}
	}
	seen := map[string]bool{}
	for _, p := range r.Absent {
		switch {
		case p.Reason == integrity.AttestationNotCarried:
			c.attestationsAbsent++
		case p.Reason != integrity.PlatformNotCarried && p.Reason != integrity.ReferencedOnly:
			c.otherAbsent++
		}
		if p.Platform == "" || p.Platform == "unknown/unknown" || carried[p.Platform] || seen[p.Platform] {
			continue
		}
		if p.Reason != integrity.PlatformNotCarried && p.Reason != integrity.ReferencedOnly {
			continue
		}
		seen[p.Platform] = true
		c.NotCarried = append(c.NotCarried, p.Platform)
	}
	sort.Strings(c.Carried)
	sort.Strings(c.NotCarried)
	return c
}

// Words says the coverage in one line, after the integrity verdict:
// "carries linux/amd64 of 3 platforms; absent by design: linux/arm64,
// linux/arm/v7 (not pulled); 1 attestation".
func (c Coverage) Words() string {
	var parts []string
	if len(c.NotCarried) > 0 {
		parts = append(parts, fmt.Sprintf("carries %s of %d platforms", strings.Join(c.Carried, ", "), len(c.Carried)+len(c.NotCarried)),
			"absent by design: "+strings.Join(c.NotCarried, ", ")+" (not pulled)")
	}
	if c.attestationsAbsent > 0 {
		parts = append(parts, plural(c.attestationsAbsent, "attestation")+" not pulled")
	}
	if c.otherAbsent > 0 {
		parts = append(parts, plural(c.otherAbsent, "other blob")+" absent by design")
	}
	kinds := make([]string, 0, len(c.Attachments))
	for k := range c.Attachments {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		parts = append(parts, plural(c.Attachments[k], k))
	}
	if c.Unreferenced > 0 {
		parts = append(parts, plural(c.Unreferenced, "unreferenced blob"))
	}
	if c.defects > 0 {
		parts = append(parts, plural(c.defects, "producer defect")+" read around")
	}
	if c.unverifiable {
		parts = append(parts, "unverifiable: one layer, no history (a docker export or a root filesystem)")
	}
	return strings.Join(parts, "; ")
}

// Brief says the coverage in a few words, for a title bar: "1 of 3
// platforms carried, 2 attachments, 1 other blob absent by design". It
// names the same things as Words, counted.
func (c Coverage) Brief() string {
	var parts []string
	if len(c.NotCarried) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d platforms carried", len(c.Carried), len(c.Carried)+len(c.NotCarried)))
	}
	n := 0
	for _, k := range c.Attachments {
		n += k
	}
	if n > 0 {
		parts = append(parts, plural(n, "attachment"))
	}
	if c.attestationsAbsent > 0 {
		parts = append(parts, plural(c.attestationsAbsent, "attestation")+" not pulled")
	}
	if c.otherAbsent > 0 {
		parts = append(parts, plural(c.otherAbsent, "other blob")+" absent by design")
	}
	if c.Unreferenced > 0 {
		parts = append(parts, plural(c.Unreferenced, "unreferenced blob"))
	}
	if c.defects > 0 {
		parts = append(parts, plural(c.defects, "producer defect"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
