package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/scan"
)

// The explorer's layer rows carry the image's own layer problems (a
// diff_id the config disagrees with), not only the blob's: a tampered
// legacy layer read whole must not show as "ok".
func TestSessionMarksLayers(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixturesDir, "xz-planted.docker.tar"))
	if err != nil {
		t.Fatal(err)
	}
	b[40752] ^= 1 // inside a file of layer 0's tar
	p := filepath.Join(t.TempDir(), "tampered.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), p, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	s := session(res)
	lp := s.Images[0].LayerProblems
	if len(lp) != 4 || len(lp[0]) != 1 || lp[0][0].Kind != integrity.DiffIDMismatch {
		t.Fatalf("layer problems %v, want layer 0's diff_id mismatch", lp)
	}
	for i, ps := range lp[1:] {
		if len(ps) != 0 {
			t.Errorf("layer %d: problems %v", i+1, ps)
		}
	}
}
