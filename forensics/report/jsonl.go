package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// JSONLSchemaID names the shape of one line of `--format jsonl`; like
// SchemaID, later versions may add fields, never rename or re-purpose them.
const JSONLSchemaID = "strata.jsonl/v1"

// Record kinds of a JSON line.
const (
	// RecordImage is one image of an input: its verdict, findings and the
	// integrity problems that concern it.
	RecordImage = "image"
	// RecordInput is what an input says beyond its images: findings that
	// name no image of it (an unreferenced blob's), or everything, when
	// no image could be read from it.
	RecordInput = "input"
	// RecordUnreadable is an input that could not be read at all.
	RecordUnreadable = "unreadable"
)

// JSONLine is one line of `--format jsonl`: one image, self-contained, so
// that a SIEM can index each line as an event without the rest of the
// report. The fields reuse the JSON report's types under the same names.
type JSONLine struct {
	Schema   string    `json:"schema"`
	Record   string    `json:"record"` // RecordImage or RecordInput
	Tool     Tool      `json:"tool"`
	Examiner string    `json:"examiner,omitempty"`
	Case     string    `json:"case,omitempty"`
	Ruleset  *Ruleset  `json:"ruleset"` // null when no detection ran
	Input    InputInfo `json:"input"`
	// Image is null for a RecordInput line.
	Image     *Image            `json:"image"`
	Verdict   Verdict           `json:"verdict"`
	Findings  []finding.Finding `json:"findings"`
	Integrity LineIntegrity     `json:"integrity"`
	// Coverage is the input's: what it carries of what it names.
	Coverage Coverage  `json:"coverage"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// LineIntegrity is the integrity of one line's image: the verdict in a
// word and the failing records that concern it (its own blobs', and those
// of no image in particular). Informational records stay in the JSON
// report; Coverage counts them.
type LineIntegrity struct {
	// Status is "verified", "failed", or "unverifiable" for an input that
	// carries no digests to check (a docker export, a root filesystem).
	Status   string              `json:"status"`
	Problems []integrity.Problem `json:"problems"`
}

// UnreadableLine is the line of an input that could not be read: a SIEM
// that only sees the lines must still learn that an image went unscanned.
type UnreadableLine struct {
	Schema   string `json:"schema"`
	Record   string `json:"record"` // RecordUnreadable
	Tool     Tool   `json:"tool"`
	Examiner string `json:"examiner,omitempty"`
	Case     string `json:"case,omitempty"`
	Input    struct {
		Path string `json:"path"`
	} `json:"input"`
	Error string `json:"error"`
}

// WriteJSONL writes the lines of every input added, in the order added.
// A caller streaming a fleet writes each input's lines as it is added
// instead (WriteInputJSONL); inputs that could not be read are known only
// to the caller (WriteUnreadableJSONL).
func (d *Document) WriteJSONL(w io.Writer) error {
	for i := range d.Inputs {
		if err := d.WriteInputJSONL(w, i); err != nil {
			return err
		}
	}
	return nil
}

// WriteInputJSONL writes the lines of the i-th input added: one per image,
// in the input's order, then one RecordInput line when findings name no
// image of it or no image could be read. Every finding of the input is in
// exactly one line. Each line goes out in one Write, so that a reader
// tailing a file or a pipe never sees two lines interleaved.
func (d *Document) WriteInputJSONL(w io.Writer, i int) error {
	if i < 0 || i >= len(d.Inputs) {
		return fmt.Errorf("report: jsonl: no input %d", i)
	}
	for _, l := range d.inputLines(&d.Inputs[i]) {
		if err := writeLine(w, l); err != nil {
			return err
		}
	}
	return nil
}

// LinesOnly makes d keep, of the inputs Add describes, only the one added
// last: for a caller that writes each input's JSON lines as soon as it is
// added (WriteInputJSONL of the last index) and no other report of d, so
// that a fleet of any size holds one input's report at a time, not every
// one it read. The document-level sums (verdict, times, the cache's
// custody, the ruleset) still cover every input. Every format Write
// writes, and the evidence folder, then fail with ErrSpooled.
func (d *Document) LinesOnly() {
	d.linesOnly = true
	if n := len(d.Inputs); n > 1 {
		d.Inputs = d.Inputs[n-1:]
		d.Findings = slices.Clone(d.Inputs[0].Findings)
	}
	d.matched = matchedFiles{}
}

// WriteUnreadableJSONL writes the line of an input that could not be read.
func (d *Document) WriteUnreadableJSONL(w io.Writer, path string, readErr error) error {
	l := UnreadableLine{Schema: JSONLSchemaID, Record: RecordUnreadable, Tool: d.Tool,
		Examiner: d.Custody.Examiner, Case: d.Custody.Case, Error: "unknown error"}
	l.Input.Path = path
	if readErr != nil {
		l.Error = readErr.Error()
	}
	return writeLine(w, l)
}

func (d *Document) inputLines(in *Input) []JSONLine {
	base := JSONLine{Schema: JSONLSchemaID, Tool: d.Tool, Examiner: d.Custody.Examiner, Case: d.Custody.Case,
		Ruleset: d.Ruleset, Input: in.Input, Coverage: in.Coverage, Started: in.Started, Finished: in.Finished}
	var out []JSONLine
	named := map[string]bool{}
	for j := range in.Images {
		img := &in.Images[j]
		named[img.Ref] = true
		l := base
		l.Record, l.Image = RecordImage, img
		l.Findings = []finding.Finding{}
		for _, f := range in.Findings {
			if f.Image == img.Ref {
				l.Findings = append(l.Findings, f)
			}
		}
		problems := in.imageProblems(img)
		l.Verdict = NewVerdict(l.Findings, problems)
		l.Integrity = lineIntegrity(in, problems)
		out = append(out, l)
	}
	var rest []finding.Finding
	for _, f := range in.Findings {
		if !named[f.Image] {
			rest = append(rest, f)
		}
	}
	if len(in.Images) > 0 && len(rest) == 0 {
		return out
	}
	l := base
	l.Record = RecordInput
	l.Findings = append([]finding.Finding{}, rest...)
	// With images, the problems of no image in particular are in every
	// image's line already; this line judges its own findings by them too,
	// as the image lines do. Without images, every problem is the input's.
	problems := in.Integrity.Problems
	if len(in.Images) > 0 {
		problems = in.unownedProblems()
	}
	l.Verdict = NewVerdict(l.Findings, problems)
	l.Integrity = lineIntegrity(in, problems)
	return append(out, l)
}

// unownedProblems are the input's failing records that concern no image in
// particular.
func (in *Input) unownedProblems() []integrity.Problem {
	out := []integrity.Problem{}
	if len(in.Integrity.Problems) == 0 {
		return out
	}
	x := in.index()
	for _, p := range in.Integrity.Problems {
		if !x.owned(p.Blob) {
			out = append(out, p)
		}
	}
	return out
}

func lineIntegrity(in *Input, problems []integrity.Problem) LineIntegrity {
	li := LineIntegrity{Status: "verified", Problems: nonNil(problems)}
	switch {
	case len(problems) > 0:
		li.Status = "failed"
	case in.Coverage.unverifiable: // as the text report's verdict lines say it
		li.Status = "unverifiable"
	}
	return li
}

// writeLine encodes v on one line, HTML characters kept as written (paths
// and commands are evidence), and writes it whole.
func writeLine(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: jsonl: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: jsonl: %w", err)
	}
	return nil
}
