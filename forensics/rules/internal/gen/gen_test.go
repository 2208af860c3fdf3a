package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/pkgdb"
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

// TestUnknownEcosystem: a package entry of an ecosystem the generator does
// not know fails the generation rather than being dropped.
func TestUnknownEcosystem(t *testing.T) {
	in, err := os.ReadFile("../../builtin/source/cve-2024-3094.iocs.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(in, &d); err != nil {
		t.Fatal(err)
	}
	d["packages"] = append(d["packages"].([]any), map[string]any{"ecosystem": "winget", "distro": "Windows", "names": []string{"xz"}, "bad_versions": []string{"5.6.1"}})
	b, _ := json.Marshal(d)
	if _, err := generate(b); err == nil || !strings.Contains(err.Error(), `unknown ecosystem "winget"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFixedRange(t *testing.T) {
	tests := []struct {
		eco   pkgdb.Ecosystem
		bad   []string
		fixed []string
		want  string
	}{
		{pkgdb.Pacman, []string{"5.6.1-1", "5.6.0-1"}, []string{"5.6.1-2"}, "5.6.0-1..5.6.1-2"},
		{pkgdb.Brew, []string{"5.6.0", "5.6.1"}, []string{"5.4.6 (revert, 2024-03-29)"}, ""},
		{pkgdb.Portage, []string{"5.6.0", "5.6.1"}, []string{"< 5.6.0 (downgrade)"}, ""},
		{pkgdb.Nix, []string{"5.6.0"}, []string{"5.4.6", "5.6.2"}, "5.6.0..5.6.2"},
	}
	for _, tt := range tests {
		r, err := fixedRange(tt.eco, tt.bad, tt.fixed)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r != nil {
			got = r.Introduced + ".." + r.Fixed
		}
		if got != tt.want {
			t.Errorf("%s %v %v: %q, want %q", tt.eco, tt.bad, tt.fixed, got, tt.want)
		}
	}
}
