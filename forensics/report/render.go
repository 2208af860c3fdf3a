package report

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	texttemplate "text/template"
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
	if err := t.Execute(w, d.view()); err != nil {
		return fmt.Errorf("report: markdown: %w", err)
	}
	return nil
}

// WriteHTML writes the report as one self-contained HTML file: inline CSS,
// no script, no external asset, laid out for A4 when printed.
func (d *Document) WriteHTML(w io.Writer) error {
	t, err := parseHTML()
	if err != nil {
		return fmt.Errorf("report: html template: %w", err)
	}
	if err := t.Execute(w, d.view()); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}
