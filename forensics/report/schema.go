package report

import _ "embed"

//go:embed schema/strata.report.v1.json
var schemaJSON []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of the report; its
// $defs/inspection describes `strata inspect --json`.
func JSONSchema() []byte { return append([]byte(nil), schemaJSON...) }
