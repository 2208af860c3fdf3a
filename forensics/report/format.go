package report

import (
	"fmt"
	"io"
	"strings"
)

// Format is an output format.
type Format string

const (
	Text     Format = "text"
	JSON     Format = "json"
	SARIF    Format = "sarif"
	Markdown Format = "markdown"
	HTML     Format = "html"
	// OpenVEX is one OpenVEX document with a statement per image about
	// CVE-2024-3094 (openvex.go).
	OpenVEX Format = "openvex"
	// CycloneDX is a CycloneDX JSON BOM of every package read, with the
	// installing layers and the findings as vulnerabilities (cyclonedx.go).
	CycloneDX Format = "cyclonedx"
	// JSONL is JSON Lines: one self-contained object per image
	// (strata.jsonl/v1, jsonl.go), for a SIEM; a fleet scan writes each
	// input's lines as soon as it is read.
	JSONL Format = "jsonl"
)

// Formats lists every format, in the order of --format's help.
var Formats = []Format{Text, JSON, JSONL, SARIF, Markdown, HTML, OpenVEX, CycloneDX}

// ParseFormat accepts a format name (and "md" for Markdown).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Text, JSON, JSONL, SARIF, Markdown, HTML, OpenVEX, CycloneDX:
		return f, nil
	case "ndjson":
		return JSONL, nil
	case "md":
		return Markdown, nil
	case "vex":
		return OpenVEX, nil
	case "cdx":
		return CycloneDX, nil
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Ext is the file name extension of the format in an evidence folder.
func (f Format) Ext() string {
	switch f {
	case Markdown:
		return "md"
	case Text:
		return "txt"
	case OpenVEX:
		return "openvex.json" // the extension OpenVEX tools look for
	case CycloneDX:
		return "cdx.json" // the extension the CycloneDX specification recommends
	}
	return string(f)
}

// Write writes d in format f. TextOptions only matter for Text.
func (d *Document) Write(w io.Writer, f Format, o TextOptions) error {
	if d.spooled(f) {
		return fmt.Errorf("report: %s: %w", f, ErrSpooled)
	}
	switch f {
	case Text:
		return d.WriteText(w, o)
	case JSON:
		return d.WriteJSON(w)
	case JSONL:
		return d.WriteJSONL(w)
	case SARIF:
		return d.WriteSARIF(w)
	case Markdown:
		return d.WriteMarkdown(w)
	case HTML:
		return d.WriteHTML(w)
	case OpenVEX:
		return d.WriteOpenVEX(w)
	case CycloneDX:
		return d.WriteCycloneDX(w)
	}
	return fmt.Errorf("report: unknown format %q", f)
}
