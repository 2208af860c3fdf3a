package report

// The fixture tests (fixtures_test.go) scan real archives, so they are in
// package report_test: package scan imports report. These give them the
// package's helpers.
var (
	Render       = render
	Validate     = validate
	ReportSchema = reportSchema
	SARIFSchema  = sarifSchema
	LineSchema   = jsonlSchema
	HashFile     = hashFile
	LayerLabel   = layerLabel
)
