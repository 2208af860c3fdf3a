package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/strata-forensics/strata/forensics/finding"
)

// sarifLevel maps a severity to a SARIF level, the only severity that
// code-scanning dashboards read.
func sarifLevel(s finding.Severity) string {
	switch {
	case s >= finding.High:
		return "error"
	case s == finding.Medium:
		return "warning"
	default:
		return "note"
	}
}

// ArtifactURI names a file of an image's layer as a URI:
// oci:///<digest>/layers/<n>/<path>. The digest is the image's manifest
// digest, or its config digest when it has no manifest (a legacy docker
// save). The authority is empty on purpose: "oci://sha256:<hex>" would make
// the digest's hex a port number, which RFC 3986 parsers (and SARIF's
// uri-reference format) reject. Each path segment is percent-encoded. A
// negative layer names the image itself; an empty path the layer.
func ArtifactURI(imageDigest string, layer int, p string) string {
	var b strings.Builder
	b.WriteString("oci:///")
	b.WriteString(escapeSegment(imageDigest))
	if layer < 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "/layers/%d", layer)
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(escapeSegment(seg))
	}
	return b.String()
}

// escapeSegment percent-encodes a path segment but keeps ':' (legal in a
// segment of an absolute path, and the separator of every digest).
func escapeSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%3A", ":")
}

// imageDigest returns the digest that names image ref of input in in URIs.
func (in *Input) imageDigest(ref string) string {
	for _, img := range in.Images {
		if img.Ref == ref {
			if img.ManifestDigest != "" {
				return img.ManifestDigest
			}
			return img.ConfigDigest
		}
	}
	return ref
}

// WriteSARIF writes a SARIF 2.1.0 log with one run.
func (d *Document) WriteSARIF(w io.Writer) error {
	log, err := d.SARIF()
	if err != nil {
		return err
	}
	return writeJSON(w, log)
}

// SARIF builds the SARIF log.
func (d *Document) SARIF() (*sarif.Report, error) {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return nil, fmt.Errorf("report: sarif: %w", err)
	}
	driver := sarif.NewVersionedDriver(d.Tool.Name, d.Tool.Version).WithInformationURI(d.Tool.InformationURI)
	driver.Properties = sarif.Properties{"commit": d.Tool.Commit, "go_version": d.Tool.GoVersion}
	if d.Ruleset != nil {
		driver.Properties["ruleset"] = d.Ruleset
	}
	run := sarif.NewRun(*sarif.NewTool(driver))

	ruleIndex := map[string]uint{}
	for i, rd := range d.Rules() {
		ruleIndex[rd.ID] = uint(i)
		driver.Rules = append(driver.Rules, sarifRule(rd))
	}

	successful := true
	inv := &sarif.Invocation{ExecutionSuccessful: &successful, Arguments: d.Custody.Command}
	if !d.Started.IsZero() {
		s, e := d.Started.UTC(), d.Finished.UTC()
		inv.StartTimeUTC, inv.EndTimeUTC = &s, &e
	}
	inv.Properties = sarif.Properties{}
	if d.Custody.Examiner != "" {
		inv.Properties["examiner"] = d.Custody.Examiner
	}
	if d.Custody.Case != "" {
		inv.Properties["case"] = d.Custody.Case
	}
	run.Invocations = []*sarif.Invocation{inv}
	run.Properties = sarif.Properties{"verdict": d.Verdict}

	for i := range d.Inputs {
		in := &d.Inputs[i]
		art := sarif.NewArtifact().
			WithLocation(sarif.NewSimpleArtifactLocation(fileURI(in.Input.Path))).
			WithLength(int(in.Input.Size)).
			WithHashes(map[string]string{"sha-256": in.Input.SHA256})
		art.Properties = sarif.Properties{"format": in.Input.Format, "integrity": in.Integrity}
		if in.Input.Compression != "" {
			art.Properties["compression"] = in.Input.Compression
		}
		run.Artifacts = append(run.Artifacts, art)
		for _, f := range in.Findings {
			run.AddResult(sarifResult(in, f, ruleIndex[f.Rule]))
		}
	}
	log.AddRun(run)
	return log, nil
}

// fileURI turns an input path into a URI reference: relative paths stay
// relative, each segment percent-encoded.
func fileURI(p string) string {
	segs := strings.Split(strings.ReplaceAll(p, "\\", "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := strings.Join(segs, "/")
	if strings.HasPrefix(p, "/") {
		return "file://" + u
	}
	return u
}

func sarifRule(rd RuleDoc) *sarif.ReportingDescriptor {
	title := rd.Title
	if title == "" {
		title = rd.ID
	}
	r := sarif.NewRule(rd.ID).WithName(ruleName(rd.ID)).
		WithShortDescription(sarif.NewMultiformatMessageString(title))
	if rd.Description != "" {
		r.WithFullDescription(sarif.NewMultiformatMessageString(rd.Description))
	}
	var text, md strings.Builder
	text.WriteString(title)
	md.WriteString("**" + mdEscape(title) + "**")
	if rd.Description != "" {
		text.WriteString("\n\n" + rd.Description)
		md.WriteString("\n\n" + mdEscape(rd.Description))
	}
	if len(rd.Sources) > 0 {
		text.WriteString("\n\nSources:")
		md.WriteString("\n\nSources:\n")
		for _, s := range rd.Sources {
			text.WriteString("\n- " + s.ID + ": " + s.Ref)
			line := "\n- " + mdEscape(s.ID) + ": " + mdEscape(s.Ref)
			if s.Note != "" {
				text.WriteString(" (" + s.Note + ")")
				line += " (" + mdEscape(s.Note) + ")"
			}
			md.WriteString(line)
		}
		if strings.HasPrefix(rd.Sources[0].Ref, "http") {
			r.WithHelpURI(rd.Sources[0].Ref)
		}
	}
	r.Help = &sarif.MultiformatMessageString{}
	t, m := text.String(), md.String()
	r.Help.Text, r.Help.Markdown = &t, &m
	if sev, err := finding.ParseSeverity(rd.Severity); err == nil {
		r.DefaultConfiguration = sarif.NewReportingConfiguration().WithLevel(sarifLevel(sev))
	}
	props := sarif.Properties{"severity": rd.Severity, "kind": rd.Kind}
	if rd.File != "" {
		props["rule_file"] = rd.File
	}
	srcs := []map[string]string{}
	for _, s := range rd.Sources {
		m := map[string]string{"id": s.ID, "ref": s.Ref}
		if s.Note != "" {
			m["note"] = s.Note
		}
		srcs = append(srcs, m)
	}
	props["sources"] = srcs
	// GitHub code scanning reads these two properties.
	props["tags"] = []string{"security"}
	props["security-severity"] = securitySeverity(rd.Severity)
	r.Properties = props
	return r
}

// securitySeverity is the CVSS-like score code-scanning dashboards sort by.
func securitySeverity(s string) string {
	switch s {
	case "critical":
		return "10.0"
	case "high":
		return "8.0"
	case "medium":
		return "5.0"
	case "low":
		return "3.0"
	}
	return "0.0"
}

// ruleName gives SARIF's PascalCase rule name from an id.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if r == '-' || r == '_' || r == '.' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func sarifResult(in *Input, f finding.Finding, idx uint) *sarif.Result {
	msg := f.Message
	if msg == "" {
		msg = f.Rule
	}
	res := sarif.NewRuleResult(f.Rule).WithRuleIndex(int(idx)).WithLevel(sarifLevel(f.Severity)).
		WithMessage(sarif.NewTextMessage(msg))
	imgDigest := in.imageDigest(f.Image)
	uri := ArtifactURI(imgDigest, f.Layer, f.Path)
	loc := sarif.NewLocationWithPhysicalLocation(sarif.NewPhysicalLocation().
		WithArtifactLocation(sarif.NewSimpleArtifactLocation(uri)))
	res.AddLocation(loc)
	props := sarif.Properties{
		"image":        f.Image,
		"image_digest": imgDigest,
		"layer":        f.Layer,
		"layer_digest": f.LayerDigest,
		"path":         f.Path,
		"present":      f.Present,
		"sha256":       f.SHA256,
		"evidence":     f.Evidence,
		"kind":         string(f.Kind),
		"severity":     f.Severity.String(),
		"input":        in.Input.Path,
		"input_sha256": in.Input.SHA256,
	}
	if f.Package != nil {
		props["package"] = f.Package
	}
	if f.Drift != "" {
		props["drift"] = f.Drift
	}
	res.Properties = props
	// A stable identity across runs, so dashboards track one finding.
	parts := []string{f.Rule, imgDigest, f.LayerDigest, f.Path, f.Evidence}
	if f.Drift != "" {
		// Bytes planted on one host are another finding than the same
		// bytes in the layer as pulled; every other fingerprint stays as
		// it was.
		parts = append(parts, "drift:"+f.Drift)
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	res.PartialFingerprints = map[string]interface{}{"strataFinding/v1": hex.EncodeToString(h[:16])}
	return res
}
