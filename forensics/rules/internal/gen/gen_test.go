package main

import (
	"bytes"
	"os"
	"testing"
)

// TestUpToDate fails when the committed built-in ruleset is not what the
// generator makes of the committed IOC data (run go generate ./forensics/rules).
func TestUpToDate(t *testing.T) {
	in, err := os.ReadFile("../../builtin/source/cve-2024-3094.iocs.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../builtin/cve-2024-3094.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("builtin/cve-2024-3094.json is stale: run go generate ./forensics/rules")
	}
}

func TestRejects(t *testing.T) {
	for name, in := range map[string]string{
		"wrong schema": `{"schema":"iocs/v2"}`,
		"no digests":   `{"schema":"iocs/v1","id":"X"}`,
		"not json":     `{`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := generate([]byte(in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
