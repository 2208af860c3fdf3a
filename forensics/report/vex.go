package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/openvex/go-vex/pkg/vex"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/rules"
)

// This file decides, image by image, what OpenVEX (openvex.go) and
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

// pkgClass is where a version of an xz/liblzma package stands.
type pkgClass int

const (
	pkgOther    pkgClass = iota // outside every range, never affected
	pkgAffected                 // inside a range
	pkgFixed                    // after the end of a range
	pkgUnknown                  // the version cannot be compared
)

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

// componentNames lists the package names the rules' package rules know,
// by ecosystem: "liblzma5, xz-utils (dpkg); xz, xz-libs (rpm)".
func componentNames(rs *rules.Set) string {
	byEco := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range rs.Rules() {
		if r.Package == nil {
			continue
		}
		for _, n := range r.Package.Names {
			if k := r.Package.Ecosystem + "\x00" + n; !seen[k] {
				seen[k] = true
				byEco[r.Package.Ecosystem] = append(byEco[r.Package.Ecosystem], n)
			}
		}
	}
	ecos := make([]string, 0, len(byEco))
	for e := range byEco {
		ecos = append(ecos, e)
	}
	sort.Strings(ecos)
	var parts []string
	for _, e := range ecos {
		sort.Strings(byEco[e])
		parts = append(parts, strings.Join(byEco[e], ", ")+" ("+e+")")
	}
	return strings.Join(parts, "; ")
}

// classify places a package against the rule set's package rules: ok is
// false for a package no rule names.
func classify(rs *rules.Set, p pkgdb.Package) (cls pkgClass, why string, ok bool) {
	cls = pkgOther
	var fixedWhy, otherWhy []string
	for _, r := range rs.Rules() {
		if r.Package == nil || r.Package.Ecosystem != string(p.Ecosystem) {
			continue
		}
		named := false
		for _, n := range r.Package.Names {
			named = named || n == p.Name
		}
		if !named {
			continue
		}
		ok = true
		for _, rg := range r.Package.Ranges {
			in, err := pkgdb.Range(rg).Contains(p.Ecosystem, p.Version)
			if err != nil {
				return pkgUnknown, err.Error(), true
			}
			if in {
				return pkgAffected, "inside a range of rule " + r.ID, true
			}
			if bound, past := pastRange(p.Ecosystem, p.Version, rg); past {
				fixedWhy = append(fixedWhy, "sorts after "+bound+" of rule "+r.ID)
			}
		}
		otherWhy = append(otherWhy, "in no range of rule "+r.ID)
	}
	if len(fixedWhy) > 0 {
		return pkgFixed, fixedWhy[0], ok
	}
	if len(otherWhy) > 0 {
		why = otherWhy[0]
	}
	return cls, why, ok
}

// pastRange says whether v comes after the end of an affected range, not
// before its start: the version a fix brought. The end is the range's
// fixed version (v at or after it), its last affected version, or, for a
// plain list of versions, the highest listed (v after it); a range open at
// the top has no end. bound describes the end passed.
func pastRange(eco pkgdb.Ecosystem, v string, rg rules.Range) (bound string, ok bool) {
	cmp := func(a, b string) (int, bool) {
		c, err := pkgdb.Compare(eco, a, b)
		return c, err == nil
	}
	lower := rg.Introduced
	if lower == "0" {
		lower = ""
	}
	var upper string
	inclusive := false // v must be above upper, not merely at it
	switch {
	case rg.Fixed != "":
		upper, bound = rg.Fixed, "fixed "+rg.Fixed
	case rg.LastAffected != "":
		upper, inclusive, bound = rg.LastAffected, true, "last affected "+rg.LastAffected
	case rg.Introduced == "" && len(rg.Versions) > 0:
		lo, hi := rg.Versions[0], rg.Versions[0]
		for _, x := range rg.Versions[1:] {
			if c, ok := cmp(x, lo); ok && c < 0 {
				lo = x
			}
			if c, ok := cmp(x, hi); ok && c > 0 {
				hi = x
			}
		}
		lower, upper, inclusive, bound = lo, hi, true, "affected "+hi
	default:
		return "", false
	}
	if lower != "" {
		if c, ok := cmp(v, lower); !ok || c < 0 {
			return "", false
		}
	}
	c, ok := cmp(v, upper)
	if !ok || c < 0 || (inclusive && c == 0) {
		return "", false
	}
	return bound, true
}

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
		if f.Layer >= 0 && !f.Present {
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
	var present, shipped, nested bool
	for _, f := range fs {
		switch {
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

// imagePURL names an image as the purl spec's oci type does:
// pkg:oci/<last part of the repository, lower case>@<digest>. The name
// comes from the image's first name, else from the input file's name. No
// qualifier is added: a VEX consumer matches a product whose qualifiers
// are a subset of its own, and its repository_url may be spelled
// differently.
func imagePURL(img *Image, input, digest string) string {
	name := ""
	if len(img.Names) > 0 {
		name = repoName(img.Names[0])
	}
	if name == "" {
		name = inputName(input)
	}
	return packageurl.NewPackageURL(packageurl.TypeOCI, "", name, digest, nil, "").ToString()
}

// repoName returns the last path part of an image name, without tag or
// digest, in lower case: "docker.io/library/debian:sid" -> "debian".
func repoName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	return purlToken(strings.ToLower(ref))
}

// inputName turns an input path into a name: the file name without its
// archive extensions.
func inputName(p string) string {
	base := filepath.Base(filepath.ToSlash(p))
	for {
		ext := filepath.Ext(base)
		switch strings.ToLower(ext) {
		case ".tar", ".gz", ".tgz", ".xz", ".zst", ".bz2", ".oci", ".docker", ".docker25":
			base = strings.TrimSuffix(base, ext)
			continue
		}
		break
	}
	if n := purlToken(strings.ToLower(base)); n != "" {
		return n
	}
	return "image"
}

// purlTypes maps a database's ecosystem to its package URL type; other
// ecosystems (nix, portage) get the generic type.
var purlTypes = map[string]string{
	"dpkg":   packageurl.TypeDebian,
	"rpm":    packageurl.TypeRPM,
	"apk":    packageurl.TypeApk,
	"pacman": packageurl.TypeAlpm,
	"conda":  packageurl.TypeConda,
	"brew":   packageurl.TypeBrew,
}

// distroTypes are the package URL types whose namespace is the
// distribution.
var distroTypes = map[string]bool{
	packageurl.TypeDebian: true, packageurl.TypeRPM: true, packageurl.TypeApk: true, packageurl.TypeAlpm: true,
}

// packagePURL names a package: pkg:deb/debian/liblzma5@5.6.1-1?arch=amd64.
// For a distribution's package the namespace is its os-release ID when
// known, and with distro the distro=<ID>-<VERSION_ID> qualifier is added
// (for an SBOM, not for VEX, where a consumer's own spelling of it would
// stop the match). rpm's epoch goes into a qualifier, as the spec asks. A
// generic package named "category/name" (portage) keeps the category as
// its namespace.
func (v *ImageVEX) packagePURL(p InventoryPackage, distro bool) string {
	typ, ok := purlTypes[string(p.Ecosystem)]
	if !ok {
		typ = packageurl.TypeGeneric
	}
	q := map[string]string{}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	version := p.Version
	if typ == packageurl.TypeRPM {
		if e, rest, found := strings.Cut(version, ":"); found {
			q["epoch"] = e
			version = rest
		}
	}
	ns, name := "", p.Name
	if distroTypes[typ] {
		ns = v.os.ID
		if distro && v.os.ID != "" {
			q["distro"] = v.os.ID
			if v.os.VersionID != "" {
				q["distro"] += "-" + v.os.VersionID
			}
		}
	} else if i := strings.LastIndex(name, "/"); i > 0 && typ == packageurl.TypeGeneric {
		ns, name = name[:i], name[i+1:]
	}
	return packageurl.NewPackageURL(typ, ns, name, version, packageurl.QualifiersFromMap(q), "").ToString()
}
