package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/printable"
)

// TextOptions configure the terminal text.
type TextOptions struct {
	// Color adds ANSI colours. Callers leave it off when NO_COLOR is set or
	// the output is not a terminal.
	Color bool
	// Width, when set (a terminal's columns), fits lines to it: a
	// finding's message too long for its line goes on a line of its own,
	// and what still does not fit is shortened with "…" (a path in its
	// middle, anything else at its end). The full text is in every other
	// format, and in text written to a file or a pipe.
	Width int
}

// fit shortens a whole line to the width.
func (o TextOptions) fit(s string) string {
	if o.Width <= 0 {
		return s
	}
	return cutEnd(s, o.Width)
}

// fitTail shortens, at its end, the part of a line after used columns.
func (o TextOptions) fitTail(used int, s string) string {
	if o.Width <= 0 {
		return s
	}
	return cutEnd(s, max(o.Width-used, 12))
}

// fits reports whether a finding's one line, whose head takes used
// columns, fits the width.
func (o TextOptions) fits(used int, path, presence, msg string) bool {
	return o.Width <= 0 || used+utf8.RuneCountInString(path)+len(presence)+utf8.RuneCountInString(msg)+4 <= o.Width
}

// cutEnd keeps the first n runes of s, the last one an ellipsis.
func cutEnd(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// cutStart keeps the last n runes of s, the first one an ellipsis: a
// path keeps its file name.
func cutStart(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-max(n-1, 0):])
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiDim    = "\x1b[2m"
)

func (o TextOptions) paint(code, s string) string {
	if !o.Color || code == "" {
		return s
	}
	return code + s + ansiReset
}

func sevColor(s finding.Severity) string {
	switch s {
	case finding.Critical:
		return ansiBold + ansiRed
	case finding.High:
		return ansiRed
	case finding.Medium:
		return ansiYellow
	case finding.Low:
		return ansiBlue
	}
	return ansiDim
}

func statusColor(s Status) string {
	switch s {
	case Compromised:
		return ansiBold + ansiRed
	case Suspicious:
		return ansiYellow
	case IntegrityFailed:
		return ansiRed
	case Clean:
		return ansiGreen
	}
	return ""
}

// WriteText writes the terminal summary of each input: its verdict line
// per image, then its findings grouped by image, worst first (severity,
// rule, layer, path, present or deleted, and why), then its integrity
// records. A report over several images then sums them up in a table
// (writeFleetText). A long report ends with the verdict again, so that it
// is the last line a terminal shows as well as among the first.
func (d *Document) WriteText(w io.Writer, o TextOptions) error {
	if d.spooled(Text) {
		return fmt.Errorf("report: text: %w", ErrSpooled)
	}
	cw := &countingWriter{w: bufio.NewWriter(w)}
	var tally *fleetTally
	if d.text != nil {
		o = d.text.o // what its sections were fitted to (SpoolText)
		if err := d.text.copyTo(cw); err != nil {
			return err
		}
		tally = d.text.tally
	} else {
		tally = d.tally()
		for i := range d.Inputs {
			writeInputText(cw, &d.Inputs[i], o)
		}
	}
	d.writeCacheText(cw, o)
	if tally.isFleet() {
		writeFleetText(cw, tally.summary(), o)
	}
	if tally.inputs > 1 || cw.lines > longReport {
		cw.line("")
		cw.line(fmt.Sprintf("verdict: %s (%s; %s; %s)", o.paint(statusColor(d.Verdict.Status), strings.ToUpper(string(d.Verdict.Status))),
			plural(tally.inputs, "input"), countFindings(d.Verdict), integrityWords(d.Verdict.Problems)))
	}
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Flush()
}

// writeInputText writes what the text says of one input: its verdict
// line per image, its findings grouped by image, its integrity records.
func writeInputText(cw *countingWriter, in *Input, o TextOptions) {
	comp := ""
	if in.Input.Compression != "" {
		comp = ", " + in.Input.Compression
	}
	cw.line(o.fit(fmt.Sprintf("%s (%s%s, %d bytes, sha256:%s)", oneLine(in.Input.Path), in.Input.Format, comp, in.Input.Size, in.Input.SHA256)))
	for j := range in.Images {
		img := &in.Images[j]
		v := in.ImageVerdict(img)
		plat := ""
		if img.Platform != "" {
			plat = " (" + img.Platform + ")"
		}
		status := strings.ToUpper(string(v.Status))
		cw.line(o.paint(statusColor(v.Status), status) + "  " + o.fitTail(len(status)+2,
			fmt.Sprintf("%s%s: %s; %s", oneLine(img.Ref), oneLine(plat), countFindings(v), inputIntegrityWords(in, v.Problems))))
	}
	if len(in.Images) == 0 {
		cw.line(fmt.Sprintf("%s  no image could be read; %s", o.paint(statusColor(in.Verdict.Status), strings.ToUpper(string(in.Verdict.Status))), integrityWords(in.Verdict.Problems)))
	}
	for _, g := range groupFindings(in) {
		cw.line("")
		cw.line(o.fit("findings in " + oneLine(g.image) + ":"))
		for _, f := range g.findings {
			sev := o.paint(sevColor(f.Severity), fmt.Sprintf("%-8s", f.Severity))
			label := layerLabel(f)
			head := fmt.Sprintf("  %-8s  %s  %s  ", f.Severity, oneLine(f.Rule), label)
			path, msg := oneLine(orDash(f.Path)), oneLine(f.Message)
			if o.fits(len(head), path, presence(f), msg) {
				cw.line(fmt.Sprintf("  %s  %s  %s  %s  %s  %s", sev, oneLine(f.Rule), label, path, presence(f), msg))
				continue
			}
			// Too wide for the terminal: the message goes on a line of
			// its own, the layer loses its digest if the path needs
			// the room, and the path keeps its end (the file name).
			room := o.Width - len(head) - len(presence(f)) - 2
			if room < utf8.RuneCountInString(path) {
				label = shortLayerLabel(f)
				room += len(layerLabel(f)) - len(label)
			}
			cw.line(fmt.Sprintf("  %s  %s  %s  %s  %s", sev, oneLine(f.Rule), label, cutStart(path, max(room, 12)), presence(f)))
			cw.line(o.fit("            " + msg))
		}
	}
	if words := in.Coverage.Words(); words != "" {
		cw.line("")
		cw.line(o.fit(fmt.Sprintf("integrity: %s — %s", integrityState(in.Integrity), oneLine(words))))
	}
	for _, p := range in.Integrity.Records() {
		class, what := p.Class(), p.Qualifier()
		plain := class
		if class == "problem" {
			class, plain = o.paint(ansiRed, "integrity"), "integrity"
		}
		blob := oneLine(p.Blob)
		if o.Width > 0 && len(plain)+len(what)+len(blob)+6+utf8.RuneCountInString(p.Detail) > o.Width {
			blob = shortDigest(blob) // the full digest is in the detail or the JSON
		}
		rest := o.fitTail(len(plain)+len(what)+len(blob)+6, oneLine(p.Detail))
		cw.line(fmt.Sprintf("%s  %s  %s  %s", class, oneLine(what), blob, rest))
	}
}

// longReport is how many lines a report may have before its verdict is
// repeated at the end: about a terminal's screen.
const longReport = 20

// countingWriter writes lines and counts them; the first error sticks.
type countingWriter struct {
	w     *bufio.Writer
	lines int
	err   error
}

func (c *countingWriter) line(s string) {
	if c.err != nil {
		return
	}
	c.lines++
	_, c.err = c.w.WriteString(s + "\n")
}

// findingGroup is an input's findings about one image (or one
// unreferenced blob), worst first.
type findingGroup struct {
	image    string
	findings []finding.Finding
}

// groupFindings groups an input's findings by image, in the order of its
// images (findings naming no image of the input, such as an unreferenced
// blob's, follow in the order they come), each group worst first, then by
// layer, path and rule.
func groupFindings(in *Input) []findingGroup {
	var groups []findingGroup
	at := map[string]int{}
	for _, img := range in.Images {
		at[img.Ref] = len(groups)
		groups = append(groups, findingGroup{image: img.Ref})
	}
	for _, f := range in.Findings {
		i, ok := at[f.Image]
		if !ok {
			i = len(groups)
			at[f.Image] = i
			groups = append(groups, findingGroup{image: f.Image})
		}
		groups[i].findings = append(groups[i].findings, f)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.findings) == 0 {
			continue
		}
		slices.SortStableFunc(g.findings, func(a, b finding.Finding) int {
			return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Layer, b.Layer),
				cmp.Compare(a.Path, b.Path), cmp.Compare(a.Rule, b.Rule))
		})
		out = append(out, g)
	}
	return out
}

func countFindings(v Verdict) string {
	switch v.Findings {
	case 0:
		return "no findings"
	case 1:
		return "1 finding, " + sevOrNone(v.WorstSeverity)
	}
	return fmt.Sprintf("%d findings, worst %s", v.Findings, sevOrNone(v.WorstSeverity))
}

// integrityState is the integrity verdict in a word or two.
func integrityState(r integrity.Report) string {
	if r.OK {
		return "ok"
	}
	return "FAILED, " + integrityWords(len(r.Problems))
}

func integrityWords(problems int) string {
	switch problems {
	case 0:
		return "integrity verified"
	case 1:
		return "1 integrity problem"
	}
	return fmt.Sprintf("%d integrity problems", problems)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps one record per line whatever a message or a hostile file
// name contains: control characters would let an image forge lines of the
// report or drive the terminal. They are shown (^J, ^[), not dropped.
func oneLine(s string) string { return printable.String(s) }

// inputIntegrityWords is integrityWords for an image of in: an input that
// carried nothing to verify (a docker export, a root-filesystem folder) is
// never said to be verified.
func inputIntegrityWords(in *Input, problems int) string {
	if problems == 0 {
		for _, p := range in.Integrity.Notes {
			if p.Kind == integrity.Unverifiable && p.Reason == integrity.NoLayerHistory {
				return "integrity unverifiable (no layer history)"
			}
		}
	}
	return integrityWords(problems)
}
