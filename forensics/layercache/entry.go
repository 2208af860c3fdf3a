package layercache

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// An entry file is, byte for byte:
//
//	strata layer cache entry\n                  the magic line
//	{"format":4,"kind":"layer",…}\n             the header: one line of JSON
//	<body_size bytes>                           the body
//	mac hmac-sha256 <64 hex digits>\n           the trailer
//
// The MAC is HMAC-SHA256, under the cache's key, of every byte before the
// trailer: magic, header and body exactly as stored, so there is no
// re-encoding to agree on. A layer entry's body is its results
// (MarshalResults); a diff_id entry's body is the digest of the blob
// walked for that diff_id; a verification record's is JSON naming the
// blob file's identity when it was verified, and who verified it. Nothing
// of a file is believed before its MAC is checked except what it takes to
// find the MAC: the header's size of the body and the key id it names,
// which only choose the words of a rejection.
const magic = "strata layer cache entry\n"

const macPrefix = "mac hmac-sha256 "

// trailerLen is the fixed length of the trailer line.
const trailerLen = len(macPrefix) + 2*sha256.Size + 1

// maxHeaderLen bounds the header line.
const maxHeaderLen = 4096

// MaxEntryBytes bounds an entry's body: far more than the results of a
// layer of ordinary paths at the walk's default limits (500,000 entries of
// some 100 bytes each).
const MaxEntryBytes = 1 << 30

// Entry kinds.
const (
	KindLayer  = "layer"   // a layer blob's results, named by the blob's digest
	KindDiffID = "diff_id" // the blob digest walked for a diff_id
)

// Header is what an entry says of itself, authenticated with its body.
type Header struct {
	Format      int           `json:"format"`
	Kind        string        `json:"kind"`
	Digest      digest.Digest `json:"digest"` // the blob digest (layer) or diff_id the entry is for
	Fingerprint string        `json:"fingerprint"`
	ToolVersion string        `json:"tool_version"`
	Created     time.Time     `json:"created"`
	KeyID       string        `json:"key_id"`
	BodySize    int64         `json:"body_size"`
}

// Reason says why an entry was rejected.
type Reason string

// Why entries are rejected.
const (
	// Unauthenticated: no MAC, a MAC that does not match (the entry was
	// edited or damaged since it was written), or no entry at all.
	Unauthenticated Reason = "unauthenticated"
	// Truncated: the file ends before the end its header gives.
	Truncated Reason = "truncated"
	// OtherKey: written under another key.
	OtherKey Reason = "other-key"
	// OtherFormat: authenticated, but of another entry format.
	OtherFormat Reason = "other-format"
	// OtherRuleset: authenticated, but made with other rules.
	OtherRuleset Reason = "other-ruleset"
	// OtherToolVersion: authenticated, but made by another version of
	// strata.
	OtherToolVersion Reason = "other-tool-version"
	// Wrong: authenticated, but not the entry its name says (another
	// layer's, moved or swapped), or with results that cannot be read.
	Wrong Reason = "wrong"
)

// decodeError is a rejection found while decoding.
type decodeError struct {
	reason Reason
	detail string
}

func (e *decodeError) Error() string { return string(e.reason) + ": " + e.detail }

// ReasonOf is the reason of a Decode error, "" for another error.
func ReasonOf(err error) Reason {
	if de, ok := err.(*decodeError); ok {
		return de.reason
	}
	return ""
}

func reject(r Reason, format string, args ...any) error {
	return &decodeError{reason: r, detail: fmt.Sprintf(format, args...)}
}

// Encode writes an entry: h (its KeyID and BodySize set here) and body,
// authenticated under k.
func Encode(w io.Writer, k *Key, h Header, body []byte) error {
	h.KeyID = k.ID()
	h.BodySize = int64(len(body))
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, k.secret)
	mw := io.MultiWriter(w, mac)
	for _, b := range [][]byte{[]byte(magic), hb, {'\n'}, body} {
		if _, err := mw.Write(b); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, macPrefix+hex.EncodeToString(mac.Sum(nil))+"\n")
	return err
}

// Decode reads the entry in b and checks its MAC under k; it returns the
// header and the body only when the entry authenticates. An error says
// why not: a Reason and words (ReasonOf).
func Decode(b []byte, k *Key) (Header, []byte, error) {
	var h Header
	if !bytes.HasPrefix(b, []byte(magic)) {
		switch {
		case len(b) < len(magic) && bytes.HasPrefix([]byte(magic), b):
			return h, nil, reject(Truncated, "%d bytes, ends inside its first line", len(b))
		case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
			return h, nil, reject(Unauthenticated, "an entry of an older format (gzip JSON, format 3 or before), with no MAC")
		}
		return h, nil, reject(Unauthenticated, "not a strata cache entry: no header, no MAC")
	}
	rest := b[len(magic):]
	end := bytes.IndexByte(rest[:min(len(rest), maxHeaderLen)], '\n')
	if end < 0 {
		if len(rest) < maxHeaderLen {
			return h, nil, reject(Truncated, "%d bytes, ends inside its header", len(b))
		}
		return h, nil, reject(Unauthenticated, "a header longer than %d bytes", maxHeaderLen)
	}
	// Fields a later format adds are let through: once the MAC is
	// checked, the format says what the entry is.
	dec := json.NewDecoder(bytes.NewReader(rest[:end]))
	if err := dec.Decode(&h); err != nil || dec.More() {
		return Header{}, nil, reject(Unauthenticated, "an unreadable header")
	}
	if h.BodySize < 0 || h.BodySize > MaxEntryBytes {
		return Header{}, nil, reject(Unauthenticated, "a header giving a body of %d bytes", h.BodySize)
	}
	signed := int64(len(magic)) + int64(end) + 1 + h.BodySize
	switch total := signed + int64(trailerLen); {
	case int64(len(b)) < total:
		return Header{}, nil, reject(Truncated, "%d bytes of the %d its header gives", len(b), total)
	case int64(len(b)) > total:
		return Header{}, nil, reject(Unauthenticated, "%d bytes past the end its header gives", int64(len(b))-total)
	}
	trailer := b[signed:]
	sum, err := hex.DecodeString(string(trailer[len(macPrefix) : len(trailer)-1]))
	if !bytes.HasPrefix(trailer, []byte(macPrefix)) || trailer[len(trailer)-1] != '\n' || err != nil || len(sum) != sha256.Size {
		return Header{}, nil, reject(Unauthenticated, "no MAC at its end")
	}
	if h.KeyID != k.ID() {
		return Header{}, nil, reject(OtherKey, "written under key id %q, not this key (%s)", h.KeyID, k.ID())
	}
	mac := hmac.New(sha256.New, k.secret)
	mac.Write(b[:signed])
	if !hmac.Equal(mac.Sum(nil), sum) {
		return Header{}, nil, reject(Unauthenticated, "its MAC does not match under key %s: edited or damaged since it was written", k.ID())
	}
	return h, b[signed-h.BodySize : signed], nil
}

// Rejection is an entry strata did not take, and why: its results were
// computed again.
type Rejection struct {
	Kind   string        // KindLayer, KindDiffID or KindVerified
	Digest digest.Digest // the blob digest, or the diff_id, looked up
	Entry  string        // the entry's file, relative to the cache folder
	Reason Reason
	Detail string
}

// String is the rejection in one line.
func (r Rejection) String() string {
	what := "layer " + r.Digest.String()
	switch r.Kind {
	case KindDiffID:
		what = "diff_id " + r.Digest.String()
	case KindVerified:
		what = "verification of layer " + r.Digest.String()
	}
	return fmt.Sprintf("%s (%s): %s: %s", what, r.Entry, r.Reason, r.Detail)
}
