package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/finding"
)

// driftSource is sampleSource with two findings on bytes planted in a
// layer's folder on an engine's host: one every container sees, one a
// later layer hides.
func driftSource(t testing.TB) Source {
	src := sampleSource(t)
	ref := src.Images[0].Image.Ref()
	l0 := src.Images[0].Image.Layers[0].Digest.String()
	src.Findings = append(src.Findings,
		finding.Finding{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.Critical, Image: ref, Layer: 0, LayerDigest: l0,
			Path: "/usr/lib/planted/liblzma.so.5", SHA256: sha("planted"), Present: true, Drift: "planted",
			Evidence: "sha256 listed by TEST-digest", Message: "backdoored liblzma look-alike; planted in layer 0's folder on the host"},
		finding.Finding{Rule: "TEST-signature", Kind: finding.Signature, Severity: finding.High, Image: ref, Layer: 0, LayerDigest: l0,
			Path: "/opt/old/hidden.so", SHA256: sha("hidden"), Present: false, Drift: "changed",
			Evidence: "pattern 0 at offset 0x10", Message: "byte pattern found; layer 2 of this image covers the path"})
	finding.Sort(src.Findings)
	return src
}

// TestDriftShown: a drift finding says planted or changed where others
// say present or deleted, in every format, and a hidden one is not listed
// as shipped in a layer.
func TestDriftShown(t *testing.T) {
	d := NewDocument(testMeta(t), driftSource(t))
	text := string(render(t, d, Text, TextOptions{}))
	for _, want := range []string{"/usr/lib/planted/liblzma.so.5  planted  ", "/opt/old/hidden.so  changed, hidden  "} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	md := string(render(t, d, Markdown, TextOptions{}))
	for _, want := range []string{"(planted)", "(changed, hidden)",
		"(planted in the layer's folder on the host after the pull: the layer's digest does not cover these bytes)",
		"(changed in the layer's folder on the host after the pull: the layer's digest does not cover these bytes; a later layer of the image hides the path)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	_, shipped, _ := strings.Cut(md, "## Deleted but shipped")
	shipped, _, _ = strings.Cut(shipped, "## Integrity problems")
	if strings.Contains(shipped, "hidden.so") || !strings.Contains(shipped, "/opt/old/liblzma.so.5.6.0") {
		t.Errorf("deleted but shipped:\n%s", shipped)
	}
	html := string(render(t, d, HTML, TextOptions{}))
	for _, want := range []string{"(planted)", `<span class="deleted">(planted in the layer&#39;s folder on the host after the pull`} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				Properties map[string]any `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, d, SARIF, TextOptions{}), &sarif); err != nil {
		t.Fatal(err)
	}
	drifts := map[string]any{}
	for _, r := range sarif.Runs[0].Results {
		drifts[r.Properties["path"].(string)] = r.Properties["drift"]
	}
	want := map[string]any{"/usr/lib/planted/liblzma.so.5": "planted", "/opt/old/hidden.so": "changed"}
	for p, got := range drifts {
		if got != want[p] {
			t.Errorf("SARIF result on %s: drift %v, want %v", p, got, want[p])
		}
	}
	out := render(t, d, JSON, TextOptions{})
	if err := validate(t, reportSchema(t), out); err != nil {
		t.Fatalf("report does not validate: %v", err)
	}
	if !strings.Contains(string(out), `"drift": "planted"`) {
		t.Error(`JSON lacks "drift": "planted"`)
	}
	var m map[string]any
	json.Unmarshal([]byte(strings.Replace(string(out), `"drift": "planted"`, `"drift": "moved"`, 1)), &m)
	bad, _ := json.Marshal(m)
	if validate(t, reportSchema(t), bad) == nil {
		t.Error(`the schema accepts "drift": "moved"`)
	}
}
