package report

import (
	"testing"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// Words and Brief name the same things: every informational record
// class an input has shows in both, so the explorer's title says what
// the text report says.
func TestCoverageWordsAndBrief(t *testing.T) {
	images := []Image{{Platform: "linux/amd64", Attachments: []Attachment{{Kind: "signature", Carried: true}}}}
	r := integrity.Verdict([]integrity.Problem{
		{Blob: "sha256:a", Kind: integrity.Absent, Reason: integrity.PlatformNotCarried, Platform: "linux/arm64"},
		{Blob: "sha256:b", Kind: integrity.Absent, Reason: integrity.AttestationNotCarried},
		{Blob: "sha256:c", Kind: integrity.Absent, Reason: integrity.NonDistributable},
		{Blob: "sha256:d", Kind: integrity.Unreferenced, Content: "layer"},
		{Blob: "sha256:e", Kind: integrity.Defect, Reason: integrity.CompressionMislabelled},
	})
	c := newCoverage(images, r)
	for _, tc := range []struct{ got, want string }{
		{c.Words(), "carries linux/amd64 of 2 platforms; absent by design: linux/arm64 (not pulled); 1 attestation not pulled; 1 other blob absent by design; 1 signature; 1 unreferenced blob; 1 producer defect read around"},
		{c.Brief(), "1 of 2 platforms carried, 1 attachment, 1 attestation not pulled, 1 other blob absent by design, 1 unreferenced blob, 1 producer defect"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
	if b := newCoverage(images[:0], integrity.Verdict(nil)).Brief(); b != "" {
		t.Errorf("nothing to say, yet %q", b)
	}
}
