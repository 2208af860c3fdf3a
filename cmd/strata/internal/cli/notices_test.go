package cli

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/layercache"
)

// A rejected verification record is named as what it is: its blob is
// read and hashed again, not its results computed.
func TestNoticeRejectedRecord(t *testing.T) {
	var buf bytes.Buffer
	n := &notices{w: &buf}
	d := digest.FromString("layer")
	n.rejected(layercache.Rejection{Kind: layercache.KindVerified, Digest: d, Entry: layercache.VerifiedPath(d),
		Reason: layercache.OtherKey, Detail: `written under key id "fedcba9876543210", not this key (0123456789abcdef)`})
	n.rejected(layercache.Rejection{Kind: layercache.KindLayer, Digest: d, Entry: "x.entry", Reason: layercache.Unauthenticated, Detail: "its MAC does not match"})
	want := "strata: cache: rejected the record of verification of layer " + d.String() + " (verified/sha256/" + d.Encoded() + `.entry): other-key: written under key id "fedcba9876543210", not this key (0123456789abcdef); the blob is read and hashed again` + "\n" +
		"strata: cache: rejected the entry of layer " + d.String() + " (x.entry): unauthenticated: its MAC does not match; its results are computed again\n"
	if buf.String() != want {
		t.Errorf("notices:\n%s\nwant\n%s", buf.String(), want)
	}
}
