package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/opencontainers/go-digest"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

// Published schemas, copied into testdata/schemas (see its README), by the
// $id their references resolve against.
const (
	openVEXSchemaID   = "https://github.com/openvex/spec/openvex_json_schema_0.2.0.json"
	cycloneDXSchemaID = "http://cyclonedx.org/schema/bom-1.6.schema.json"
)

func schemaDoc(t testing.TB, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "schemas", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

// compileSchemas compiles the schema at id, the others given resolving its
// references; formats (iri, uri, date-time) are asserted as a strict
// consumer would.
func compileSchemas(t testing.TB, id string, files map[string]string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for name, url := range files {
		if err := c.AddResource(url, schemaDoc(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile %s: %v", id, err)
	}
	return sch
}

func openVEXSchema(t testing.TB) *jsonschema.Schema {
	return compileSchemas(t, openVEXSchemaID, map[string]string{"openvex_json_schema.json": openVEXSchemaID})
}

func cycloneDXSchema(t testing.TB) *jsonschema.Schema {
	return compileSchemas(t, cycloneDXSchemaID, map[string]string{
		"bom-1.6.schema.json":  cycloneDXSchemaID,
		"spdx.schema.json":     "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schema.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	})
}

func pkg(name, version string, layer int, present bool) InventoryPackage {
	return InventoryPackage{Package: pkgdb.Package{Name: name, Version: version, Arch: "amd64", Source: "xz-utils", Ecosystem: pkgdb.Dpkg},
		Database: "/var/lib/dpkg/status", Layer: layer, Present: present}
}

func debianOS() ([]byte, error) {
	return []byte("PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n"), nil
}

// vexSource is cleanSource (one verified image, example/clean:1) with an
// inventory and findings.
func vexSource(t testing.TB, pkgs []InventoryPackage, libs []InventoryFile, fs ...finding.Finding) Source {
	src := cleanSource(t)
	img := src.Images[0].Image
	src.Images[0].Inventory = &Inventory{Packages: pkgs, Liblzma: libs, ReadOSRelease: debianOS}
	for i := range fs {
		fs[i].Image, fs[i].LayerDigest = img.Ref(), img.Layers[0].Digest.String()
	}
	src.Findings = fs
	return src
}

var (
	lib546 = InventoryFile{Path: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.4.5", Layer: 0, SHA256: sha("lib")}
	// A package finding as detect writes it.
	pkgFinding = finding.Finding{Rule: "TEST-package", Kind: finding.Package, Severity: finding.Low, Layer: 0,
		Path: "/var/lib/dpkg/status", Present: true, Package: &finding.Pkg{Name: "liblzma5", Version: "5.6.0-0.1", Ecosystem: "dpkg"},
		Evidence: "/var/lib/dpkg/status lists liblzma5 5.6.0-0.1"}
)

type vexCase struct {
	name    string
	src     func(testing.TB) Source
	noRules bool
	status  vex.Status
	just    vex.Justification
	subs    []string // subcomponent @ids
	note    string   // in status_notes, impact or action statement
}

func vexCases() []vexCase {
	return []vexCase{
		{name: "affected", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.6.0-0.1", 0, true)}, nil,
				finding.Finding{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.Critical, Layer: 0, Present: true,
					Path: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", SHA256: sha("bad")}, pkgFinding)
		}, status: vex.StatusAffected, subs: []string{"pkg:deb/debian/liblzma5@5.6.0-0.1?arch=amd64"}, note: "Do not run this image"},
		{name: "affected, deleted but shipped", src: func(t testing.TB) Source {
			return vexSource(t, nil, nil, finding.Finding{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.High,
				Layer: 0, Present: false, Path: "/opt/liblzma.so.5.6.1", SHA256: sha("bad")})
		}, status: vex.StatusAffected, note: "still ship in the layer"},
		{name: "fixed", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.6.1+really5.4.5-1", 0, true)}, []InventoryFile{lib546})
		}, status: vex.StatusFixed, subs: []string{"pkg:deb/debian/liblzma5@5.6.1%2Breally5.4.5-1?arch=amd64"},
			note: "liblzma5 5.6.1+really5.4.5-1 (dpkg, layer 0) sorts after"},
		{name: "fixed after an affected layer", src: func(t testing.TB) Source {
			old := pkgFinding
			old.Present = false
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.6.0-0.1", 0, false), pkg("liblzma5", "5.6.1+really5.4.5-1", 0, true)}, nil, old)
		}, status: vex.StatusFixed, subs: []string{"pkg:deb/debian/liblzma5@5.6.1%2Breally5.4.5-1?arch=amd64"},
			note: "installed and later removed or replaced: liblzma5 5.6.0-0.1"},
		{name: "affected version, no backdoor", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.6.0-0.1", 0, true)}, []InventoryFile{lib546}, pkgFinding)
		}, status: vex.StatusNotAffected, just: vex.VulnerableCodeNotPresent,
			subs: []string{"pkg:deb/debian/liblzma5@5.6.0-0.1?arch=amd64"}, note: "at an affected version, but no file of the image carries the backdoor"},
		{name: "older version", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.4.1-0.2", 0, true), pkg("libc6", "2.36-9", 0, true)}, []InventoryFile{lib546})
		}, status: vex.StatusNotAffected, just: vex.VulnerableCodeNotPresent,
			subs: []string{"pkg:deb/debian/liblzma5@5.4.1-0.2?arch=amd64"}, note: "liblzma5 5.4.1-0.2 (dpkg, layer 0) in no range of rule"},
		{name: "liblzma without a package", src: func(t testing.TB) Source {
			return vexSource(t, nil, []InventoryFile{lib546})
		}, status: vex.StatusNotAffected, just: vex.VulnerableCodeNotPresent, note: "liblzma.so.5.4.5 (layer 0)"},
		{name: "no xz at all", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("libc6", "2.36-9", 0, true)}, nil)
		}, status: vex.StatusNotAffected, just: vex.ComponentNotPresent, note: "liblzma5, liblzma5-udeb, xz-utils, xzdec (dpkg)"},
		{name: "traces only", src: func(t testing.TB) Source {
			return vexSource(t, nil, nil, finding.Finding{Rule: "TEST-signature", Kind: finding.Signature, Severity: finding.Medium,
				Layer: 0, Present: true, Path: "/src/xz-5.6.1/configure"})
		}, status: vex.StatusUnderInvestigation, note: "Traces of the xz backdoor"},
		{name: "integrity problem", src: func(t testing.TB) Source {
			src := vexSource(t, nil, nil)
			src.Problems = []integrity.Problem{{Blob: digest.FromString("layer0").String(), Kind: integrity.DigestMismatch}}
			return src
		}, status: vex.StatusUnderInvestigation, note: "does not verify"},
		{name: "unreadable version", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "not a version", 0, true)}, nil)
		}, status: vex.StatusUnderInvestigation, subs: []string{"pkg:deb/debian/liblzma5@not%20a%20version?arch=amd64"}, note: "cannot read"},
		{name: "no rules", src: func(t testing.TB) Source {
			return vexSource(t, []InventoryPackage{pkg("liblzma5", "5.6.1+really5.4.5-1", 0, true)}, nil)
		}, noRules: true, status: vex.StatusUnderInvestigation, note: "without the rule set"},
	}
}

func (c vexCase) doc(t testing.TB) *Document {
	m := testMeta(t)
	if c.noRules {
		m.Rules = nil
	}
	return NewDocument(m, c.src(t))
}

// TestOpenVEXStatuses writes one document per case, validates it against
// the published schema, and reads it back with go-vex, the library grype
// and trivy read OpenVEX with, matching it as they do: by the image's
// package URL (theirs more specific than ours) or bare digest, and the
// matched package's URL.
func TestOpenVEXStatuses(t *testing.T) {
	sch := openVEXSchema(t)
	for _, c := range vexCases() {
		t.Run(c.name, func(t *testing.T) {
			out := render(t, c.doc(t), OpenVEX, TextOptions{})
			if err := validate(t, sch, out); err != nil {
				t.Fatalf("OpenVEX does not validate: %v\n%s", err, out)
			}
			doc, err := vex.Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Statements) != 1 {
				t.Fatalf("%d statements, want 1", len(doc.Statements))
			}
			st := doc.Statements[0]
			if err := st.Validate(); err != nil {
				t.Errorf("go-vex refuses the statement: %v", err)
			}
			if st.Status != c.status || st.Justification != c.just {
				t.Errorf("status %s/%s, want %s/%s\n%s", st.Status, st.Justification, c.status, c.just, out)
			}
			var subs []string
			for _, s := range st.Products[0].Subcomponents {
				subs = append(subs, s.ID)
			}
			if strings.Join(subs, " ") != strings.Join(c.subs, " ") {
				t.Errorf("subcomponents %v, want %v", subs, c.subs)
			}
			text := st.StatusNotes + " | " + st.ImpactStatement + " | " + st.ActionStatement
			if !strings.Contains(text, c.note) {
				t.Errorf("statement does not say %q:\n%s", c.note, text)
			}

			hex := digest.FromString("manifest2").Encoded()
			consumer := "pkg:oci/clean@sha256%3A" + hex + "?repository_url=index.docker.io%2Fexample"
			var theirSubs []string
			for _, s := range c.subs {
				// A scanner's own package URL carries more qualifiers.
				theirSubs = append(theirSubs, s+"&distro=debian-12")
			}
			for _, product := range []string{consumer, hex} {
				got := doc.Matches(CVE, product, theirSubs)
				if len(got) != 1 || got[0].Status != c.status {
					t.Errorf("a consumer matching %s finds %d statements", product, len(got))
				}
			}
			if got := doc.Matches(CVE, "pkg:oci/other@sha256%3A"+hex, nil); len(got) != 0 {
				t.Errorf("another image's URL matches")
			}
		})
	}
}

// TestOpenVEXRejects proves the schema test can fail.
func TestOpenVEXRejects(t *testing.T) {
	sch := openVEXSchema(t)
	good := render(t, vexCases()[0].doc(t), OpenVEX, TextOptions{})
	for _, c := range []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"affected without action", func(m map[string]any) {
			delete(m["statements"].([]any)[0].(map[string]any), "action_statement")
		}},
		{"unknown status", func(m map[string]any) { m["statements"].([]any)[0].(map[string]any)["status"] = "fine" }},
		{"no statements", func(m map[string]any) { m["statements"] = []any{} }},
		{"bad timestamp", func(m map[string]any) { m["timestamp"] = "yesterday" }},
	} {
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

// TestCycloneDXStatuses validates the BOM of every case against the
// published schema and reads it back with cyclonedx-go: the layer of
// every package, and the judgement in the vulnerability's analysis.
func TestCycloneDXStatuses(t *testing.T) {
	sch := cycloneDXSchema(t)
	wantState := map[vex.Status]cdx.ImpactAnalysisState{vex.StatusAffected: cdx.IASExploitable, vex.StatusFixed: cdx.IASResolved,
		vex.StatusNotAffected: cdx.IASNotAffected, vex.StatusUnderInvestigation: cdx.IASInTriage}
	for _, c := range vexCases() {
		t.Run(c.name, func(t *testing.T) {
			d := c.doc(t)
			out := render(t, d, CycloneDX, TextOptions{})
			if err := validate(t, sch, out); err != nil {
				t.Fatalf("CycloneDX does not validate: %v\n%s", err, out)
			}
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
				t.Fatal(err)
			}
			if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Components == nil || len(*bom.Components) != 1 {
				t.Fatalf("spec %s, components %v", bom.SpecVersion, bom.Components)
			}
			img := (*bom.Components)[0]
			if img.Type != cdx.ComponentTypeContainer || img.PackageURL != "pkg:oci/clean@sha256:"+digest.FromString("manifest2").Encoded() {
				t.Errorf("image component %+v", img)
			}
			inv := d.Inputs[0].inventories[0]
			var pkgs []cdx.Component
			if img.Components != nil {
				for _, sub := range *img.Components {
					if sub.Type == cdx.ComponentTypeLibrary {
						pkgs = append(pkgs, sub)
					}
				}
			}
			if len(pkgs) != len(inv.Packages) {
				t.Fatalf("%d package components for %d packages", len(pkgs), len(inv.Packages))
			}
			for i, p := range pkgs {
				props := map[string]string{}
				for _, pr := range *p.Properties {
					props[pr.Name] = pr.Value
				}
				want := inv.Packages[i]
				if props[PropLayerIndex] != "0" || props[PropLayerDigest] != digest.FromString("layer0").String() ||
					props[PropPackageDB] != want.Database || p.Name != want.Name || p.Version != want.Version {
					t.Errorf("package %d: %s %s %v", i, p.Name, p.Version, props)
				}
				if !want.Present && (p.Scope != cdx.ScopeExcluded || props[PropPresent] != "false") {
					t.Errorf("removed package %s %s is not marked so", p.Name, p.Version)
				}
			}
			if len(d.Findings) == 0 {
				if bom.Vulnerabilities != nil {
					t.Errorf("vulnerabilities without findings")
				}
				return
			}
			vs := *bom.Vulnerabilities
			if len(vs) != 1 || vs[0].ID != CVE || vs[0].Analysis.State != wantState[c.status] {
				t.Fatalf("vulnerabilities %+v", vs)
			}
			affects := *vs[0].Affects
			if affects[0].Ref != img.BOMRef {
				t.Errorf("the vulnerability does not affect the image: %+v", affects)
			}
			for _, f := range d.Findings {
				if f.Package == nil {
					continue
				}
				found := false
				for _, a := range affects[1:] {
					found = found || strings.Contains(a.Ref, "/"+f.Package.Name+"@")
				}
				if !found {
					t.Errorf("no affects ref for the package finding %s %s", f.Package.Name, f.Package.Version)
				}
			}
		})
	}
}

// TestVEXGolden pins both documents of the hand-made fleet: a compromised
// image and a clean one from one archive, and an image that ran no
// detection.
func TestVEXGolden(t *testing.T) {
	src := sampleSource(t)
	src.Images[0].Inventory = &Inventory{ReadOSRelease: debianOS, Packages: []InventoryPackage{
		pkg("liblzma5", "5.4.5-0.3", 0, false), pkg("liblzma5", "5.6.0-0.1", 1, true), pkg("libc6", "2.36-9", 0, true)},
		Liblzma: []InventoryFile{{Path: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", Layer: 1, SHA256: sha(fileBytes["/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"])}}}
	SortInventory(src.Images[0].Inventory)
	src.Images[1].Inventory = &Inventory{Packages: []InventoryPackage{pkg("liblzma5", "5.6.1+really5.4.5-1", 0, true)}}
	clean := cleanSource(t)
	clean.Images[0].Inventory = &Inventory{ReadOSRelease: debianOS, Packages: []InventoryPackage{pkg("liblzma5", "5.6.1+really5.4.5-1", 0, true)},
		Liblzma: []InventoryFile{lib546}}
	for _, f := range []Format{OpenVEX, CycloneDX} {
		t.Run(f.Ext(), func(t *testing.T) {
			d := NewDocument(testMeta(t), src, clean)
			golden.Assert(t, golden.Path(t), render(t, d, f, TextOptions{}))
		})
	}
}

// TestVEXEmpty: an OpenVEX document needs a statement, so a report of no
// image is an error, not an invalid document; the BOM is still valid.
func TestVEXEmpty(t *testing.T) {
	d := NewDocument(testMeta(t))
	var buf bytes.Buffer
	if err := d.Write(&buf, OpenVEX, TextOptions{}); err == nil {
		t.Errorf("OpenVEX of nothing: %s", buf.Bytes())
	}
	if err := validate(t, cycloneDXSchema(t), render(t, d, CycloneDX, TextOptions{})); err != nil {
		t.Errorf("empty BOM: %v", err)
	}
}

func TestUnescapeHTML(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"x \u003cy\u003e \u0026 z"}`: `{"a":"x <y> & z"}`,
		`{"a":"\\u003c"}`:                  `{"a":"\\u003c"}`, // an escaped backslash, then text
		`{"a":"\"\u2028"}`:                 `{"a":"\"\u2028"}`,
		`{"a":"end\`:                       `{"a":"end\`,
	} {
		if got := string(unescapeHTML([]byte(in))); got != want {
			t.Errorf("unescapeHTML(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestPastRange(t *testing.T) {
	cases := []struct {
		eco  pkgdb.Ecosystem
		v    string
		rg   rules.Range
		want bool
	}{
		{pkgdb.Dpkg, "5.6.1+really5.4.5-1", rules.Range{Introduced: "5.5.1alpha-0.1", LastAffected: "5.6.1-1"}, true},
		{pkgdb.Dpkg, "5.6.1-1", rules.Range{Introduced: "5.5.1alpha-0.1", LastAffected: "5.6.1-1"}, false},
		{pkgdb.Dpkg, "5.4.1-0.2", rules.Range{Introduced: "5.5.1alpha-0.1", LastAffected: "5.6.1-1"}, false},
		{pkgdb.Dpkg, "5.6.1+really5.4.5-1", rules.Range{Versions: []string{"5.6.1-1", "5.6.0-0.1"}}, true},
		{pkgdb.Dpkg, "5.4.1-0.2", rules.Range{Versions: []string{"5.6.1-1", "5.6.0-0.1"}}, false},
		{pkgdb.APK, "5.6.1-r2", rules.Range{Introduced: "5.6.0-r0", Fixed: "5.6.1-r2"}, true},
		{pkgdb.APK, "5.6.1-r1", rules.Range{Introduced: "5.6.0-r0", Fixed: "5.6.1-r2"}, false},
		{pkgdb.RPM, "1:5.4.6-3.fc40", rules.Range{Introduced: "5.6.0", LastAffected: "5.6.1"}, true},
		{pkgdb.RPM, "5.4.6-3.fc40", rules.Range{Introduced: "5.6.0", LastAffected: "5.6.1"}, false},
		{pkgdb.RPM, "5.8.0-1", rules.Range{Introduced: "5.6.0"}, false}, // open at the top: never fixed
		{pkgdb.Dpkg, "garbage", rules.Range{Introduced: "5.6.0", Fixed: "5.6.2"}, false},
	}
	for _, c := range cases {
		if _, got := pastRange(c.eco, c.v, c.rg); got != c.want {
			t.Errorf("%s %s past %+v = %v, want %v", c.eco, c.v, c.rg, got, c.want)
		}
	}
}

func TestPackageURLs(t *testing.T) {
	v := &ImageVEX{os: parseOSRelease([]byte("ID='fedora'\nVERSION_ID=40\n"))}
	cases := []struct {
		p           InventoryPackage
		vex, bomURL string
	}{
		{InventoryPackage{Package: pkgdb.Package{Name: "xz-libs", Version: "1:5.4.6-3.fc40", Arch: "x86_64", Ecosystem: pkgdb.RPM}},
			"pkg:rpm/fedora/xz-libs@5.4.6-3.fc40?arch=x86_64&epoch=1", "pkg:rpm/fedora/xz-libs@5.4.6-3.fc40?arch=x86_64&distro=fedora-40&epoch=1"},
		{InventoryPackage{Package: pkgdb.Package{Name: "xz", Version: "5.6.1-1", Ecosystem: "pacman"}},
			"pkg:alpm/fedora/xz@5.6.1-1", "pkg:alpm/fedora/xz@5.6.1-1?distro=fedora-40"},
		{InventoryPackage{Package: pkgdb.Package{Name: "xz", Version: "5.6.1", Ecosystem: "nix"}},
			"pkg:generic/xz@5.6.1", "pkg:generic/xz@5.6.1"},
		{InventoryPackage{Package: pkgdb.Package{Name: "xz", Version: "5.6.1", Ecosystem: "brew"}},
			"pkg:brew/xz@5.6.1", "pkg:brew/xz@5.6.1"},
		{InventoryPackage{Package: pkgdb.Package{Name: "app-arch/xz-utils", Version: "5.6.1", Ecosystem: "portage"}},
			"pkg:generic/app-arch/xz-utils@5.6.1", "pkg:generic/app-arch/xz-utils@5.6.1"},
	}
	for _, c := range cases {
		if got := v.packagePURL(c.p, false); got != c.vex {
			t.Errorf("VEX purl %s, want %s", got, c.vex)
		}
		if got := v.packagePURL(c.p, true); got != c.bomURL {
			t.Errorf("BOM purl %s, want %s", got, c.bomURL)
		}
	}
	for in, want := range map[string]string{
		"docker.io/library/debian:sid": "debian", "Example/XZ:planted": "xz", "ghcr.io/a/b@sha256:00": "b", "localhost:5000/app": "app",
	} {
		if got := repoName(in); got != want {
			t.Errorf("repoName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := inputName("fixtures/testdata/xz-planted.docker.tar.gz"); got != "xz-planted" {
		t.Errorf("inputName = %q", got)
	}
	if got := parseOSRelease([]byte("ID=\"debian\x1b[31m\"\n")); got.ID != "debian31m" {
		t.Errorf("os-release id %q keeps what a purl must not hold", got.ID)
	}
}
