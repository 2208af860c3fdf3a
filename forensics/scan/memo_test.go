package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/rules"
)

func testEngine(t *testing.T) *detect.Engine {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

const planted = "../../fixtures/testdata/xz-planted.oci.tar"

func TestMemoSharesLayersAcrossInputs(t *testing.T) {
	eng := testEngine(t)
	memo := NewMemo("")
	first, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.oci", Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if memo.Hits != 0 {
		t.Fatalf("hits after the first input: %d", memo.Hits)
	}
	// Another input with the same layers (a second image on the same base).
	second, err := Run(context.Background(), copyDir(t, "../../fixtures/testdata/xz-planted.oci"), Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if memo.Hits != len(second.Images[0].Layers) {
		t.Fatalf("hits = %d, want every layer (%d) reused", memo.Hits, len(second.Images[0].Layers))
	}
	if len(first.Findings) == 0 || len(first.Findings) != len(second.Findings) {
		t.Fatalf("findings differ with a memo: %d vs %d", len(first.Findings), len(second.Findings))
	}
}

func TestCacheSurvivesRuns(t *testing.T) {
	eng := testEngine(t)
	dir := t.TempDir()
	cold, err := Run(context.Background(), planted, Options{Engine: eng, Memo: NewMemo(dir)})
	if err != nil {
		t.Fatal(err)
	}
	cold.Close()
	warmMemo := NewMemo(dir)
	warm, err := Run(context.Background(), planted, Options{Engine: eng, Memo: warmMemo})
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	if warmMemo.Hits == 0 {
		t.Fatal("a new run did not reuse the cache folder")
	}
	if len(warm.Findings) != len(cold.Findings) || warm.Integrity().OK != cold.Integrity().OK {
		t.Fatalf("cached scan differs: %d findings vs %d", len(warm.Findings), len(cold.Findings))
	}
	// A cache from other rules is not reused.
	other := NewMemo(dir)
	res, err := Run(context.Background(), planted, Options{Memo: other})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	if other.Hits != 0 {
		t.Fatal("a cache entry made with detectors was reused without them")
	}
}

// A tampered blob is never taken from the memo: its digest is checked in
// every input, and it is then read in full.
func TestMemoStillVerifies(t *testing.T) {
	eng := testEngine(t)
	memo := NewMemo("")
	good, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.oci", Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	// Copy the layout and flip a byte in layer 1's blob.
	dir := copyDir(t, "../../fixtures/testdata/xz-planted.oci")
	l := good.Images[0].Image.Layers[1]
	p := filepath.Join(dir, filepath.FromSlash(l.Blob))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := Run(context.Background(), dir, Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	found := false
	for _, pr := range bad.Problems {
		if pr.Kind == integrity.DigestMismatch && pr.Blob == l.Digest.String() {
			found = true
		}
	}
	if !found {
		t.Fatalf("tampered memoised layer not reported: %v", bad.Problems)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
