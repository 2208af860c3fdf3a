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
	"io"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
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

// InputInfo is the input file itself, for the chain of custody.
type InputInfo struct {
	Path        string `json:"path"`
	Format      string `json:"format"`
	Compression string `json:"compression,omitempty"` // outer compression, absent when none
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
}

// Image is one image as inspect and the report describe it.
type Image struct {
	Ref            string   `json:"ref"` // how findings name the image
	Names          []string `json:"names"`
	Platform       string   `json:"platform"`
	ManifestDigest string   `json:"manifest_digest"`
	IndexDigests   []string `json:"index_digests,omitempty"`
	ConfigDigest   string   `json:"config_digest"`
	Created        string   `json:"created,omitempty"` // RFC 3339, UTC
	Entrypoint     []string `json:"entrypoint"`
	Cmd            []string `json:"cmd"`
	Layers         []Layer  `json:"layers"`
	// Attachments are the image's attestations, signatures and other
	// artifacts, carried or named only.
	Attachments []Attachment `json:"attachments"`
	// Container is set for a container of an engine's storage, as its
	// engine's records describe it (trusted only).
	Container *image.Container `json:"container,omitempty"`
}

// Layer is one layer of an image, numbered from 0 at the bottom.
type Layer struct {
	Index            int    `json:"index"`
	Digest           string `json:"digest"`
	DiffID           string `json:"diff_id"`
	MediaType        string `json:"media_type"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressed_size"`
	Entries          int    `json:"entries"`
	CreatedBy        string `json:"created_by"`
	Absent           bool   `json:"absent,omitempty"`
	Foreign          bool   `json:"foreign,omitempty"`
	Opaque           bool   `json:"opaque,omitempty"` // verified, no filesystem: not unpacked
	// Writable marks a container's writable layer ("rw"), which no
	// digest records.
	Writable bool `json:"writable,omitempty"`
	// Cache, for a scan that used a cache folder, says whether the
	// layer's results were computed or taken from the cache.
	Cache *LayerCache `json:"cache,omitempty"`
}

// Input is everything one scanned input revealed.
type Input struct {
	Input     InputInfo         `json:"input"`
	Images    []Image           `json:"images"`
	Integrity integrity.Report  `json:"integrity"`
	Coverage  Coverage          `json:"coverage"`
	Findings  []finding.Finding `json:"findings"`
	Verdict   Verdict           `json:"verdict"`
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`

	// layerBlobs are, by image, the blobs its layers were read from.
	layerBlobs [][]string
	// cache is what the source says of the cache folder, for the custody.
	cache *SourceCache
	// inventories are, by image, what OpenVEX and CycloneDX describe.
	inventories []*Inventory
}

// Source is what a report needs of one scanned input: plain data, with no
// way back into the scan. *scan.Result describes itself as one
// (ReportSource); tests build them by hand.
type Source struct {
	Input    archive.Info
	Images   []SourceImage
	Problems []integrity.Problem // every integrity problem of the input
	Findings []finding.Finding
	Ruleset  *rules.Info // the rules the findings were judged by; nil when no detection ran
	Started  time.Time
	Finished time.Time
	// Cache is the cache folder the layers were looked up in; nil when
	// none was used.
	Cache *SourceCache
}

// SourceImage is one image of a Source.
type SourceImage struct {
	Image *image.Image
	// Layers are the layers as read, by position.
	Layers []SourceLayer
	// Content reads the bytes of the image's files for the evidence
	// folder; nil when they cannot be read, and then none are copied.
	Content Opener
	// Inventory lists the packages of the image's databases and its
	// liblzma files, for OpenVEX and CycloneDX (inventory.go); nil when
	// no detection ran.
	Inventory *Inventory
}

// SourceLayer is one layer of an image as read.
type SourceLayer struct {
	Blob string // the archive member read, "" when absent
	// Digest is the layer's digest as read: a legacy docker save's layer
	// has none before; "" leaves the image's own.
	Digest           digest.Digest
	UncompressedSize int64          // bytes of the layer's tar, once read
	EntryCount       int            // how many entries the layer's tar holds, once read
	Entries          []*layer.Entry // the layer's own entries, in tar order; nil when not read
	// Cache says where the layer's results came from, when a cache
	// folder was used; nil otherwise.
	Cache *LayerCache
}

// Opener reads a file's bytes back from the layer blob holding them;
// scan.Content is one.
type Opener interface {
	Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error)
}

// A Sourcer describes itself as a Source; *scan.Result is one.
type Sourcer interface {
	ReportSource() Source
}

// ReportSource returns s itself, so that a Source is a Sourcer too.
func (s Source) ReportSource() Source { return s }

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
func (d *Document) Add(src Source) {
	in := newInput(src)
	d.Inputs = append(d.Inputs, in)
	d.Findings = append(d.Findings, in.Findings...)
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
	d.matched.add(src)
}

func rulesetOf(info rules.Info) *Ruleset {
	return &Ruleset{Version: info.Version, SHA256: info.SHA256, Rules: info.Rules, Files: nonNil(info.Files)}
}

func newInput(src Source) Input {
	in := Input{
		Input:     inputInfo(src.Input),
		Images:    []Image{},
		Integrity: integrity.Verdict(src.Problems),
		Findings:  append([]finding.Finding{}, src.Findings...),
		Started:   src.Started.UTC(),
		Finished:  src.Finished.UTC(),
		cache:     src.Cache,
	}
	finding.Sort(in.Findings)
	for _, si := range src.Images {
		if si.Image == nil {
			continue
		}
		in.Images = append(in.Images, imageOf(si))
		setLayerCache(&in.Images[len(in.Images)-1], si.Layers)
		var blobs []string
		for _, l := range si.Layers {
			if l.Blob != "" {
				blobs = append(blobs, l.Blob)
			}
		}
		in.layerBlobs = append(in.layerBlobs, blobs)
		in.inventories = append(in.inventories, si.Inventory)
	}
	in.Verdict = NewVerdict(in.Findings, in.Integrity.Problems)
	in.Coverage = newCoverage(in.Images, in.Integrity)
	return in
}

func inputInfo(i archive.Info) InputInfo {
	return InputInfo{Path: i.Path, Format: string(i.Format), Compression: string(i.Compression), SHA256: i.SHA256, Size: i.Size}
}

// LayerDigest is layer i's digest: as read, else as the image declares it.
func (si SourceImage) LayerDigest(i int) digest.Digest {
	if i >= 0 && i < len(si.Layers) && si.Layers[i].Digest != "" {
		return si.Layers[i].Digest
	}
	if si.Image != nil && i >= 0 && i < len(si.Image.Layers) && si.Image.Layers[i] != nil {
		return si.Image.Layers[i].Digest
	}
	return ""
}

func imageOf(si SourceImage) Image {
	img := si.Image
	out := Image{
		Ref:            img.Ref(),
		Names:          nonNil(img.Names),
		Platform:       img.Platform,
		ManifestDigest: img.ManifestDigest.String(),
		ConfigDigest:   img.ConfigDigest.String(),
		Entrypoint:     nonNil(img.Entrypoint),
		Cmd:            nonNil(img.Cmd),
		Layers:         []Layer{},
		Attachments:    attachmentsOf(img),
		Container:      img.Container,
	}
	for _, d := range img.IndexDigests {
		out.IndexDigests = append(out.IndexDigests, d.String())
	}
	if img.Created != nil {
		out.Created = img.Created.UTC().Format(time.RFC3339)
	}
	for i, l := range img.Layers {
		if l == nil {
			continue
		}
		var read SourceLayer
		if i < len(si.Layers) {
			read = si.Layers[i]
		}
		// Findings name layers by position, so the position is the index.
		out.Layers = append(out.Layers, Layer{
			Index: i, Digest: si.LayerDigest(i).String(), DiffID: l.DiffID.String(), MediaType: l.MediaType,
			Size: l.Size, UncompressedSize: read.UncompressedSize, Entries: read.EntryCount, CreatedBy: l.CreatedBy,
			Absent: l.Absent, Foreign: l.Foreign, Opaque: l.Opaque, Writable: l.Writable,
		})
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

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

// ruleIDs returns the distinct rule ids of the document's findings, sorted.
func (d *Document) ruleIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, f := range d.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			ids = append(ids, f.Rule)
		}
	}
	sort.Strings(ids)
	return ids
}

// RuleDoc is what the report says about one rule.
type RuleDoc struct {
	ID          string
	Title       string
	Description string
	Severity    string
	Kind        string
	File        string // rule file that defined it
	Sources     []rules.Source
}

// ruleDoc describes a rule from the loaded set, or from its findings alone
// when the set is unknown (a report rebuilt without the rules at hand).
func (d *Document) ruleDoc(id string) RuleDoc {
	doc := RuleDoc{ID: id}
	if d.rules != nil {
		if r := d.rules.Rule(id); r != nil {
			doc.Title = r.Title
			doc.Description = r.Description
			doc.Severity = r.Severity.String()
			doc.Kind = string(r.Kind())
			doc.File = d.rules.File(r).Path
			doc.Sources = d.rules.Sources(r)
			return doc
		}
	}
	for _, f := range d.Findings {
		if f.Rule == id {
			doc.Severity = f.Severity.String()
			doc.Kind = string(f.Kind)
			break
		}
	}
	return doc
}

// Rules describes every rule that matched, sorted by id.
func (d *Document) Rules() []RuleDoc {
	var out []RuleDoc
	for _, id := range d.ruleIDs() {
		out = append(out, d.ruleDoc(id))
	}
	return out
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
