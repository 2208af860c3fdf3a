package app_test

import (
	"context"
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
)

// i lists the input's integrity problems in full, those of the input as a
// whole (which belong to no layer row) as well as a layer's.
func TestIntegrityDetails(t *testing.T) {
	img := fake.XZ()
	problems := []integrity.Problem{
		{Blob: "blobs/sha256/0", Kind: integrity.DiffIDMismatch, Detail: "layer 0 of example/xz:5.6.1: uncompressed content hashes to sha256:aaaa"},
		{Blob: "blobs/sha256/ffff", Kind: integrity.MissingBlob, Detail: "no index, manifest or config refers to it"},
	}
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		return &app.Session{Input: "xz.tar", Problems: problems, Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers,
			LayerProblems: [][]integrity.Problem{problems[:1], nil, nil},
		}}}, nil
	}
	s := startWith(t, 110, 40, load)
	s.waitFor("integrity FAILED (2)  i: details")
	s.keys("i")
	s.waitFor(" Integrity")
	s.waitFor("FAILED: 2 problem(s)")
	s.waitFor("missing-blob")
	s.waitFor("no index, manifest or config refers to it")
	s.waitFor("diffid-mismatch")
	// The layer row shows its own problem's kind.
	s.waitFor("  0 3ef3bd6c80bd    36K diffid-mismatch")
	s.final()
}

// TestAbsentByDesignDetails: a partial multi-platform save verifies; the
// title says how many platforms it carries and what else the report counts
// (an unreferenced blob), and i lists what is absent by
// design, with the reason in words, as information.
func TestAbsentByDesignDetails(t *testing.T) {
	img := fake.XZ()
	problems := []integrity.Problem{
		{Blob: "sha256:aaaa", Kind: integrity.Absent, Reason: integrity.PlatformNotCarried, Platform: "linux/arm64", Detail: "manifest of index sha256:1111 is not in the archive"},
		{Blob: "sha256:bbbb", Kind: integrity.Unreferenced, Content: "legacy-v1-json", Detail: "blobs/sha256/bbbb (300 bytes, legacy-v1-json) is not reached"},
	}
	cov := report.Coverage{Carried: []string{"linux/amd64"}, NotCarried: []string{"linux/arm64"}, Attachments: map[string]int{"attestation": 1}, Absent: 1, Unreferenced: 1}
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		return &app.Session{Input: "partial.tar", Problems: problems, Coverage: cov, Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers,
		}}}, nil
	}
	s := startWith(t, 140, 40, load)
	s.waitFor("integrity ok, 1 of 2 platforms carried, 1 attachment, 1 unreferenced blob  i: details")
	s.keys("i")
	s.waitFor("verified; absent by design")
	s.waitFor("carries linux/amd64 of 2 platforms")
	s.waitFor("absent: platform not pulled")
	s.waitFor("unreferenced: legacy-v1-json")
	s.final()
}
