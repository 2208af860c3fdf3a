package report

import (
	"github.com/strata-forensics/strata/forensics/integrity"

	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/printable"
)

// TextOptions configure the terminal text.
type TextOptions struct {
	// Color adds ANSI colours. Callers leave it off when NO_COLOR is set or
	// the output is not a terminal.
	Color bool
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

// WriteText writes the terminal summary: a verdict line per image, then one
// line per finding (severity, rule, image, layer, path, present or deleted,
// and why), then every integrity problem.
func (d *Document) WriteText(w io.Writer, o TextOptions) error {
	bw := bufio.NewWriter(w)
	for i := range d.Inputs {
		in := &d.Inputs[i]
		comp := ""
		if in.Input.Compression != "" {
			comp = ", " + in.Input.Compression
		}
		fmt.Fprintf(bw, "%s (%s%s, %d bytes, sha256:%s)\n", oneLine(in.Input.Path), in.Input.Format, comp, in.Input.Size, in.Input.SHA256)
		for j := range in.Images {
			img := &in.Images[j]
			v := in.ImageVerdict(img)
			plat := ""
			if img.Platform != "" {
				plat = " (" + img.Platform + ")"
			}
			fmt.Fprintf(bw, "%s  %s%s: %s; %s\n", o.paint(statusColor(v.Status), strings.ToUpper(string(v.Status))),
				oneLine(img.Ref), oneLine(plat), countFindings(v), integrityWords(v.Problems))
		}
		if len(in.Images) == 0 {
			fmt.Fprintf(bw, "%s  no image could be read; %s\n", o.paint(statusColor(in.Verdict.Status), strings.ToUpper(string(in.Verdict.Status))), integrityWords(in.Verdict.Problems))
		}
		for _, f := range in.Findings {
			fmt.Fprintf(bw, "%s  %s  %s  %s  %s  %s  %s\n", o.paint(sevColor(f.Severity), fmt.Sprintf("%-8s", f.Severity)),
				oneLine(f.Rule), oneLine(f.Image), layerLabel(f), oneLine(orDash(f.Path)), presence(f.Present), oneLine(f.Message))
		}
		if words := in.Coverage.Words(); words != "" {
			fmt.Fprintf(bw, "integrity: %s — %s\n", integrityState(in.Integrity), oneLine(words))
		}
		for _, p := range in.Integrity.Records() {
			class, what := p.Class(), p.Qualifier()
			if class == "problem" {
				class = o.paint(ansiRed, "integrity")
			}
			fmt.Fprintf(bw, "%s  %s  %s  %s\n", class, oneLine(what), oneLine(p.Blob), oneLine(p.Detail))
		}
	}
	if len(d.Inputs) > 1 {
		fmt.Fprintf(bw, "verdict: %s (%d inputs; %s; %s)\n", o.paint(statusColor(d.Verdict.Status), strings.ToUpper(string(d.Verdict.Status))),
			len(d.Inputs), countFindings(d.Verdict), integrityWords(d.Verdict.Problems))
	}
	return bw.Flush()
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
