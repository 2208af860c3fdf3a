package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed schema/strata.report.v1.json
var schemaJSON []byte

//go:embed schema/strata.jsonl.v1.json
var jsonlSchemaJSON []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of the report; its
// $defs/inspection describes `strata inspect --json`.
func JSONSchema() []byte { return append([]byte(nil), schemaJSON...) }

// jsonlReportDef is where JSONLSchema embeds the report schema.
const jsonlReportDef = "strata.report.v1.json"

// JSONLSchema returns the JSON Schema (draft 2020-12) of one line of
// `--format jsonl`. The committed file refers to the report schema beside
// it for every shared definition, so that the two cannot drift apart;
// this returns it bundled, the report schema embedded under
// $defs/"strata.report.v1.json" with its own $id, which is how draft
// 2020-12 lets one document carry another: a consumer needs this file
// alone.
func JSONLSchema() ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(jsonlSchemaJSON, &doc); err != nil {
		return nil, fmt.Errorf("report: jsonl schema: %w", err)
	}
	var defs map[string]json.RawMessage
	if err := json.Unmarshal(doc["$defs"], &defs); err != nil {
		return nil, fmt.Errorf("report: jsonl schema: $defs: %w", err)
	}
	defs[jsonlReportDef] = schemaJSON
	b, err := json.Marshal(defs)
	if err != nil {
		return nil, fmt.Errorf("report: jsonl schema: %w", err)
	}
	doc["$defs"] = b
	// Go orders map keys on output: the keywords of the top level come
	// out sorted ($defs, $id, $schema, description, ...), which no JSON
	// Schema reader minds.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("report: jsonl schema: %w", err)
	}
	return out.Bytes(), nil
}
