package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

// TestVEXFixtures scans every bundled fixture and validates its OpenVEX
// document and CycloneDX BOM against the published schemas; the planted
// and the clean docker archives are also compared with goldens (go test
// -update rewrites them) and their verdicts checked.
func TestVEXFixtures(t *testing.T) {
	vexSch, bomSch := report.OpenVEXSchema(t), report.CycloneDXSchema(t)
	for _, p := range fixtureInputs(t) {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			res, rs := scanFixture(t, p)
			d := report.NewDocument(fixtureMeta(rs, "--format", "openvex", p), res.ReportSource())
			ovx := report.Render(t, d, report.OpenVEX, report.TextOptions{})
			if err := report.Validate(t, vexSch, ovx); err != nil {
				t.Errorf("OpenVEX: %v", err)
			}
			bom := report.Render(t, d, report.CycloneDX, report.TextOptions{})
			if err := report.Validate(t, bomSch, bom); err != nil {
				t.Errorf("CycloneDX: %v", err)
			}
			if name != "xz-planted.docker.tar" && name != "clean.docker.tar" {
				return
			}
			// The built-in rules change more often than these documents:
			// their identity, and the ids hashed over it, are masked.
			info := rs.Info()
			mask := func(b []byte) []byte {
				b = bytes.ReplaceAll(b, []byte(info.SHA256), []byte("RULESET-SHA256"))
				b = bytes.ReplaceAll(b, []byte(`"`+info.Version+`"`), []byte(`"RULESET-VERSION"`))
				b = bytes.ReplaceAll(b, []byte("rules "+info.Version+" "), []byte("rules RULESET-VERSION "))
				return uuidRE.ReplaceAll(b, []byte("urn:uuid:UUID"))
			}
			golden.Assert(t, filepath.Join("testdata", "TestVEXFixtures", name+".openvex.json.golden"), mask(ovx))
			golden.Assert(t, filepath.Join("testdata", "TestVEXFixtures", name+".cdx.json.golden"), mask(bom))

			doc, err := vex.Parse(ovx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]vex.Status{"xz-planted.docker.tar": vex.StatusAffected, "clean.docker.tar": vex.StatusFixed}[name]
			if len(doc.Statements) != 1 || doc.Statements[0].Status != want {
				t.Fatalf("statements %+v, want one %s", doc.Statements, want)
			}
			checkLayers(t, name, bom)
		})
	}
}

var uuidRE = regexp.MustCompile(`urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// checkLayers reads the BOM back and checks the per-layer provenance of
// liblzma5: the planted image's base layer installed 5.4.5-0.3, which
// layer 1 replaced with the backdoored 5.6.1-1; the clean image's base
// layer installed Debian's fix.
func checkLayers(t *testing.T, name string, b []byte) {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	img := (*bom.Components)[0]
	layers := map[string]string{}
	for _, p := range *img.Properties {
		layers[p.Name] = p.Value
	}
	want := map[string]string{"5.4.5-0.3": "0 false", "5.6.1-1": "1 true"}
	if name == "clean.docker.tar" {
		want = map[string]string{"5.6.1+really5.4.5-1": "0 true"}
	}
	got := map[string]string{}
	for _, c := range *img.Components {
		if c.Name != "liblzma5" {
			continue
		}
		props := map[string]string{}
		for _, p := range *c.Properties {
			props[p.Name] = p.Value
		}
		idx := props[report.PropLayerIndex]
		if props[report.PropLayerDigest] != layers["strata:layer:"+idx+":digest"] || !strings.HasPrefix(props[report.PropLayerDigest], "sha256:") {
			t.Errorf("liblzma5 %s: layer %s digest %s", c.Version, idx, props[report.PropLayerDigest])
		}
		got[c.Version] = idx + " " + map[bool]string{true: "true", false: "false"}[props[report.PropPresent] != "false"]
	}
	if len(got) != len(want) {
		t.Fatalf("liblzma5 components %v, want %v", got, want)
	}
	for v, w := range want {
		if got[v] != w {
			t.Errorf("liblzma5 %s: layer and presence %q, want %q", v, got[v], w)
		}
	}
}

// TestVEXFixtureDeterminism: two scans of a fixture write the same bytes.
func TestVEXFixtureDeterminism(t *testing.T) {
	p := filepath.Join(fixtureDir, "xz-planted.oci.tar")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("committed fixture missing: %v", err)
	}
	a, rs := scanFixture(t, p)
	b, _ := scanFixture(t, p)
	for _, f := range []report.Format{report.OpenVEX, report.CycloneDX} {
		x := report.Render(t, report.NewDocument(fixtureMeta(rs, p), a.ReportSource()), f, report.TextOptions{})
		y := report.Render(t, report.NewDocument(fixtureMeta(rs, p), b.ReportSource()), f, report.TextOptions{})
		if !bytes.Equal(x, y) {
			t.Fatalf("%s: two scans differ:\n%s", f, golden.Diff(x, y))
		}
	}
}
