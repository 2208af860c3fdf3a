package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// view is what the Markdown and HTML templates render: the document plus
// what a reader should not have to work out (which layer introduced which
// finding, per-image verdicts, deleted-but-shipped matches).
type view struct {
	Doc      *Document
	Inputs   []inputView
	Findings []findingView // all, in document order
	Deleted  []findingView // present=false
	Problems []problemView
	// Records are the informational integrity records: absent by
	// design, unreferenced, notes.
	Records []problemView
	Rules   []RuleDoc
}

type inputView struct {
	Input     InputInfo
	Integrity integrity.Report
	Coverage  string // Coverage.Words
	Verdict   Verdict
	N         int // 1-based, for headings
	Images    []imageView
	// Unverifiable: the input carried nothing to verify (a docker export,
	// a root-filesystem folder); it is never said to be verified.
	Unverifiable bool
}

type imageView struct {
	Image
	N        int
	Verdict  Verdict
	Layers   []layerView
	Findings []findingView
}

type layerView struct {
	Layer
	Short    string
	Findings int
	Worst    string // worst severity of the layer's findings
}

type findingView struct {
	finding.Finding
	Input string // input path
	Short string // short layer digest
	ID    string // anchor
}

type problemView struct {
	integrity.Problem
	Input string
}

// Why is an informational record's reason in words, or what the blob is.
func (p problemView) Why() string {
	if p.Reason != "" {
		return p.Reason.Text()
	}
	return p.Content
}

func (d *Document) view() *view {
	v := &view{Doc: d, Rules: d.Rules()}
	n := 0
	for i := range d.Inputs {
		in := &d.Inputs[i]
		iv := inputView{Input: in.Input, Integrity: in.Integrity, Coverage: in.Coverage.Words(), Verdict: in.Verdict, N: i + 1}
		for _, p := range in.Integrity.Notes {
			iv.Unverifiable = iv.Unverifiable || p.Kind == integrity.Unverifiable && p.Reason == integrity.NoLayerHistory
		}
		for j := range in.Images {
			img := in.Images[j]
			imv := imageView{Image: img, N: j + 1, Verdict: in.ImageVerdict(&in.Images[j])}
			perLayer := map[int][]finding.Finding{}
			for _, f := range in.Findings {
				if f.Image != img.Ref {
					continue
				}
				n++
				fv := findingView{Finding: f, Input: in.Input.Path, Short: shortDigest(f.LayerDigest), ID: fmt.Sprintf("f%d", n)}
				imv.Findings = append(imv.Findings, fv)
				v.Findings = append(v.Findings, fv)
				if !f.Present && f.Drift == "" { // a hidden drift's bytes ship in no layer
					v.Deleted = append(v.Deleted, fv)
				}
				perLayer[f.Layer] = append(perLayer[f.Layer], f)
			}
			for _, l := range img.Layers {
				lv := layerView{Layer: l, Short: shortDigest(l.Digest)}
				if fs := perLayer[l.Index]; len(fs) > 0 {
					w, _ := finding.Worst(fs)
					lv.Findings, lv.Worst = len(fs), w.String()
				}
				imv.Layers = append(imv.Layers, lv)
			}
			iv.Images = append(iv.Images, imv)
		}
		// Findings naming no image of this input (should not happen, but a
		// report must never drop evidence).
		refs := map[string]bool{}
		for _, img := range in.Images {
			refs[img.Ref] = true
		}
		for _, f := range in.Findings {
			if refs[f.Image] {
				continue
			}
			n++
			fv := findingView{Finding: f, Input: in.Input.Path, Short: shortDigest(f.LayerDigest), ID: fmt.Sprintf("f%d", n)}
			v.Findings = append(v.Findings, fv)
			if !f.Present && f.Drift == "" {
				v.Deleted = append(v.Deleted, fv)
			}
		}
		for _, p := range in.Integrity.Problems {
			v.Problems = append(v.Problems, problemView{Problem: p, Input: in.Input.Path})
		}
		for _, p := range in.Integrity.Records()[len(in.Integrity.Problems):] {
			v.Records = append(v.Records, problemView{Problem: p, Input: in.Input.Path})
		}
		v.Inputs = append(v.Inputs, iv)
	}
	return v
}

// templateFuncs are shared by the Markdown and HTML templates.
func templateFuncs() map[string]any {
	return map[string]any{
		"utc":      utc,
		"bytes":    HumanBytes,
		"short":    shortDigest,
		"join":     strings.Join,
		"upper":    strings.ToUpper,
		"severity": func(s *finding.Severity) string { return sevOrNone(s) },
		"layer":    layerLabel,
		"presence": presence,
		"add":      func(a, b int) int { return a + b },
		"shell":    shellJoin,
	}
}

// shellJoin prints a command line so that it can be pasted back into a
// POSIX shell: arguments with anything but safe characters are quoted.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		safe := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
				safe = false
				break
			}
		}
		if safe {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func utc(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func sevOrNone(s *finding.Severity) string {
	if s == nil {
		return "none"
	}
	return s.String()
}

func layerLabel(f finding.Finding) string {
	switch {
	case f.Layer < 0 && f.LayerDigest != "":
		// A layer no image has (an unreferenced blob): no index to give.
		return "blob (" + shortDigest(f.LayerDigest) + ")"
	case f.Layer < 0:
		return "image"
	case f.Writable:
		return "layer rw"
	}
	return fmt.Sprintf("layer %d (%s)", f.Layer, shortDigest(f.LayerDigest))
}

// shortLayerLabel is layerLabel without the digest, for a narrow terminal.
func shortLayerLabel(f finding.Finding) string {
	switch {
	case f.Layer < 0 && f.LayerDigest != "":
		return "blob"
	case f.Layer < 0:
		return "image"
	case f.Writable:
		return "layer rw"
	}
	return fmt.Sprintf("layer %d", f.Layer)
}

// presence is a finding's state in a word or two: present, or deleted
// by a later layer; for bytes found in an engine's layer folder but in
// no layer as pulled, planted or changed, "hidden" when a later layer
// covers the path.
func presence(f finding.Finding) string {
	switch {
	case f.Drift != "" && f.Present:
		return f.Drift
	case f.Drift != "":
		return f.Drift + ", hidden"
	case f.Present:
		return "present"
	}
	return "deleted"
}

// PresenceWords is presence said in full, for a finding's own section.
func (fv findingView) PresenceWords() string {
	f := fv.Finding
	switch {
	case f.Drift != "":
		s := f.Drift + " in the layer's folder on the host after the pull: the layer's digest does not cover these bytes"
		if !f.Present {
			s += "; a later layer of the image hides the path"
		}
		return s
	case f.Present:
		return "present"
	}
	return "deleted in the final filesystem, but its bytes ship in the layer"
}

// HumanBytes prints a byte count in binary units with one decimal (512 B,
// 1.5 MiB), as the reports show sizes; the CLI's progress line uses it too
// so that the two agree.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// mdEscape escapes the characters that would start Markdown inline syntax or
// break a table row, and folds newlines.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '#', '!', '&':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode renders s as a code span, fenced with more backticks than it
// contains.
func mdCode(s string) string { return codeSpan(s, false) }

// mdCell renders s as a code span inside a table cell: pipes are escaped
// because GitHub Markdown splits table cells on them even inside code spans.
func mdCell(s string) string { return codeSpan(s, true) }

func codeSpan(s string, cell bool) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	if cell {
		s = strings.ReplaceAll(s, "|", "\\|")
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}
