package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/engines"
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

// TestScanRealRegistry: the storage folder of Debian's docker-registry
// (distribution 2.8, run with a root directory of its own on 127.0.0.1),
// holding what skopeo pushed to it over HTTP:
//
//	library/xz:5.6.1, library/xz:latest  xz-planted (one manifest, two tags)
//	library/base:12                      clean
//	library/app:1                        xz-planted as an OCI manifest, then
//	                                     clean as an OCI manifest (the tag moved)
//
// Scanned with the registry stopped: every repository:tag is an image of
// the manifest skopeo pushed, with its verdict; the backdoored liblzma is
// found in layer 1, the layer the manifest names; by default the tag's
// earlier manifest is unreferenced, and --all-revisions makes it the image
// "library/app:1 (earlier)", compromised. Every blob is verified: a byte
// flipped in the backdoored layer's data file is a digest mismatch naming
// it. Nothing below the storage changes.
func TestScanRealRegistry(t *testing.T) {
	const lib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	xzTar := filepath.Join(fixtures, "xz-planted.docker.tar")
	xz, clean := "docker-archive:"+xzTar, "docker-archive:"+filepath.Join(fixtures, "clean.docker.tar")
	oci := []string{"--format", "oci"}
	storage, pushed := engines.Registry(t,
		engines.RegistryPush{From: xz, To: "library/xz:5.6.1"},
		engines.RegistryPush{From: xz, To: "library/xz:latest"},
		engines.RegistryPush{From: clean, To: "library/base:12"},
		engines.RegistryPush{From: xz, To: "library/app:1", Args: oci},
		engines.RegistryPush{From: clean, To: "library/app:1", Args: oci},
	)
	xzManifest, baseManifest, earlierManifest, appManifest := pushed[0], pushed[2], pushed[3], pushed[4]
	if pushed[1] != xzManifest || earlierManifest == xzManifest || appManifest == baseManifest {
		t.Fatalf("skopeo pushed manifests %v: want xz's two tags on one manifest, and the OCI ones apart", pushed)
	}
	root := engines.Copy(t, storage)
	// The layer holding the backdoor, as the registry holds it: the
	// manifests' layer 1, and the fixture's own diff_id for it.
	xzLayer, earlierLayer := manifestLayer(t, root, xzManifest, 1), manifestLayer(t, root, earlierManifest, 1)
	xzDiffID := dockerArchiveDiffID(t, xzTar, 1)
	before := engines.Listing(t, root)

	for _, tc := range []struct {
		args    []string
		images  map[string][]string // manifest -> the names of its image
		worst   map[string]string   // manifest -> its image's verdict line
		earlier bool                // the tag's earlier manifest is an image, not unreferenced
	}{
		{nil, map[string][]string{
			xzManifest:   {"library/xz:5.6.1", "library/xz:latest"},
			baseManifest: {"library/base:12"},
			appManifest:  {"library/app:1"},
		}, map[string]string{
			xzManifest:   "COMPROMISED  library/xz:5.6.1 (linux/amd64): 7 findings, worst critical; integrity verified",
			baseManifest: "CLEAN  library/base:12 (linux/amd64): no findings; integrity verified",
			appManifest:  "CLEAN  library/app:1 (linux/amd64): no findings; integrity verified",
		}, false},
		{[]string{"--all-revisions"}, map[string][]string{
			xzManifest:      {"library/xz:5.6.1", "library/xz:latest"},
			baseManifest:    {"library/base:12"},
			appManifest:     {"library/app:1"},
			earlierManifest: {"library/app:1 (earlier)"},
		}, map[string]string{
			xzManifest:      "COMPROMISED  library/xz:5.6.1 (linux/amd64): 7 findings, worst critical; integrity verified",
			baseManifest:    "CLEAN  library/base:12 (linux/amd64): no findings; integrity verified",
			appManifest:     "CLEAN  library/app:1 (linux/amd64): no findings; integrity verified",
			earlierManifest: "COMPROMISED  library/app:1 (earlier) (linux/amd64): 7 findings, worst critical; integrity verified",
		}, true},
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			var text, out, errOut bytes.Buffer
			if code := Run(context.Background(), testBuild, append(append([]string{"scan"}, tc.args...), root), &text, &errOut); code != exitFindings {
				t.Errorf("exit code %d (%s)", code, errOut.String())
			}
			for _, line := range tc.worst {
				if !strings.Contains(text.String(), "\n"+line+"\n") {
					t.Errorf("no verdict line %q:\n%s", line, text.String())
				}
			}
			if code := Run(context.Background(), testBuild, append(append([]string{"scan", "--format", "json"}, tc.args...), root), &out, &errOut); code != exitFindings {
				t.Errorf("exit code %d (%s)", code, errOut.String())
			}
			var doc registryReport
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Inputs) != 1 {
				t.Fatalf("%v: %d inputs", err, len(doc.Inputs))
			}
			in := doc.Inputs[0]
			if in.Input.Format != "registry" || !in.Integrity.OK || len(in.Integrity.Problems) != 0 {
				t.Errorf("a %s input, integrity ok %v, problems %v", in.Input.Format, in.Integrity.OK, in.Integrity.Problems)
			}
			byManifest := map[string]registryImage{}
			for _, im := range in.Images {
				byManifest[im.ManifestDigest] = im
			}
			if len(in.Images) != len(tc.images) {
				t.Errorf("%d images, want %d: %+v", len(in.Images), len(tc.images), in.Images)
			}
			for m, names := range tc.images {
				if im, ok := byManifest[m]; !ok || !slices.Equal(im.Names, names) {
					t.Errorf("manifest %s: image %+v, want names %v", m, im, names)
				}
			}
			// The backdoor, in each compromised image, in layer 1 as the
			// manifest names it and as the fixture's config knows it.
			for m, layer := range map[string]string{xzManifest: xzLayer, earlierManifest: earlierLayer} {
				im, ok := byManifest[m]
				if !ok {
					continue
				}
				if len(im.Layers) != 4 || im.Layers[1].Digest != layer || im.Layers[1].DiffID != xzDiffID {
					t.Errorf("%s: layers %+v, want layer 1 %s (diff_id %s)", im.Ref, im.Layers, layer, xzDiffID)
				}
				found := false
				for _, f := range in.Findings {
					if f.Image == im.Ref && f.Path == lib && f.Severity == "critical" {
						found = true
						if f.Layer != 1 || f.LayerDigest != layer {
							t.Errorf("%s: %s found in layer %d (%s), want 1 (%s)", im.Ref, lib, f.Layer, f.LayerDigest, layer)
						}
					}
				}
				if !found {
					t.Errorf("%s: no critical finding at %s", im.Ref, lib)
				}
			}
			unref := false
			for _, r := range in.Integrity.Unreferenced {
				unref = unref || strings.Contains(r.Blob, strings.TrimPrefix(earlierManifest, "sha256:")) && r.Content == "manifest"
			}
			if unref == tc.earlier {
				t.Errorf("the tag's earlier manifest listed as unreferenced: %v, want %v (%+v)", unref, !tc.earlier, in.Integrity.Unreferenced)
			}
		})
	}
	if engines.Listing(t, root) != before {
		t.Error("the scan changed the storage")
	}

	// A byte flipped in the backdoored layer's data file.
	data := filepath.Join(root, "docker/registry/v2/blobs/sha256", xzLayer[7:9], xzLayer[7:], "data")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	Run(context.Background(), testBuild, []string{"scan", "--format", "json", root}, &out, &errOut)
	var doc registryReport
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Inputs) != 1 {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	mismatch := false
	for _, p := range doc.Inputs[0].Integrity.Problems {
		mismatch = mismatch || p.Kind == "digest-mismatch" && strings.Contains(p.Blob, xzLayer[7:])
	}
	if doc.Inputs[0].Integrity.OK || !mismatch {
		t.Errorf("a layer flipped on disk: integrity ok %v, problems %+v", doc.Inputs[0].Integrity.OK, doc.Inputs[0].Integrity.Problems)
	}
}

// registryReport is what TestScanRealRegistry reads of a JSON report.
type registryReport struct {
	Inputs []struct {
		Input struct {
			Format string `json:"format"`
		} `json:"input"`
		Images    []registryImage `json:"images"`
		Integrity struct {
			OK           bool             `json:"ok"`
			Problems     []registryRecord `json:"problems"`
			Unreferenced []registryRecord `json:"unreferenced"`
		} `json:"integrity"`
		Findings []struct {
			Image       string `json:"image"`
			Layer       int    `json:"layer"`
			LayerDigest string `json:"layer_digest"`
			Path        string `json:"path"`
			Severity    string `json:"severity"`
		} `json:"findings"`
	} `json:"inputs"`
}

type registryImage struct {
	Ref            string   `json:"ref"`
	Names          []string `json:"names"`
	ManifestDigest string   `json:"manifest_digest"`
	Layers         []struct {
		Digest string `json:"digest"`
		DiffID string `json:"diff_id"`
	} `json:"layers"`
}

type registryRecord struct {
	Blob    string `json:"blob"`
	Kind    string `json:"kind"`
	Content string `json:"content"`
}

// manifestLayer reads the digest of layer n of manifest m from the
// registry's own blob file below root.
func manifestLayer(t *testing.T, root, m string, n int) string {
	t.Helper()
	hex := strings.TrimPrefix(m, "sha256:")
	data, err := os.ReadFile(filepath.Join(root, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(data, &man); err != nil || len(man.Layers) <= n {
		t.Fatalf("manifest %s: %v, %d layers", m, err, len(man.Layers))
	}
	return man.Layers[n].Digest
}

// dockerArchiveDiffID is the diff_id of layer n of the one image of the
// docker save archive p, from its config.
func dockerArchiveDiffID(t *testing.T, p string, n int) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, ".json") {
			if members[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	var manifest []struct{ Config string }
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v", p, err)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(members[manifest[0].Config], &cfg); err != nil || len(cfg.RootFS.DiffIDs) <= n {
		t.Fatalf("%s: config: %v", p, err)
	}
	return cfg.RootFS.DiffIDs[n]
}
