// Package report turns scan results into evidence an auditor can file: one
// document model, built input by input from plain Sources (a scan result
// describes itself as one), written as JSON
// (strata.report/v1, with a JSON Schema), SARIF 2.1.0, Markdown, HTML and
// terminal text, plus an evidence folder holding every report, a copy of each
// matched file and a SHA256SUMS over it all.
//
// Every writer is deterministic: the same results and Meta give the same
// bytes. Only the scan's timestamps vary between runs, and the caller fixes
// those (scan.Options.Now, from SOURCE_DATE_EPOCH).
package report

import (
	"strings"
	"time"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/rules"
)

// SchemaID names the JSON document format; later versions may add fields,
// never rename or re-purpose them.
const SchemaID = "strata.report/v1"

// InformationURI is where strata is documented, for SARIF consumers.
const InformationURI = "https://github.com/strata-forensics/strata"

// Meta is the chain of custody the scan itself cannot know: which build of
// which tool ran, for whom, and how it was invoked.
type Meta struct {
	Tool      string // "strata"
	Version   string
	Commit    string
	GoVersion string
	Examiner  string // --examiner, may be empty
	Case      string // --case, may be empty
	Args      []string
	// Rules, when set, gives each matched rule's title, description and
	// sources (SARIF rules, the rule sections of Markdown and HTML).
	Rules *rules.Set
}

// Tool identifies the program that wrote the report.
type Tool struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	GoVersion      string `json:"go_version"`
	InformationURI string `json:"information_uri"`
}

// Custody says who ran the scan, for what, and how.
type Custody struct {
	Examiner string   `json:"examiner,omitempty"`
	Case     string   `json:"case,omitempty"`
	Command  []string `json:"command"`
	// Cache, for a scan that used a cache folder (--cache), says how many
	// layers' results came from it and under which key, and which
	// entries were rejected.
	Cache *CacheCustody `json:"cache,omitempty"`
}

// Ruleset identifies the rules every finding was judged by.
type Ruleset struct {
	Version string           `json:"version"`
	SHA256  string           `json:"sha256"`
	Rules   int              `json:"rules"`
	Files   []rules.FileInfo `json:"files"`
}

// Document is a report over one or more inputs.
type Document struct {
	Schema   string            `json:"schema"`
	Tool     Tool              `json:"tool"`
	Custody  Custody           `json:"custody"`
	Ruleset  *Ruleset          `json:"ruleset"` // null when no detection ran
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Verdict  Verdict           `json:"verdict"`
	Inputs   []Input           `json:"inputs"`
	Findings []finding.Finding `json:"findings"`

	rules *rules.Set
	// inputRuleset is set once Ruleset comes from an input rather than
	// from Meta.Rules.
	inputRuleset bool
	matched      matchedFiles
	// spool, when set, holds the JSON of the inputs and findings in
	// place of Inputs and Findings (spool.go).
	spool *jsonSpool
	// text, when set, holds the text of the inputs in place of Inputs
	// and Findings (spool_text.go).
	text *textSpool
	// linesOnly keeps only the input added last (LinesOnly).
	linesOnly bool
}

// NewDocument starts the report model, describing the sources given; Add
// describes more. Sources are described in the order added.
func NewDocument(meta Meta, sources ...Source) *Document {
	tool := meta.Tool
	if tool == "" {
		tool = "strata"
	}
	d := &Document{
		Schema: SchemaID,
		Tool: Tool{Name: tool, Version: meta.Version, Commit: meta.Commit,
			GoVersion: meta.GoVersion, InformationURI: InformationURI},
		Custody:  Custody{Examiner: meta.Examiner, Case: meta.Case, Command: nonNil(meta.Args)},
		Verdict:  NewVerdict(nil, nil),
		Inputs:   []Input{},
		Findings: []finding.Finding{},
		rules:    meta.Rules,
	}
	if meta.Rules != nil {
		d.Ruleset = rulesetOf(meta.Rules.Info())
	}
	for _, src := range sources {
		d.Add(src)
	}
	return d
}

// Add describes one more input. The document keeps what it reports and,
// for the evidence folder, the matched files' entries and src's openers;
// nothing else of src, so src's layer listings can go once it is added.
//
// A spooled document (Spool, SpoolText) keeps only the sums the document-level
// fields need: the input's entry and its findings are written to the
// spool here, and nothing of src is kept.
func (d *Document) Add(src Source) {
	in := newInput(src)
	d.Verdict = d.Verdict.and(in.Verdict)
	d.addCache(&in)
	if !d.inputRuleset && src.Ruleset != nil {
		// The first input that ran detection names the rules.
		d.Ruleset, d.inputRuleset = rulesetOf(*src.Ruleset), true
	}
	if d.Started.IsZero() || (!in.Started.IsZero() && in.Started.Before(d.Started)) {
		d.Started = in.Started
	}
	if in.Finished.After(d.Finished) {
		d.Finished = in.Finished
	}
	switch {
	case d.spool != nil:
		d.spool.addInput(&in)
		return
	case d.text != nil:
		d.text.addInput(&in)
		return
	case d.linesOnly:
		d.Inputs = append(d.Inputs[:0], in)
		d.Findings = append(d.Findings[:0], in.Findings...)
		return
	}
	d.Inputs = append(d.Inputs, in)
	d.Findings = append(d.Findings, in.Findings...)
	d.matched.add(src)
}

func rulesetOf(info rules.Info) *Ruleset {
	return &Ruleset{Version: info.Version, SHA256: info.SHA256, Rules: info.Rules, Files: nonNil(info.Files)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// shortDigest shortens "sha256:<hex>" to "sha256:<12 hex>" for tables and
// terminal lines; reports keep the full digest elsewhere.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		if len(d) > 12 {
			return d[:12]
		}
		return d
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return alg + ":" + hex
}
