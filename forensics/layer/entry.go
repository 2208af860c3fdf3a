// Package layer reads one layer blob: it sniffs the compression from magic
// bytes, walks the tar once, cleans every path as container runtimes do and
// records each entry's metadata and content digest. It never keeps file
// contents; consumers see each regular file's bytes once, as they stream past.
package layer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"time"
)

// Type is an entry's file type as the tar header gives it. It is a byte, not
// a string: a layer may hold millions of entries. It reads and writes as its
// name in JSON.
type Type uint8

const (
	_        Type = iota
	File          // "file"
	Dir           // "dir"
	Symlink       // "symlink"
	Hardlink      // "hardlink"
	Char          // "char"
	Block         // "block"
	FIFO          // "fifo"
	Whiteout      // "whiteout": .wh.NAME deletes NAME from lower layers
	Opaque        // "opaque": .wh..wh..opq hides every lower entry of its folder
)

var typeNames = [...]string{"", "file", "dir", "symlink", "hardlink", "char", "block", "fifo", "whiteout", "opaque"}

// String is the type's name ("file", "dir", …), "" for the zero Type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// MarshalText writes the type's name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a type's name.
func (t *Type) UnmarshalText(b []byte) error {
	for i, n := range typeNames {
		if n == string(b) {
			*t = Type(i)
			return nil
		}
	}
	return fmt.Errorf("unknown entry type %q", b)
}

// EmptySHA256 is the digest of no bytes. Empty files are common (a million
// of them is a classic hostile layer); they all share this one string.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

var emptySum = sha256.Sum256(nil)

// hexDigest spells a sha256 in hex, sharing the string for empty content.
func hexDigest(sum []byte) string {
	if bytes.Equal(sum, emptySum[:]) {
		return EmptySHA256
	}
	return hex.EncodeToString(sum)
}

// Entry is one tar entry of a layer after path cleaning. Path is absolute
// ("/usr/lib/x"); for Whiteout it is the path deleted, for Opaque the folder
// made opaque.
type Entry struct {
	Path   string            `json:"path"`
	Link   string            `json:"link,omitempty"`   // symlink target as written; hardlink target cleaned to an absolute path
	SHA256 string            `json:"sha256,omitempty"` // hex digest of a regular file's content (a hardlink's target's)
	Xattrs map[string]string `json:"xattrs,omitempty"`
	Size   int64             `json:"size"`
	// Offset is where the entry's content starts in the uncompressed layer
	// tar, so a viewer can find it again without a second index.
	Offset int64 `json:"offset"`
	// MTime and MTimeNsec are the modification time as the header gives it
	// (see ModTime): twelve bytes where a time.Time takes twenty-four, in a
	// struct a layer may hold millions of.
	MTime     int64       `json:"mtime"`
	UID       int         `json:"uid"`
	GID       int         `json:"gid"`
	Mode      fs.FileMode `json:"mode"` // permission bits plus setuid, setgid, sticky
	MTimeNsec int32       `json:"mtime_nsec,omitempty"`
	Type      Type        `json:"type"`
	// Name is the raw name as the tar header spelled it, kept as evidence
	// when it is not an ordinary spelling of Path ("a", "./a", "/a", "a/").
	Name string `json:"name,omitempty"`
}

// ModTime is the entry's modification time, in UTC.
func (e *Entry) ModTime() time.Time { return time.Unix(e.MTime, int64(e.MTimeNsec)).UTC() }

// IsRegular reports whether the entry carries content of its own.
func (e *Entry) IsRegular() bool { return e.Type == File }

// Anomaly is something odd about an entry that a forensic reader should know
// about (a name climbing out of the root, a device node, a duplicate). It is
// recorded, never fatal.
type Anomaly struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	Offset int64  `json:"offset"`
}

// Anomaly kinds.
const (
	AnomalyTraversal    = "path-traversal"   // a name with ".." that would climb above the root
	AnomalyAbsolute     = "absolute-path"    // a name starting with "/"
	AnomalyDuplicate    = "duplicate-entry"  // the same path twice in one layer; the last wins
	AnomalyDevice       = "device-node"      // a char or block device
	AnomalyLinkOutside  = "link-outside"     // a hardlink to a path not seen in the layer stack
	AnomalyBadName      = "bad-name"         // empty, non-UTF-8 or over-long name
	AnomalyWhiteoutMeta = "whiteout-content" // a whiteout entry with content or an odd type
)
