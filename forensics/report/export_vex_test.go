package report

// The fixture tests of OpenVEX and CycloneDX (fixtures_vex_test.go) are in
// package report_test, as fixtures_test.go is; these give them the
// published schemas.
var (
	OpenVEXSchema   = openVEXSchema
	CycloneDXSchema = cycloneDXSchema
)
