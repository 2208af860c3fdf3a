package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// A layer whose content the config's diff_id disagrees with is marked in
// its image's view of the layer, not only in the input's problem list: the
// explorer shows the layer row as failed.
func TestDiffIDMismatchMarksTheLayer(t *testing.T) {
	p := copyFile(t, filepath.Join("..", "..", "fixtures", "testdata", "xz-planted.docker.tar"))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[40752] ^= 1 // inside a file of layer 0's tar
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	ir := res.Images[0]
	if len(ir.LayerProblems) != len(ir.Layers) {
		t.Fatalf("%d layer problem lists for %d layers", len(ir.LayerProblems), len(ir.Layers))
	}
	for i, ps := range ir.LayerProblems {
		want := 0
		if i == 0 {
			want = 1
		}
		if len(ps) != want || (want == 1 && ps[0].Kind != integrity.DiffIDMismatch) {
			t.Errorf("layer %d: problems %v, want %d diff_id mismatch", i, ps, want)
		}
	}
	if got := ir.LayerIntegrity(0); len(got) != 1 || got[0].Kind != integrity.DiffIDMismatch {
		t.Errorf("LayerIntegrity(0) = %v", got)
	}
	if len(ir.Layers[0].Problems) != 0 {
		t.Errorf("the blob itself read whole, yet has problems %v", ir.Layers[0].Problems)
	}
	if res.Integrity().OK {
		t.Error("verdict OK over a diff_id mismatch")
	}
}
