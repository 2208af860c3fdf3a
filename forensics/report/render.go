package report

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"

	"github.com/strata-forensics/strata/forensics/printable"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// parseMarkdown and parseHTML parse the embedded templates; an error here is
// a bug every test catches, never a property of the input.
func parseMarkdown() (*texttemplate.Template, error) {
	funcs := templateFuncs()
	funcs["md"] = mdEscape
	funcs["mdc"] = mdCode
	funcs["mdcell"] = mdCell
	return texttemplate.New("report.md.tmpl").Funcs(funcs).ParseFS(templateFS, "templates/report.md.tmpl")
}

func parseHTML() (*htmltemplate.Template, error) {
	return htmltemplate.New("report.html.tmpl").Funcs(templateFuncs()).ParseFS(templateFS, "templates/report.html.tmpl")
}

// WriteMarkdown writes the report as one Markdown file (GitHub flavour).
func (d *Document) WriteMarkdown(w io.Writer) error {
	t, err := parseMarkdown()
	if err != nil {
		return fmt.Errorf("report: markdown template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d.view()); err != nil {
		return fmt.Errorf("report: markdown: %w", err)
	}
	// Names and messages from the image may hold control characters;
	// shown, they cannot drive a terminal the file is printed on.
	_, err = io.WriteString(w, printable.Text(b.String()))
	return err
}

// WriteHTML writes the report as one self-contained HTML file: inline CSS,
// no script, no external asset, laid out for A4 when printed.
func (d *Document) WriteHTML(w io.Writer) error {
	t, err := parseHTML()
	if err != nil {
		return fmt.Errorf("report: html template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d.view()); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	_, err = io.WriteString(w, printable.Text(b.String())) // as for Markdown
	return err
}
