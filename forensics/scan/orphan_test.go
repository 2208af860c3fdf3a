package scan_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// TestOrphanLayersScanned: an OCI layout whose tag moved from a
// backdoored image to a clean one keeps the old image's blobs, nothing
// referring to them. They are evidence: each layer among them is read and
// scanned, its findings name the unreferenced blob and weigh at most
// medium (the verdict is suspicious, not compromised: no image of the
// input installs those files), and integrity stays ok.
func TestOrphanLayersScanned(t *testing.T) {
	for _, tc := range []struct{ name, clean string }{
		{"oci-archive", "whiteouts.oci.tar"},
		{"legacy-docker", "clean.docker.tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := loadArch(t, filepath.Join(fixturesDir, "xz-planted.oci"))
			a := loadArch(t, filepath.Join(fixturesDir, tc.clean))
			planted := ""
			for role, name := range old.roles(t) {
				if !strings.HasPrefix(role, "layer") {
					continue
				}
				a.set(name, old.get(t, name))
				if role == "layer1" {
					planted = strings.TrimPrefix(name, "blobs/sha256/")
				}
			}
			dst := filepath.Join(t.TempDir(), "moved"+filepath.Ext(tc.clean))
			a.write(t, dst)

			eng := builtinEngine(t)
			res, err := scan.Run(context.Background(), dst, scan.Options{Engine: eng, Parallel: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if r := res.Integrity(); !r.OK {
				t.Fatalf("integrity fails: %v", r.Problems)
			}
			var hit, high bool
			for _, f := range res.Findings {
				if !strings.HasPrefix(f.Image, "unreferenced blob ") {
					high = high || f.Severity > finding.Medium
					continue
				}
				if !strings.HasPrefix(f.Image, "unreferenced blob sha256:") || f.Layer != -1 || f.Severity > finding.Medium ||
					!strings.Contains(f.Message, "unreferenced blob") {
					t.Errorf("finding not weighed as an orphan's: %+v", f)
				}
				hit = hit || strings.Contains(f.LayerDigest, planted)
			}
			if high {
				t.Fatalf("the clean image %s has findings above medium of its own", tc.clean)
			}
			if !hit {
				t.Errorf("no finding names the planted layer %s", planted)
			}
			var layers int
			for _, p := range res.Integrity().Unreferenced {
				if p.Content == "layer" {
					layers++
					if !strings.Contains(p.Detail, "read as a layer") {
						t.Errorf("unreferenced layer record does not say it was read: %s", p.Detail)
					}
				}
			}
			if layers == 0 {
				t.Error("no unreferenced layer listed")
			}
			v := report.NewVerdict(res.Findings, res.Problems)
			if v.Status != report.Suspicious {
				t.Errorf("verdict %s, want %s", v.Status, report.Suspicious)
			}
			if b, _ := json.Marshal(res.Findings); !strings.Contains(string(b), "unreferenced blob") {
				t.Error("JSON findings do not say unreferenced blob")
			}
		})
	}
}

// TestOrphanDamageIsInformation: an unreferenced layer whose bytes no
// longer match its name is described, never failed.
func TestOrphanDamageIsInformation(t *testing.T) {
	old := loadArch(t, filepath.Join(fixturesDir, "xz-planted.oci"))
	a := loadArch(t, filepath.Join(fixturesDir, "whiteouts.oci.tar"))
	name := old.roles(t)["layer1"]
	b := append([]byte(nil), old.get(t, name)...)
	b[len(b)/2] ^= 0xff
	a.set(name, b)
	dst := filepath.Join(t.TempDir(), "moved.oci.tar")
	a.write(t, dst)
	res, err := scan.Run(context.Background(), dst, scan.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	r := res.Integrity()
	if !r.OK {
		t.Fatalf("integrity fails on an unreferenced blob: %v", r.Problems)
	}
	for _, p := range r.Unreferenced {
		if strings.HasSuffix(name, strings.TrimPrefix(p.Blob, "sha256:")) {
			if p.Kind != integrity.Unreferenced || !strings.Contains(p.Detail, "mismatch") {
				t.Errorf("record does not say the blob does not match its name: %+v", p)
			}
			return
		}
	}
	t.Errorf("%s not listed as unreferenced: %v", name, r.Unreferenced)
}
