package image

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/blob"
)

// TestSkopeo has a real tool write the formats Load reads: skopeo copies a
// generated OCI layout to a docker-archive and an oci-archive, and the
// docker-archive back to an OCI layout. Local transports only: no network.
func TestSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not on PATH; install skopeo to check Load against archives a real tool writes")
	}
	if testing.Short() {
		t.Skip("skopeo round trips skipped in -short mode")
	}
	f := newFixture(t)
	src := f.image(appSpec(t, "v1"))
	f.layout(named(src, annotationRefName, "latest"))
	srcDir := f.writeDir()
	srcImgs, problems, err := load(t, srcDir, Options{})
	if err != nil || len(problems) > 0 || len(srcImgs) != 1 {
		t.Fatalf("source: %v %v", err, problems)
	}
	want := srcImgs[0]

	tmp := t.TempDir()
	copyWith := func(t *testing.T, from, to string) {
		t.Helper()
		cmd := exec.Command(skopeo, "--insecure-policy", "copy", "--quiet", from, to)
		cmd.Env = append(cmd.Environ(), "TMPDIR="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy %s %s: %v\n%s", from, to, err, out)
		}
	}
	dockerTar := filepath.Join(tmp, "docker.tar")
	ociTar := filepath.Join(tmp, "oci.tar")
	backDir := filepath.Join(tmp, "back")
	copyWith(t, "oci:"+srcDir+":latest", "docker-archive:"+dockerTar+":strata/test:latest")
	copyWith(t, "oci:"+srcDir+":latest", "oci-archive:"+ociTar+":latest")
	copyWith(t, "docker-archive:"+dockerTar, "oci:"+backDir+":back")

	tests := []struct {
		name         string
		path         string
		names        []string
		sameManifest bool // no conversion: the manifest is the source's
		sameConfig   bool // skopeo rewrites the config converting docker to OCI
	}{
		{"docker-archive", dockerTar, []string{"docker.io/strata/test:latest"}, false, true},
		{"oci-archive", ociTar, []string{"latest"}, true, true},
		{"docker-archive-to-oci", backDir, []string{"back"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			imgs, problems, err := load(t, tc.path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			if len(imgs) != 1 {
				t.Fatalf("%d images", len(imgs))
			}
			img := imgs[0]
			if !slices.Equal(img.Names, tc.names) {
				t.Errorf("names %v, want %v", img.Names, tc.names)
			}
			if tc.sameManifest && img.ManifestDigest != want.ManifestDigest {
				t.Errorf("manifest %s, want %s", img.ManifestDigest, want.ManifestDigest)
			}
			if tc.sameConfig && img.ConfigDigest != want.ConfigDigest {
				t.Errorf("config %s, want %s", img.ConfigDigest, want.ConfigDigest)
			}
			if img.ConfigDigest == "" || img.Platform != want.Platform || !slices.Equal(img.Cmd, want.Cmd) {
				t.Errorf("config %s %s %v, want %s %s %v", img.ConfigDigest, img.Platform, img.Cmd, want.ConfigDigest, want.Platform, want.Cmd)
			}
			if len(img.Layers) != len(want.Layers) {
				t.Fatalf("%d layers, want %d", len(img.Layers), len(want.Layers))
			}
			for i, l := range img.Layers {
				if l.DiffID != want.Layers[i].DiffID || l.CreatedBy != want.Layers[i].CreatedBy || l.Blob == "" || l.Absent {
					t.Errorf("layer %d: %+v, want diff_id %s", i, l, want.Layers[i].DiffID)
				}
				// skopeo's docker-archive stores each layer uncompressed
				// as <diff_id>.tar: the digest its name claims, for the
				// scan to check, is its diff_id.
				if tc.name == "docker-archive" && l.Digest != l.DiffID {
					t.Errorf("legacy layer %d (%s) claims digest %s, want its diff_id %s", i, l.Blob, l.Digest, l.DiffID)
				}
				if tc.name != "docker-archive" && blobDigest(l.Blob) != l.Digest {
					t.Errorf("layer %d: blob %s for digest %s", i, l.Blob, l.Digest)
				}
			}
		})
	}
}

func blobDigest(member string) digest.Digest { return blob.FromPath(member) }
