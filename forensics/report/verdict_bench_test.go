package report

import (
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// registrySource is one input of n images (a registry's storage), each of
// five layers: four of one of 20 bases, then a top of its own holding
// findings findings.
func registrySource(n, findings int) Source {
	var src Source
	for i := range n {
		img := &image.Image{ManifestDigest: digest.FromString(fmt.Sprint("m", i)), ConfigDigest: digest.FromString(fmt.Sprint("c", i)),
			Names: []string{fmt.Sprintf("img%d:latest", i)}}
		var layers []SourceLayer
		for j := range 5 {
			d := digest.FromString(fmt.Sprint("l", i%20, j))
			if j == 4 {
				d = digest.FromString(fmt.Sprint("top", i))
			}
			l := &image.Layer{Index: j, Digest: d, Blob: "blobs/sha256/" + d.Encoded()}
			img.Layers = append(img.Layers, l)
			layers = append(layers, SourceLayer{Blob: l.Blob})
			if j == 4 {
				for k := range findings {
					src.Findings = append(src.Findings, finding.Finding{Rule: "r", Severity: finding.Critical, Image: img.Ref(),
						Layer: j, LayerDigest: d.String(), Path: fmt.Sprint("/f", k)})
				}
			}
		}
		src.Images = append(src.Images, SourceImage{Image: img, Layers: layers})
	}
	return src
}

// BenchmarkImageVerdicts judges every image of one input of n images (a
// registry's storage), as the text report and the fleet summary do, with
// one orphan blob's problem: linear in n, not quadratic.
func BenchmarkImageVerdicts(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src := registrySource(n, 0)
			src.Problems = []integrity.Problem{{Blob: "blobs/sha256/" + digest.FromString("orphan").Encoded(), Kind: integrity.DigestMismatch}}
			d := NewDocument(Meta{}, src)
			b.ResetTimer()
			for range b.N {
				in := d.Inputs[0] // a fresh copy: what is worked out once is worked out again
				in.idx = nil
				for j := range in.Images {
					if v := in.ImageVerdict(&in.Images[j]); v.Problems != 1 {
						b.Fatalf("image %d: %+v", j, v)
					}
				}
			}
		})
	}
}

// BenchmarkFleetTally sums up one input of n compromised images (a
// registry's storage), each with findings in its top layer, as the end of
// the text report does: linear in n, not quadratic.
func BenchmarkFleetTally(b *testing.B) {
	for _, n := range []int{200, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := NewDocument(Meta{}, registrySource(n, 4))
			b.ResetTimer()
			for range b.N {
				s := d.tally().summary()
				if s.Compromised != n || len(s.SharedLayers) != 80 || s.SharedLayers[0].Images != n/20 {
					b.Fatalf("%d compromised, %d shared layers", s.Compromised, len(s.SharedLayers))
				}
			}
		})
	}
}
