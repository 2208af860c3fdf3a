package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// TestScanRegistryAllRevisions: a registry's storage whose tag moved from
// the xz-planted image to the clean one. By default the tag's image is
// the clean one and the xz-planted layers are scanned as unreferenced
// blobs (suspicious at most); --all-revisions scans the tag's earlier
// target as an image of its own, compromised. Both reports validate
// against the report's JSON schema, format "registry".
func TestScanRegistryAllRevisions(t *testing.T) {
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	r := registrystore.New(t, t.TempDir())
	r.Push(t, "library/app", registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci")), "1")
	r.Push(t, "library/app", registrystore.FromDockerArchive(t, filepath.Join(fixtures, "clean.docker.tar"), "strata-fixtures/clean:latest"), "1")
	sch := reportSchema(t)
	for _, tc := range []struct {
		args  []string
		worst map[string]string // image -> its worst finding's severity
	}{
		{nil, map[string]string{"library/app:1": ""}},
		{[]string{"--all-revisions"}, map[string]string{"library/app:1": "", "library/app:1 (earlier)": "critical"}},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), testBuild, append(append([]string{"scan", "--format", "json"}, tc.args...), r.Root), &out, &errOut)
		if code != 1 {
			t.Errorf("%v: exit code %d (%s)", tc.args, code, errOut.String())
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%v: the report does not validate: %v", tc.args, err)
		}
		var doc struct {
			Inputs []struct {
				Input struct {
					Format string `json:"format"`
				} `json:"input"`
				Images []struct {
					Ref string `json:"ref"`
				} `json:"images"`
				Findings []struct {
					Image    string `json:"image"`
					Severity string `json:"severity"`
				} `json:"findings"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Inputs) != 1 {
			t.Fatalf("%v: %v", tc.args, err)
		}
		got := map[string]string{}
		for _, im := range doc.Inputs[0].Images {
			got[im.Ref] = ""
		}
		rank := map[string]int{"": 0, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
		for _, f := range doc.Inputs[0].Findings {
			if w, ok := got[f.Image]; ok && rank[f.Severity] > rank[w] {
				got[f.Image] = f.Severity
			}
		}
		if doc.Inputs[0].Input.Format != "registry" || len(got) != len(tc.worst) {
			t.Errorf("%v: %s input, images %v", tc.args, doc.Inputs[0].Input.Format, got)
		}
		for ref, w := range tc.worst {
			if sev, ok := got[ref]; !ok || sev != w {
				t.Errorf("%v: %s's worst finding is %q, want %q", tc.args, ref, sev, w)
			}
		}
	}
}

// reportSchema compiles the bundled report schema, as printed by
// `strata scan --print-schema`.
func reportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("file:///strata.report.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///strata.report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}
