package scan_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
)

// damagedBlob names, for each damaged twin of a producer fixture, the blob
// (a digest prefix or a member name) the verdict must name; fixtures/
// producers/*/README.md says how each was damaged. The -nolayer and
// -swapped twins (and estargz's -flipped) other than c8d-* are written by
// fixtures/producers/twins, whose -list prints these entries.
var damagedBlob = map[string]string{
	"c8d-partial-flipped.oci.tar":                "e897776c04ea",
	"c8d-partial-nolayer.oci.tar":                "0cb0dd40cb44",
	"c8d-partial-swapped.oci.tar":                "58d46b7c4068",
	"estargz-flipped.oci.tar":                    "cc51fac22c57",
	"estargz-nolayer.oci.tar":                    "cc51fac22c57",
	"estargz-swapped.oci.tar":                    "a877ae3899c9",
	"plain-stargz-name-flipped.oci.tar":          "90bf61735672",
	"plain-stargz-name-nolayer.oci.tar":          "90bf61735672",
	"plain-stargz-name-swapped.oci.tar":          "97a3c09ac477",
	"q-attached-flipped.oci":                     "60e904c5a901",
	"q-attached-nolayer.oci":                     "e897776c04ea",
	"q-attached-swapped.oci":                     "58d46b7c4068",
	"q-containerd17-nomediatype-flipped.oci.tar": "60e904c5a901",
	"q-containerd17-nomediatype-nolayer.oci.tar": "e897776c04ea",
	"q-containerd17-nomediatype-swapped.oci.tar": "6d0475dd1cb6",
	"q-docker25-v1json-flipped.docker.tar":       "c71bdb26ecb0",
	"q-docker25-v1json-nolayer.docker.tar":       "46c2660c991d",
	"q-docker25-v1json-swapped.docker.tar":       "d70458c5f6aa",
	"q-docker2500-dupdiff-flipped.docker.tar":    "c71bdb26ecb0",
	"q-docker2500-dupdiff-nolayer.docker.tar":    "c71bdb26ecb0",
	"q-docker2500-dupdiff-swapped.docker.tar":    "20eec4e2f15e",
	"q-docker2500-shuffled-flipped.docker.tar":   "c71bdb26ecb0",
	"q-docker2500-shuffled-nolayer.docker.tar":   "c71bdb26ecb0",
	"q-docker2500-shuffled-swapped.docker.tar":   "fd480c5e3c2f",
	"q-docker2502-byid-flipped.docker.tar":       "c71bdb26ecb0",
	"q-docker2502-byid-nolayer.docker.tar":       "46c2660c991d",
	"q-docker2502-byid-swapped.docker.tar":       "057c9132ffec",
	"q-empty-twice-flipped.oci":                  "60e904c5a901",
	"q-empty-twice-nolayer.oci":                  "4f4fb700ef54",
	"q-empty-twice-swapped.oci":                  "4d98db24191b",
	"q-ggcr-pre2382-zstd-flipped.docker.tar":     "c7ffe394cb7f",
	"q-ggcr-pre2382-zstd-nolayer.docker.tar":     "e897776c04ea",
	"q-ggcr-pre2382-zstd-swapped.docker.tar":     "2d5c8fc68ffa",
	"q-ggcr-zstd-flipped.docker.tar":             "c7ffe394cb7f",
	"q-ggcr-zstd-nolayer.docker.tar":             "e897776c04ea",
	"q-ggcr-zstd-swapped.docker.tar":             "2d5c8fc68ffa",
	"q-helm-mixed-flipped.oci":                   "60e904c5a901",
	"q-helm-mixed-nolayer.oci":                   "e897776c04ea",
	"q-helm-mixed-swapped.oci":                   "58d46b7c4068",
	"q-jib-docker-flipped.docker.tar":            "60e904c5a901",
	"q-jib-docker-nolayer.docker.tar":            "c8e1c74261b2",
	"q-jib-docker-swapped.docker.tar":            "config.json",
	"q-jib-oci-flipped.oci.tar":                  "60e904c5a901",
	"q-jib-oci-nolayer.oci.tar":                  "c8e1c74261b2",
	"q-jib-oci-swapped.oci.tar":                  "780b41fcb1f1",
	"q-nix-stream-flipped.docker.tar.gz":         "c294a628891a",
	"q-nix-stream-nolayer.docker.tar.gz":         "c333042909d2",
	"q-nix-stream-swapped.docker.tar.gz":         "86704b747e29",
	"q-oras-flat-flipped.oci":                    "60e904c5a901",
	"q-oras-flat-nolayer.oci":                    "e897776c04ea",
	"q-oras-flat-swapped.oci":                    "58d46b7c4068",
	"q-retar-dotslash-flipped.oci.tar":           "60e904c5a901",
	"q-retar-dotslash-nolayer.oci.tar":           "e897776c04ea",
	"q-retar-dotslash-swapped.oci.tar":           "58d46b7c4068",
	"q-rules-oci-load-flipped.docker.tar":        "c7ffe394cb7f",
	"q-rules-oci-load-nolayer.docker.tar":        "e897776c04ea",
	"q-rules-oci-load-oci-flipped.oci.tar":       "c7ffe394cb7f",
	"q-rules-oci-load-oci-nolayer.oci.tar":       "e897776c04ea",
	"q-rules-oci-load-oci-swapped.oci.tar":       "314cb42a20d7",
	"q-rules-oci-load-swapped.docker.tar":        "057c9132ffec",
	"q-windows-foreign-flipped.oci.tar":          "dd374d0e26ec",
	"q-windows-foreign-nolayer.oci.tar":          "dd374d0e26ec",
	"q-windows-foreign-swapped.oci.tar":          "730647945e83",
}

// realDamagedBlobs reads, for each damaged twin of an archive written by
// a real tool (fixtures/testdata/real), the blob the verdict must name,
// from the damaged.tsv the twins generator writes beside them (`go run
// ./fixtures/producers/twins -in fixtures/testdata/real -out
// fixtures/testdata/real-twins`): real tools do not write the same bytes
// twice, so the blobs change with each regeneration.
func realDamagedBlobs(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "damaged.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 || strings.HasPrefix(line, "#") {
			continue
		}
		out[f[0]] = f[1]
	}
	if len(out) == 0 {
		t.Fatalf("%s/damaged.tsv names no twin", dir)
	}
	return out
}

// TestProducerFixtures holds every archive written by a real producer, or
// shaped after one, to the integrity verdict a responder must be able to
// trust: genuine archives verify (what their producer leaves out by design
// is information), and every damaged twin fails naming the damaged blob.
// The real-tool archives' twins are held to the same; the genuine ones
// they come from are in fixtures/testdata/real, which holds no twin.
func TestProducerFixtures(t *testing.T) {
	testdata := filepath.Join("..", "..", "fixtures", "testdata")
	for _, c := range []struct {
		dir           string
		blobs         map[string]string
		minGenuine    int
		genuineBanned bool
	}{
		{"producers", damagedBlob, 20, false},
		{"real", nil, 15, false},
		{"real-twins", nil, 0, true},
	} {
		t.Run(c.dir, func(t *testing.T) {
			if c.dir == "real-twins" {
				c.blobs = realDamagedBlobs(t, filepath.Join(testdata, c.dir))
			}
			genuine, twins := producerFixtures(t, filepath.Join(testdata, c.dir), c.blobs)
			if genuine < c.minGenuine || twins != len(c.blobs) || c.genuineBanned && genuine > 0 {
				t.Errorf("%d genuine fixtures and %d twins; expected at least %d (none: %v) and %d", genuine, twins, c.minGenuine, c.genuineBanned, len(c.blobs))
			}
		})
	}
}

// producerFixtures checks every fixture in dir: those blobs names are
// twins, the others genuine. It returns how many of each it found.
func producerFixtures(t *testing.T, dir string, blobs map[string]string) (genuine, twins int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".tsv") {
			continue
		}
		blob, damaged := blobs[name]
		if !damaged && (strings.Contains(name, "-flipped") || strings.Contains(name, "-nolayer") || strings.Contains(name, "-swapped")) {
			t.Errorf("%s: a damaged twin without an entry in the map of damaged blobs", name)
			continue
		}
		if damaged {
			twins++
		} else {
			genuine++
		}
		t.Run(name, func(t *testing.T) {
			res, err := scan.Run(context.Background(), filepath.Join(dir, name), scan.Options{Parallel: 2})
			if err != nil {
				t.Fatalf("scan.Run: %v", err)
			}
			defer res.Close()
			r := res.Integrity()
			if len(res.Images) == 0 {
				t.Errorf("no image read")
			}
			if !damaged {
				if !r.OK {
					t.Errorf("a genuine archive fails integrity: %v", r.Problems)
				}
				return
			}
			if r.OK {
				t.Fatalf("a damaged archive verifies")
			}
			if !names(r.Problems, blob) {
				t.Errorf("no problem names %s: %v", blob, r.Problems)
			}
		})
	}
	return genuine, twins
}

func names(ps []integrity.Problem, blob string) bool {
	for _, p := range ps {
		if strings.Contains(p.Blob, blob) || strings.Contains(p.Detail, blob) {
			return true
		}
	}
	return false
}

// TestNamedLayerDigestChecked: a docker tarball that names each layer file
// after its digest with an extension (<hex>.tar.gz from go-containerregistry
// and Jib, blobs/sha256/<hex>.tar.gz from rules_oci) has that claim
// checked, so a flipped byte is a digest mismatch, not only a broken layer.
func TestNamedLayerDigestChecked(t *testing.T) {
	for _, name := range []string{"q-jib-docker-flipped.docker.tar", "q-ggcr-zstd-flipped.docker.tar", "q-rules-oci-load-flipped.docker.tar"} {
		t.Run(name, func(t *testing.T) {
			res, err := scan.Run(context.Background(), filepath.Join("..", "..", "fixtures", "testdata", "producers", name), scan.Options{Parallel: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			for _, p := range res.Integrity().Problems {
				if p.Kind == integrity.DigestMismatch && strings.Contains(p.Blob, damagedBlob[name]) {
					return
				}
			}
			t.Errorf("no digest-mismatch naming %s: %v", damagedBlob[name], res.Integrity().Problems)
		})
	}
}

// TestIndexOnly: skopeo copy --multi-arch index-only writes a layout that
// holds a multi-platform index and nothing it names. That is no image to
// examine (exit 2), and not damage: no missing-blob, the absences listed.
func TestIndexOnly(t *testing.T) {
	src := filepath.Join("..", "..", "fixtures", "testdata", "multi-platform.oci")
	dst := t.TempDir()
	idx, err := os.ReadFile(filepath.Join(src, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(idx, &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	hex := strings.TrimPrefix(top.Manifests[0].Digest, "sha256:")
	inner, err := os.ReadFile(filepath.Join(src, "blobs", "sha256", hex))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dst, "blobs", "sha256"), 0o755)
	for name, b := range map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": idx, filepath.Join("blobs", "sha256", hex): inner} {
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = scan.Run(context.Background(), dst, scan.Options{Parallel: 2})
	if err == nil || !strings.Contains(err.Error(), "carries no image") || strings.Contains(err.Error(), "missing-blob") {
		t.Fatalf("err = %v, want 'carries no image' and no missing-blob", err)
	}
}
