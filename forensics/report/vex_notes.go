package report

import (
	"fmt"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
)

// historyNote tells of xz/liblzma package versions a later layer removed
// or replaced, from the package findings that are no longer present.
func (v *ImageVEX) historyNote() string {
	var gone []string
	for _, f := range v.Findings {
		if f.Kind == finding.Package && !f.Present && f.Package != nil {
			gone = append(gone, fmt.Sprintf("%s %s (installed by layer %d)", f.Package.Name, f.Package.Version, f.Layer))
		}
	}
	if len(gone) == 0 {
		return ""
	}
	return " An affected version was installed and later removed or replaced: " + strings.Join(gone, ", ") + "."
}

// liblzmaWords names the liblzma files the signature rules read.
func (v *ImageVEX) liblzmaWords() string {
	if v.inv == nil || len(v.inv.Liblzma) == 0 {
		return ""
	}
	var ps []string
	for i, f := range v.inv.Liblzma {
		if i == 5 {
			ps = append(ps, fmt.Sprintf("%d more", len(v.inv.Liblzma)-i))
			break
		}
		ps = append(ps, fmt.Sprintf("%s (layer %d)", f.Path, f.Layer))
	}
	return " in " + strings.Join(ps, ", ")
}

// maxListed bounds the findings a note names one by one.
const maxListed = 10

// findingList names findings: rule, layer and path.
func findingList(fs []finding.Finding) string {
	var parts []string
	for i, f := range fs {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-i))
			break
		}
		s := f.Rule + " (" + f.Severity.String() + ") in " + layerLabel(f)
		if f.Path != "" {
			s += " at " + f.Path
		}
		switch {
		case f.Drift != "":
			s += ", " + f.Drift + " in the layer's folder on this host after the pull (not in the layer as pulled)"
		case f.Layer >= 0 && !f.Present:
			s += ", deleted by a later layer but shipped"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// findingsNote mentions findings that did not decide the status.
func findingsNote(fs []finding.Finding) string {
	if len(fs) == 0 {
		return ""
	}
	return " Other findings: " + findingList(fs) + "."
}

// actionFor says what to do about the backdoor findings of an image.
func actionFor(fs []finding.Finding) string {
	var present, shipped, nested, drift bool
	for _, f := range fs {
		switch {
		case f.Drift != "":
			drift = true
		case f.Layer >= 0 && !f.Present:
			shipped = true
		case f.Kind == finding.Nested:
			nested = true
		default:
			present = true
		}
	}
	var parts []string
	if present {
		parts = append(parts, "Do not run this image. Rebuild it from a base whose xz/liblzma is outside every affected range "+
			"(a fixed release, or one older than the backdoored ones), and treat every host and key that a container of it "+
			"exposed over sshd as compromised.")
	}
	if shipped {
		parts = append(parts, "A later layer deletes some of these files, but their bytes still ship in the layer that added them: "+
			"rebuild without that layer rather than deleting on top of it, and remove the image and that layer from registries and caches.")
	}
	if drift {
		parts = append(parts, "Some of these files were planted in or changed in a layer's folder on this host after the pull, "+
			"where every container on that layer sees them: treat the host as compromised, and remove the image from its engine "+
			"rather than trusting its copy of the layer; the digests of the image as pulled do not cover these bytes.")
	}
	if nested {
		parts = append(parts, "A package or archive lying in the image carries the backdoor: remove it from the layer that adds it; "+
			"installing it plants the backdoor.")
	}
	return strings.Join(parts, " ")
}

// packageWords names packages: "liblzma5 5.6.1-1 (dpkg, layer 1)".
func packageWords(ps []VEXPackage) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %s (%s, layer %d)", p.Name, p.Version, p.Ecosystem, p.Layer))
	}
	if len(parts) == 1 {
		return parts[0] + " is"
	}
	return strings.Join(parts, ", ") + " are"
}

// whyList names packages with their reasons: "liblzma5
// 5.6.1+really5.4.5-1 (dpkg, layer 0) sorts after ...".
func whyList(ps []VEXPackage) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %s (%s, layer %d) %s", p.Name, p.Version, p.Ecosystem, p.Layer, p.Why))
	}
	return strings.Join(parts, "; ")
}
