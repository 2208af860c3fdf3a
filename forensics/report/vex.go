package report

import (
	"fmt"
	"strings"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/strata-forensics/strata/forensics/finding"
)

// vex*.go decide, image by image, what OpenVEX (openvex.go) and
// CycloneDX (cyclonedx.go) say about CVE-2024-3094: one judgement, two
// languages.

// CVE is the vulnerability the OpenVEX and CycloneDX documents speak of.
const CVE = "CVE-2024-3094"

// cveURL is where CVE records are published.
const cveURL = "https://www.cve.org/CVERecord?id=" + CVE

// ImageVEX is the judgement on one image.
type ImageVEX struct {
	Input *Input
	Image *Image
	// PURL names the image: pkg:oci/<name>@<digest>, without qualifiers
	// so that a consumer's more specific URL of the same image matches.
	PURL string
	// Digest is the digest in PURL: the manifest digest, or the config
	// digest (the image ID) when the image has no manifest of its own (a
	// docker save of an image never pushed).
	Digest        string
	Status        vex.Status
	Justification vex.Justification // not_affected only
	// Notes say how the status was decided (OpenVEX status_notes).
	Notes string
	// Impact says why the image is not affected (impact_statement).
	Impact string
	// Action says what to do (action_statement), for affected.
	Action string
	// Packages are the packages the statement is about: the xz/liblzma
	// packages of the final filesystem at the status' versions (affected
	// ones for affected and not_affected by version, fixed ones for
	// fixed).
	Packages []VEXPackage
	// Findings are the image's findings the judgement rests on (anomaly
	// findings left out: they do not concern the backdoor).
	Findings []finding.Finding
	// inv and os are the image's inventory and distribution.
	inv *Inventory
	os  osRelease
}

// VEXPackage is a package of the image and its package URL.
type VEXPackage struct {
	InventoryPackage
	PURL string
	// Why says how its version compares with the rules' ranges.
	Why string
}

// VEX judges every image of every input, in document order. Images named
// the same way in two inputs (the same digest) are judged once each.
func (d *Document) VEX() []ImageVEX {
	var out []ImageVEX
	for i := range d.Inputs {
		in := &d.Inputs[i]
		for j := range in.Images {
			var inv *Inventory
			if j < len(in.inventories) {
				inv = in.inventories[j]
			}
			out = append(out, d.judge(in, &in.Images[j], inv))
		}
	}
	return out
}

// judge decides one image's status. In order:
//
//  1. affected: a finding of high or critical severity (a backdoored
//     liblzma, present or deleted but shipped, its injected object, a
//     package file carrying it, a published affected image): the bytes are
//     in the image.
//  2. under_investigation: no rule set to judge versions by; or the image
//     was not read whole (an absent layer, an integrity problem), so an
//     absence proves little; or medium findings other than package ones
//     (source tarballs, build-script markers, decoded stages): traces of
//     the attack but no backdoored binary.
//  3. not_affected, vulnerable_code_not_present: an xz/liblzma package at
//     a version inside a rule's range, but no backdoor bytes in any file.
//  4. fixed: xz/liblzma packages after the end of a rule's range (Debian's
//     5.6.1+really5.4.5-1 sorts after 5.6.1-1), none inside one.
//  5. not_affected, vulnerable_code_not_present: xz/liblzma packages
//     before every range, or liblzma files no database versions, with no
//     backdoor bytes.
//  6. not_affected, component_not_present: no database lists an
//     xz/liblzma package and no liblzma file is in the final filesystem.
//
// Which packages are xz/liblzma and which versions are affected come from
// the rule set's package rules, never from this code.
func (d *Document) judge(in *Input, img *Image, inv *Inventory) ImageVEX {
	v := ImageVEX{Input: in, Image: img, inv: inv}
	v.Digest = img.ManifestDigest
	if v.Digest == "" {
		v.Digest = img.ConfigDigest
	}
	if inv != nil && inv.ReadOSRelease != nil {
		if b, err := inv.ReadOSRelease(); err == nil {
			v.os = parseOSRelease(b)
		}
	}
	v.PURL = imagePURL(img, in.Input.Path, v.Digest)
	for _, f := range in.Findings {
		if f.Image == img.Ref && f.Kind != finding.Anomaly {
			v.Findings = append(v.Findings, f)
		}
	}

	var high, rest, traces, low []finding.Finding
	for _, f := range v.Findings {
		if f.Severity >= finding.High {
			high = append(high, f)
			continue
		}
		rest = append(rest, f)
		switch {
		case f.Kind != finding.Package && f.Severity >= finding.Medium:
			traces = append(traces, f)
		case f.Kind != finding.Package:
			low = append(low, f)
		}
	}
	classes := map[pkgClass][]VEXPackage{}
	var names string
	if d.rules != nil && inv != nil {
		names = componentNames(d.rules)
		for _, p := range inv.Packages {
			if !p.Present {
				continue
			}
			cls, why, ok := classify(d.rules, p.Package)
			if !ok {
				continue
			}
			classes[cls] = append(classes[cls], VEXPackage{InventoryPackage: p, PURL: v.packagePURL(p, false), Why: why})
		}
	}
	history := v.historyNote()

	switch {
	case len(high) > 0:
		v.Status = vex.StatusAffected
		v.Packages = classes[pkgAffected]
		v.Notes = "strata found the backdoor in this image: " + findingList(high) + "." + findingsNote(rest) + history
		v.Action = actionFor(high)
	case d.rules == nil:
		v.Status = vex.StatusUnderInvestigation
		v.Notes = "The report was written without the rule set, so package versions could not be judged." + findingsNote(v.Findings)
	case inv == nil:
		v.Status = vex.StatusUnderInvestigation
		v.Notes = "No detection ran on this image." + findingsNote(v.Findings)
	case incomplete(in, img) != "":
		v.Status = vex.StatusUnderInvestigation
		v.Notes = incomplete(in, img) + ": finding nothing proves little." + findingsNote(v.Findings)
	case len(traces) > 0:
		v.Status = vex.StatusUnderInvestigation
		v.Notes = "Traces of the xz backdoor but no backdoored binary: " + findingList(traces) +
			". Someone handled the malicious sources or build scripts in this image; an examiner should decide." +
			findingsNote(low) + history
	case len(classes[pkgAffected]) > 0:
		v.Status, v.Justification = vex.StatusNotAffected, vex.VulnerableCodeNotPresent
		v.Packages = classes[pkgAffected]
		v.Impact = packageWords(v.Packages) + " at an affected version, but no file of the image carries the backdoor: " +
			"no known digest and no byte signature matched" + v.liblzmaWords() + ". " +
			"The payload was injected only into deb and rpm builds for x86-64."
		v.Notes = "Status decided from the package versions and the absence of backdoor bytes." + findingsNote(low) + history
	case len(classes[pkgFixed]) > 0 && len(classes[pkgUnknown]) == 0:
		v.Status = vex.StatusFixed
		v.Packages = classes[pkgFixed]
		v.Notes = "At a fixed version: " + whyList(v.Packages) + ". No backdoor bytes found." + findingsNote(low) + history
	case len(classes[pkgUnknown]) > 0:
		v.Status = vex.StatusUnderInvestigation
		v.Packages = classes[pkgUnknown]
		v.Notes = "At a version the rules' ordering cannot read: " + whyList(v.Packages) + "." + findingsNote(low) + history
	case len(classes[pkgOther]) > 0 || (inv != nil && len(inv.Liblzma) > 0):
		v.Status, v.Justification = vex.StatusNotAffected, vex.VulnerableCodeNotPresent
		v.Packages = classes[pkgOther]
		if len(v.Packages) > 0 {
			v.Impact = "Outside every affected range: " + whyList(v.Packages) + ";"
		} else {
			v.Impact = "No package database names an xz/liblzma version;"
		}
		v.Impact += " no known digest and no byte signature matched" + v.liblzmaWords() + "."
		v.Notes = "Status decided from the package versions and the absence of backdoor bytes." + findingsNote(low) + history
	default:
		v.Status, v.Justification = vex.StatusNotAffected, vex.ComponentNotPresent
		v.Impact = "No package database of the image lists any of " + names +
			", and no file named liblzma.so* is in its final filesystem."
		v.Notes = "Status decided from the image's package databases and files." + findingsNote(low) + history
	}
	return v
}

// incomplete says why the image was not read whole, or "".
func incomplete(in *Input, img *Image) string {
	var absent []string
	for _, l := range img.Layers {
		if l.Absent {
			absent = append(absent, fmt.Sprint(l.Index))
		}
	}
	if len(absent) > 0 {
		return "Layers " + strings.Join(absent, ", ") + " are absent from the input"
	}
	if v := in.ImageVerdict(img); v.Problems > 0 {
		return "The image does not verify against its own digests (" + plural(v.Problems, "integrity problem") + ")"
	}
	return ""
}
