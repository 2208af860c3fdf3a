package scan

import (
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
)

// TestVerified: a store is told a layer verified only when every digest
// the image records for it matched (an engine then spares itself reading
// the layer's files again to name the one that changed); anything short
// of that asks it to look.
func TestVerified(t *testing.T) {
	blob := digest.FromString("blob")
	diff := digest.FromString("diff")
	other := digest.FromString("other")
	sum := &layer.Summary{DiffID: diff}
	tests := []struct {
		name string
		lr   LayerResult
		ref  blobRef
		want bool
	}{
		{"both match", LayerResult{Digest: blob, Summary: sum}, blobRef{digest: blob, diffID: diff}, true},
		{"no digest recorded", LayerResult{Summary: sum}, blobRef{diffID: diff}, true},
		{"not read", LayerResult{Digest: blob}, blobRef{digest: blob, diffID: diff}, false},
		{"diff_id differs", LayerResult{Digest: blob, Summary: &layer.Summary{DiffID: other}}, blobRef{digest: blob, diffID: diff}, false},
		{"digest differs", LayerResult{Digest: other, Summary: sum}, blobRef{digest: blob, diffID: diff}, false},
		{"cut short", LayerResult{Digest: blob, Summary: sum, Problems: []integrity.Problem{{Kind: integrity.Truncated}}}, blobRef{digest: blob, diffID: diff}, false},
		{"a note only", LayerResult{Digest: blob, Summary: sum, Problems: []integrity.Problem{{Kind: integrity.Degraded}}}, blobRef{digest: blob, diffID: diff}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := verified(&tc.lr, tc.ref); got != tc.want {
				t.Errorf("verified = %v, want %v", got, tc.want)
			}
		})
	}
}
