package app_test

import (
	"context"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
)

// i lists the input's integrity problems in full, those of the input as a
// whole (which belong to no layer row) as well as a layer's.
func TestIntegrityDetails(t *testing.T) {
	img := fake.XZ()
	problems := []integrity.Problem{
		{Blob: "blobs/sha256/0", Kind: integrity.DiffIDMismatch, Detail: "layer 0 of example/xz:5.6.1: uncompressed content hashes to sha256:aaaa"},
		{Blob: "blobs/sha256/ffff", Kind: integrity.ExtraBlob, Detail: "no index, manifest or config refers to it"},
	}
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		return &app.Session{Input: "xz.tar", Problems: problems, Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content,
			LayerProblems: [][]integrity.Problem{problems[:1], nil, nil},
		}}}, nil
	}
	s := startWith(t, 110, 40, load)
	s.waitFor("integrity FAILED (2)  i: details")
	s.keys("i")
	s.waitFor(" Integrity")
	s.waitFor("FAILED: 2 problem(s)")
	s.waitFor("extra-blob")
	s.waitFor("no index, manifest or config refers to it")
	s.waitFor("diffid-mismatch")
	// The layer row shows its own problem's kind.
	s.waitFor("  0 3ef3bd6c80bd    36K diffid-mismatch")
	s.final()
}
