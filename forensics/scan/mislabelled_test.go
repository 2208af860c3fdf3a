package scan

import (
	"context"
	"testing"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

func TestMislabelled(t *testing.T) {
	for _, tc := range []struct {
		mediaType string
		got       compress.Format
		note      bool
	}{
		{"application/vnd.oci.image.layer.v1.tar+gzip", compress.Gzip, false},
		{"application/vnd.oci.image.layer.v1.tar+gzip", compress.None, true}, // podman save --uncompressed
		{"application/vnd.oci.image.layer.v1.tar+zstd", compress.Zstd, false},
		{"application/vnd.oci.image.layer.v1.tar", compress.Gzip, true}, // buildah#1589
		{"application/vnd.oci.image.layer.v1.tar", compress.None, false},
		{"application/vnd.docker.image.rootfs.diff.tar.gzip", compress.Zstd, true},
		{"application/vnd.docker.image.rootfs.diff.tar", compress.None, false},
		{"application/vnd.example.unknown", compress.Bzip2, false}, // declares nothing known
	} {
		_, note := mislabelled(&image.Layer{MediaType: tc.mediaType}, "", tc.got)
		if note != tc.note {
			t.Errorf("%s holding %q: note %v, want %v", tc.mediaType, tc.got, note, tc.note)
		}
	}
}

// podman save --uncompressed writes plain tars labelled +gzip: each layer
// gets a note, and the archive verifies.
func TestMislabelledPodmanLayers(t *testing.T) {
	res, err := Run(context.Background(), "../../fixtures/testdata/real/xz-planted.podman-uncompressed.oci.tar", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	r := res.Integrity()
	notes := 0
	for _, p := range r.Notes {
		if p.Reason == integrity.CompressionMislabelled {
			notes++
		}
	}
	if !r.OK || notes != len(res.Images[0].Layers) {
		t.Errorf("integrity ok %v, %d mislabelled notes for %d layers: %v", r.OK, notes, len(res.Images[0].Layers), r.Records())
	}
}
