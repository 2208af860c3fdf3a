package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

// compileSchema compiles a schema from bytes, asserting formats (uri,
// date-time) so that a malformed URI or timestamp fails as it would in a
// strict consumer.
func compileSchema(t testing.TB, name string, schema []byte, ptr string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	loc := "file:///schemas/" + name
	if err := c.AddResource(loc, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(loc + ptr)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return sch
}

func validate(t testing.TB, sch *jsonschema.Schema, out []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

// ReportSchema validates JSON reports; exported to the package's tests and
// end-to-end tests through the helper below.
func reportSchema(t testing.TB) *jsonschema.Schema {
	return compileSchema(t, "strata.report.v1.json", JSONSchema(), "")
}

func TestJSONSchema(t *testing.T) {
	sch := reportSchema(t)
	cases := []struct {
		name    string
		sources func(testing.TB) []Source
		meta    func(testing.TB) Meta
	}{
		{"findings", one(sampleSource), testMeta},
		{"clean", one(cleanSource), testMeta},
		{"fleet", both, testMeta},
		{"no inputs", func(testing.TB) []Source { return nil }, func(testing.TB) Meta { return Meta{} }},
		{"no ruleset", func(t testing.TB) []Source {
			r := cleanSource(t)
			r.Ruleset = nil
			return []Source{r}
		}, func(testing.TB) Meta { return Meta{Version: "dev"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := render(t, NewDocument(c.meta(t), c.sources(t)...), JSON, TextOptions{})
			if err := validate(t, sch, out); err != nil {
				t.Fatalf("report does not validate: %v\n%s", err, out)
			}
		})
	}
}

// TestJSONSchemaRejects proves the schema test can fail: documents broken
// in ways a consumer would trip on are refused.
func TestJSONSchemaRejects(t *testing.T) {
	sch := reportSchema(t)
	good := render(t, NewDocument(testMeta(t), sampleSource(t)), JSON, TextOptions{})
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"wrong schema id", func(m map[string]any) { m["schema"] = "strata.report/v2" }},
		{"unknown status", func(m map[string]any) { m["verdict"].(map[string]any)["status"] = "fine" }},
		{"finding without layer", func(m map[string]any) { delete(m["findings"].([]any)[0].(map[string]any), "layer") }},
		{"bad severity", func(m map[string]any) { m["findings"].([]any)[0].(map[string]any)["severity"] = "severe" }},
		{"renamed field", func(m map[string]any) { m["input"] = m["inputs"]; delete(m, "inputs") }},
		{"bad timestamp", func(m map[string]any) { m["started"] = "yesterday" }},
		{"short sha256", func(m map[string]any) {
			m["inputs"].([]any)[0].(map[string]any)["input"].(map[string]any)["sha256"] = "abc"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			c.mutate(m)
			bad, _ := json.Marshal(m)
			if err := validate(t, sch, bad); err == nil {
				t.Fatal("the schema accepts a broken document")
			}
		})
	}
}

func TestInspectJSON(t *testing.T) {
	sch := compileSchema(t, "strata.report.v1.json", JSONSchema(), "#/$defs/inspection")
	var buf bytes.Buffer
	if err := InspectJSON(&buf, sampleSource(t)); err != nil {
		t.Fatal(err)
	}
	if err := validate(t, sch, buf.Bytes()); err != nil {
		t.Fatalf("inspect JSON does not validate: %v\n%s", err, buf.Bytes())
	}
	golden.Assert(t, golden.Path(t), buf.Bytes())

	// The inspect document is the report's inputs[] entry, minus fields:
	// the same names with the same values.
	var insp map[string]json.RawMessage
	var rep struct {
		Inputs []map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &insp); err != nil {
		t.Fatal(err)
	}
	if len(insp) != 4 {
		t.Errorf("inspect JSON has %d top-level fields, want input, images, integrity, coverage", len(insp))
	}
	full := render(t, NewDocument(testMeta(t), sampleSource(t)), JSON, TextOptions{})
	if err := json.Unmarshal(full, &rep); err != nil {
		t.Fatal(err)
	}
	for k, v := range insp {
		if !jsonEqual(t, v, rep.Inputs[0][k]) {
			t.Errorf("%q differs between inspect and report", k)
		}
	}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func sarifSchema(t testing.TB) *jsonschema.Schema {
	b, err := os.ReadFile(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	return compileSchema(t, "sarif-schema-2.1.0.json", b, "")
}

func TestSARIFSchema(t *testing.T) {
	sch := sarifSchema(t)
	for _, c := range []struct {
		name    string
		sources func(testing.TB) []Source
		meta    Meta
	}{
		{"findings", one(sampleSource), testMeta(t)},
		{"fleet", both, testMeta(t)},
		{"clean", one(cleanSource), testMeta(t)},
		{"without rule set", one(sampleSource), Meta{Version: "dev"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := render(t, NewDocument(c.meta, c.sources(t)...), SARIF, TextOptions{})
			if err := validate(t, sch, out); err != nil {
				t.Fatalf("SARIF does not validate: %v\n%s", err, out)
			}
		})
	}
}

func TestSARIFContent(t *testing.T) {
	d := NewDocument(testMeta(t), sampleSource(t))
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name, Version, InformationURI string
					Rules                         []struct {
						ID   string `json:"id"`
						Help struct {
							Text string `json:"text"`
						} `json:"help"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, d, SARIF, TextOptions{}), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "strata" || run.Tool.Driver.Version != "v0.0.0-test" {
		t.Errorf("driver %+v", run.Tool.Driver)
	}
	if len(run.Tool.Driver.Rules) != 3 {
		t.Fatalf("%d rules, want the 3 that matched", len(run.Tool.Driver.Rules))
	}
	for _, r := range run.Tool.Driver.Rules {
		if !strings.Contains(r.Help.Text, "https://example.org/") || r.Properties["sources"] == nil {
			t.Errorf("rule %s lacks its sources: %+v", r.ID, r)
		}
	}
	if len(run.Results) != len(d.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(d.Findings))
	}
	wantLevel := map[finding.Severity]string{finding.Critical: "error", finding.High: "error", finding.Medium: "warning", finding.Low: "note", finding.Info: "note"}
	manifest := d.Inputs[0].Images[0].ManifestDigest
	for i, r := range run.Results {
		f := d.Findings[i]
		if r.RuleID != f.Rule || run.Tool.Driver.Rules[r.RuleIndex].ID != f.Rule {
			t.Errorf("result %d: rule %s index %d, want %s", i, r.RuleID, r.RuleIndex, f.Rule)
		}
		if r.Level != wantLevel[f.Severity] {
			t.Errorf("result %d: level %s for %s", i, r.Level, f.Severity)
		}
		uri := r.Locations[0].PhysicalLocation.ArtifactLocation.URI
		want := "oci:///" + manifest + "/layers/1" + f.Path
		if uri != want {
			t.Errorf("result %d: uri %s, want %s", i, uri, want)
		}
		for _, k := range []string{"layer", "layer_digest", "image", "present", "sha256", "evidence"} {
			if _, ok := r.Properties[k]; !ok {
				t.Errorf("result %d lacks property %s", i, k)
			}
		}
		if r.Properties["present"] != f.Present || r.Properties["layer_digest"] != f.LayerDigest {
			t.Errorf("result %d: properties %v", i, r.Properties)
		}
	}
}

func TestArtifactURI(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name  string
		layer int
		path  string
		want  string
	}{
		{"file", 2, "/usr/lib/liblzma.so.5", "oci:///" + dg + "/layers/2/usr/lib/liblzma.so.5"},
		{"layer", 0, "", "oci:///" + dg + "/layers/0"},
		{"image", -1, "", "oci:///" + dg},
		{"space and percent", 1, "/a b/c%d", "oci:///" + dg + "/layers/1/a%20b/c%25d"},
		{"hash and query", 1, "/x#y?z", "oci:///" + dg + "/layers/1/x%23y%3Fz"},
		{"non-UTF-8", 1, "/\xff", "oci:///" + dg + "/layers/1/%FF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ArtifactURI(dg, c.layer, c.path)
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("not a URI: %v", err)
			}
			if c.path != "" && u.Path != "/"+dg+"/layers/"+strings.Split(got, "/layers/")[1][:1]+c.path {
				t.Errorf("path decodes to %q", u.Path)
			}
		})
	}
}
