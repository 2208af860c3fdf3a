package report

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/finding"
)

// TestSARIFFingerprintDrift: a finding on bytes planted in a layer's
// folder on the host is not the finding on the same path in the layer as
// pulled, and a dashboard tracking fingerprints must see two; a finding
// with no drift keeps the fingerprint it always had.
func TestSARIFFingerprintDrift(t *testing.T) {
	in := &Input{}
	f := finding.Finding{Rule: "xz-backdoor", LayerDigest: "sha256:ab", Path: "/usr/lib/liblzma.so.5", Evidence: "sig"}
	planted := f
	planted.Drift = "planted"
	fp := func(f finding.Finding) string {
		return sarifResult(in, f, 0).PartialFingerprints["strataFinding/v1"].(string)
	}
	if fp(f) == fp(planted) {
		t.Error("a planted copy has the fingerprint of the layer's own finding")
	}
	// The fingerprint of a finding with no drift, as every earlier
	// version computed it (the input names no image: no image digest).
	h := sha256.Sum256([]byte(strings.Join([]string{f.Rule, "", f.LayerDigest, f.Path, f.Evidence}, "\x00")))
	if got, want := fp(f), hex.EncodeToString(h[:16]); got != want {
		t.Errorf("fingerprint %s, was %s", got, want)
	}
}
