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
)

// Formats lists every format, in the order of --format's help.
var Formats = []Format{Text, JSON, SARIF, Markdown, HTML}

// ParseFormat accepts a format name (and "md" for Markdown).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Text, JSON, SARIF, Markdown, HTML:
		return f, nil
	case "md":
		return Markdown, nil
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
	}
	return string(f)
}

// Write writes d in format f. TextOptions only matter for Text.
func (d *Document) Write(w io.Writer, f Format, o TextOptions) error {
	switch f {
	case Text:
		return d.WriteText(w, o)
	case JSON:
		return d.WriteJSON(w)
	case SARIF:
		return d.WriteSARIF(w)
	case Markdown:
		return d.WriteMarkdown(w)
	case HTML:
		return d.WriteHTML(w)
	}
	return fmt.Errorf("report: unknown format %q", f)
}
