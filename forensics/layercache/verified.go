package layercache

import (
	"encoding/json"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
)

// KindVerified names a verification record: a blob, a file of the
// evidence, read in full and found to hash to its digest, with the file's
// identity at the time (archive.FileID).
const KindVerified = "verified"

// Verification is what a verification record says: that the file of blob
// Digest, of identity File, was read in full and hashed to Digest, and by
// whom ("shard I/N" or "scan"). A scan that finds the file of that
// identity still (same inode, size, mtime and ctime, which a rewrite
// changes whatever is done to the mtime) and the layer's results in the
// cache takes the blob as verified without reading it.
type Verification struct {
	Digest digest.Digest
	File   archive.FileID
	By     string
	// Origin is the authenticated record's making (its Created is when
	// the blob was verified); nil for a record not read from disk.
	Origin *Origin
}

// verifiedBody is a verification record's body, as JSON.
type verifiedBody struct {
	File archive.FileID `json:"file"`
	By   string         `json:"by"`
}

// VerifiedPath is the file of blob d's verification record, relative to
// the cache folder. It lies outside the rules' folders: what a blob's
// bytes hash to does not depend on the rules that judge it, so one
// record serves scans under any rules.
func VerifiedPath(d digest.Digest) string {
	return filepath.Join(KindVerified, d.Algorithm().String(), d.Encoded()+".entry")
}

// PutVerified records v in the folder, authenticated as any entry and
// written all or nothing; a cache with no folder records nothing.
func (c *Cache) PutVerified(v Verification) error {
	if c == nil || c.cfg.Dir == "" || blob.Validate(v.Digest) != nil {
		return nil
	}
	b, err := json.Marshal(verifiedBody{File: v.File, By: v.By})
	if err != nil {
		return err
	}
	h := Header{Format: Format, Kind: KindVerified, Digest: v.Digest, ToolVersion: c.cfg.ToolVersion, Created: c.cfg.Now().UTC()}
	return c.write(filepath.Join(c.cfg.Dir, VerifiedPath(v.Digest)), h, b)
}

// GetVerified returns blob d's verification record from the folder. A
// record that cannot be taken (unauthenticated, another key, format or
// version of strata, or another blob's) is a miss, and rej says why, as
// for any entry.
func (c *Cache) GetVerified(d digest.Digest) (v Verification, ok bool, rej *Rejection) {
	if c == nil || c.cfg.Dir == "" || d == "" || blob.Validate(d) != nil {
		return Verification{}, false, nil
	}
	p := filepath.Join(c.cfg.Dir, VerifiedPath(d))
	h, body, rej := c.read(KindVerified, d, "", p)
	if rej != nil || h.Kind == "" {
		return Verification{}, false, rej
	}
	var vb verifiedBody
	if err := json.Unmarshal(body, &vb); err != nil {
		return Verification{}, false, c.rejected(KindVerified, d, p, Wrong, "authenticated, but its record cannot be read: "+err.Error())
	}
	return Verification{Digest: d, File: vb.File, By: vb.By,
		Origin: &Origin{KeyID: h.KeyID, Created: h.Created, ToolVersion: h.ToolVersion}}, true, nil
}
