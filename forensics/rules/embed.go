package rules

import _ "embed"

// The built-in ruleset is generated from the sourced IOC data kept next to
// it, so that every rule keeps the references it came from.
//go:generate go run ./internal/gen -in builtin/source/cve-2024-3094.iocs.json -out builtin/cve-2024-3094.json

//go:embed builtin/cve-2024-3094.json
var builtinJSON []byte
