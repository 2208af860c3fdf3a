package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/strata-forensics/strata/forensics/finding"
)

// CycloneDXVersion is the CycloneDX specification the BOM follows.
const CycloneDXVersion = cdx.SpecVersion1_6

// Property names of the CycloneDX BOM, in strata's namespace.
const (
	PropLayerIndex      = "strata:layer:index"
	PropLayerDigest     = "strata:layer:digest"
	PropPackageDB       = "strata:package:database"
	PropEcosystem       = "strata:package:ecosystem"
	PropSourcePackage   = "strata:package:source"
	PropSourceVersion   = "strata:package:source-version"
	PropPresent         = "strata:present"
	PropImageRef        = "strata:image:ref"
	PropManifestDigest  = "strata:image:manifest-digest"
	PropConfigDigest    = "strata:image:config-digest"
	PropPlatform        = "strata:image:platform"
	PropImageVerdict    = "strata:image:verdict"
	PropInputPath       = "strata:input:path"
	PropInputSHA256     = "strata:input:sha256"
	PropFinding         = "strata:finding"
	PropVEXStatus       = "strata:vex:status"
	PropVEXJust         = "strata:vex:justification"
	PropExaminer        = "strata:custody:examiner"
	PropCase            = "strata:custody:case"
	PropRulesetVersion  = "strata:ruleset:version"
	PropRulesetSHA256   = "strata:ruleset:sha256"
	PropVerdict         = "strata:verdict"
	propLayerDigestOfN  = "strata:layer:%d:digest"
	propLayerCreatedByN = "strata:layer:%d:created-by"
)

// WriteCycloneDX writes a CycloneDX 1.6 JSON BOM: a container component
// per image holding its operating system and every package of every
// database read, each with the layer that installed it (index and digest)
// as properties, and the findings as CVE-2024-3094 vulnerabilities whose
// analysis carries the same judgement as the OpenVEX statement.
func (d *Document) WriteCycloneDX(w io.Writer) error {
	bom := d.CycloneDX()
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, CycloneDXVersion); err != nil {
		return fmt.Errorf("report: cyclonedx: %w", err)
	}
	_, err := w.Write(unescapeHTML(buf.Bytes()))
	return err
}

// CycloneDX builds the BOM. Its timestamp is the time the first input
// began scanning (fixed by SOURCE_DATE_EPOCH), to the second, as the
// OpenVEX document's; its serial number is a
// name-based UUID of everything else, so that a rescan with the same
// results gives the same BOM.
func (d *Document) CycloneDX() *cdx.BOM {
	bom := &cdx.BOM{
		JSONSchema:  "http://cyclonedx.org/schema/bom-" + CycloneDXVersion.String() + ".schema.json",
		BOMFormat:   cdx.BOMFormat,
		SpecVersion: CycloneDXVersion,
		Version:     1,
	}
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: d.Tool.Name, Version: d.Tool.Version}
	if d.Tool.InformationURI != "" {
		tool.ExternalReferences = &[]cdx.ExternalReference{{URL: d.Tool.InformationURI, Type: cdx.ERTypeWebsite}}
	}
	meta := &cdx.Metadata{Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{tool}}}
	var mprops []cdx.Property
	if d.Custody.Examiner != "" {
		meta.Authors = &[]cdx.OrganizationalContact{{Name: d.Custody.Examiner}}
		mprops = append(mprops, cdx.Property{Name: PropExaminer, Value: d.Custody.Examiner})
	}
	if d.Custody.Case != "" {
		mprops = append(mprops, cdx.Property{Name: PropCase, Value: d.Custody.Case})
	}
	if d.Ruleset != nil {
		mprops = append(mprops, cdx.Property{Name: PropRulesetVersion, Value: d.Ruleset.Version},
			cdx.Property{Name: PropRulesetSHA256, Value: d.Ruleset.SHA256})
	}
	mprops = append(mprops, cdx.Property{Name: PropVerdict, Value: string(d.Verdict.Status)})
	meta.Properties = &mprops
	bom.Metadata = meta

	var comps []cdx.Component
	var vulns []cdx.Vulnerability
	n := 0
	for i := range d.Inputs {
		in := &d.Inputs[i]
		for j := range in.Images {
			var inv *Inventory
			if j < len(in.inventories) {
				inv = in.inventories[j]
			}
			v := d.judge(in, &in.Images[j], inv)
			n++
			c, refs := cdxImage(&v, fmt.Sprintf("image-%d", n))
			comps = append(comps, c)
			if vu, ok := cdxVulnerability(&v, c.BOMRef, refs); ok {
				vulns = append(vulns, vu)
			}
		}
	}
	if len(comps) > 0 {
		bom.Components = &comps
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}

	// The serial number names the content, timestamp aside.
	var body bytes.Buffer
	if err := cdx.NewBOMEncoder(&body, cdx.BOMFileFormatJSON).Encode(bom); err == nil {
		bom.SerialNumber = "urn:uuid:" + nameUUID("cyclonedx", body.Bytes())
	}
	if !d.Started.IsZero() {
		meta.Timestamp = d.Started.UTC().Format(time.RFC3339)
	}
	return bom
}

// pkgKey finds a package's component from a package finding.
type pkgKey struct{ db, name, version string }

// cdxImage describes one image: a container component holding its
// operating system and its packages. refs maps packages to bom-refs.
func cdxImage(v *ImageVEX, ref string) (cdx.Component, map[pkgKey][]string) {
	img := v.Image
	name := img.Ref
	if len(img.Names) > 0 {
		name = img.Names[0]
	}
	c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeContainer, Name: name, Version: v.Digest, PackageURL: v.PURL}
	if alg, hex, ok := strings.Cut(v.Digest, ":"); ok && alg == "sha256" {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex}}
	}
	props := []cdx.Property{{Name: PropImageRef, Value: img.Ref}}
	if img.ManifestDigest != "" {
		props = append(props, cdx.Property{Name: PropManifestDigest, Value: img.ManifestDigest})
	}
	props = append(props, cdx.Property{Name: PropConfigDigest, Value: img.ConfigDigest})
	if img.Platform != "" {
		props = append(props, cdx.Property{Name: PropPlatform, Value: img.Platform})
	}
	props = append(props,
		cdx.Property{Name: PropImageVerdict, Value: string(v.Input.ImageVerdict(img).Status)},
		cdx.Property{Name: PropInputPath, Value: v.Input.Input.Path},
		cdx.Property{Name: PropInputSHA256, Value: v.Input.Input.SHA256})
	for _, l := range img.Layers {
		props = append(props, cdx.Property{Name: fmt.Sprintf(propLayerDigestOfN, l.Index), Value: l.Digest})
		if l.CreatedBy != "" {
			props = append(props, cdx.Property{Name: fmt.Sprintf(propLayerCreatedByN, l.Index), Value: l.CreatedBy})
		}
	}
	c.Properties = &props

	refs := map[pkgKey][]string{}
	var sub []cdx.Component
	if v.os.ID != "" {
		sub = append(sub, cdx.Component{BOMRef: ref + "/os", Type: cdx.ComponentTypeOS, Name: v.os.ID, Version: v.os.VersionID})
	}
	if v.inv != nil {
		used := map[string]int{}
		for _, p := range v.inv.Packages {
			purl := v.packagePURL(p, true)
			pref := ref + "/" + purl
			if used[pref]++; used[pref] > 1 {
				pref += "#" + strconv.Itoa(used[pref]) // the same package in two databases, or in one twice
			}
			pc := cdx.Component{BOMRef: pref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: purl}
			pp := []cdx.Property{
				{Name: PropLayerIndex, Value: strconv.Itoa(p.Layer)},
				{Name: PropLayerDigest, Value: layerDigestOf(img, p.Layer)},
				{Name: PropPackageDB, Value: p.Database},
				{Name: PropEcosystem, Value: string(p.Ecosystem)},
			}
			if p.Source != "" && p.Source != p.Name {
				pp = append(pp, cdx.Property{Name: PropSourcePackage, Value: p.Source})
			}
			if p.SourceVersion != "" && p.SourceVersion != p.Version {
				pp = append(pp, cdx.Property{Name: PropSourceVersion, Value: p.SourceVersion})
			}
			if !p.Present {
				// Removed or replaced by a later layer: not part of what
				// runs, but its layer still ships.
				pc.Scope = cdx.ScopeExcluded
				pp = append(pp, cdx.Property{Name: PropPresent, Value: "false"})
			}
			pc.Properties = &pp
			sub = append(sub, pc)
			k := pkgKey{p.Database, p.Name, p.Version}
			refs[k] = append(refs[k], pref)
		}
	}
	if len(sub) > 0 {
		c.Components = &sub
	}
	return c, refs
}

// layerDigestOf is the digest of layer i of img, "" when unknown.
func layerDigestOf(img *Image, i int) string {
	for _, l := range img.Layers {
		if l.Index == i {
			return l.Digest
		}
	}
	return ""
}

// cdxVulnerability describes an image's findings as one CVE-2024-3094
// vulnerability affecting the image and the packages the package findings
// name; none without findings.
func cdxVulnerability(v *ImageVEX, imageRef string, refs map[pkgKey][]string) (cdx.Vulnerability, bool) {
	if len(v.Findings) == 0 {
		return cdx.Vulnerability{}, false
	}
	affects := []cdx.Affects{{Ref: imageRef}}
	seen := map[string]bool{}
	var props []cdx.Property
	worst := finding.Info
	for _, f := range v.Findings {
		if f.Severity > worst {
			worst = f.Severity
		}
		props = append(props, cdx.Property{Name: PropFinding, Value: findingList([]finding.Finding{f})})
		if f.Package == nil {
			continue
		}
		for _, r := range refs[pkgKey{f.Path, f.Package.Name, f.Package.Version}] {
			if !seen[r] {
				seen[r] = true
				affects = append(affects, cdx.Affects{Ref: r})
			}
		}
	}
	props = append(props, cdx.Property{Name: PropVEXStatus, Value: string(v.Status)})
	if v.Justification != "" {
		props = append(props, cdx.Property{Name: PropVEXJust, Value: string(v.Justification)})
	}
	detail := v.Notes
	if v.Impact != "" {
		detail = v.Impact + " " + detail
	}
	vu := cdx.Vulnerability{
		BOMRef: imageRef + "/" + CVE,
		ID:     CVE,
		Source: &cdx.Source{Name: "CVE", URL: cveURL},
		Ratings: &[]cdx.VulnerabilityRating{{
			Source:   &cdx.Source{Name: "strata"},
			Severity: cdx.Severity(worst.String()),
			Method:   cdx.ScoringMethodOther,
		}},
		Description: "Backdoor in the xz/liblzma 5.6.0 and 5.6.1 releases",
		Detail: imageWords(v) + fmt.Sprintf("%d findings, the worst %s; each is a %s property.",
			len(v.Findings), worst, PropFinding),
		Recommendation: v.Action,
		Analysis:       &cdx.VulnerabilityAnalysis{State: cdxState(v.Status), Detail: detail},
		Affects:        &affects,
		Properties:     &props,
	}
	if v.Status == vex.StatusNotAffected {
		vu.Analysis.Justification = cdx.IAJCodeNotPresent
	}
	if v.Status == vex.StatusAffected {
		vu.Analysis.Response = &[]cdx.ImpactAnalysisResponse{cdx.IARUpdate}
	}
	return vu, true
}

// cdxState maps an OpenVEX status to CycloneDX's impact analysis state.
func cdxState(s vex.Status) cdx.ImpactAnalysisState {
	switch s {
	case vex.StatusAffected:
		return cdx.IASExploitable
	case vex.StatusFixed:
		return cdx.IASResolved
	case vex.StatusNotAffected:
		return cdx.IASNotAffected
	}
	return cdx.IASInTriage
}
