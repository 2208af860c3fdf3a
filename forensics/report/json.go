package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// WriteJSON writes the strata.report/v1 document, indented, with a final
// newline.
func (d *Document) WriteJSON(w io.Writer) error {
	if d.spool != nil {
		return d.spool.writeJSON(w, d)
	}
	if d.spooled(JSON) {
		return fmt.Errorf("report: json: %w", ErrSpooled)
	}
	return writeJSON(w, d)
}

// Inspection is the shape of `strata inspect --json`: the first three fields
// of a report's inputs[] entry, under the same names, so that a reader of one
// reads the other.
type Inspection struct {
	Input     InputInfo        `json:"input"`
	Images    []Image          `json:"images"`
	Integrity integrity.Report `json:"integrity"`
	Coverage  Coverage         `json:"coverage"`
}

// NewInspection describes one input, a scan result for one, as inspect
// prints it.
func NewInspection(s Sourcer) Inspection {
	in := newInput(s.ReportSource())
	return Inspection{Input: in.Input, Images: in.Images, Integrity: in.Integrity, Coverage: in.Coverage}
}

// InspectJSON writes the inspect --json document for one input.
func InspectJSON(w io.Writer, s Sourcer) error {
	return writeJSON(w, NewInspection(s))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Paths and commands are evidence: keep "<", ">" and "&" as written.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}
