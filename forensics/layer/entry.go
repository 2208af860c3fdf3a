// Package layer reads one layer blob: it sniffs the compression from magic
// bytes, walks the tar once, cleans every path as container runtimes do and
// records each entry's metadata and content digest. It never keeps file
// contents; consumers see each regular file's bytes once, as they stream past.
package layer

import (
	"io/fs"
	"time"
)

// Type is an entry's file type as the tar header gives it.
type Type string

const (
	File     Type = "file"
	Dir      Type = "dir"
	Symlink  Type = "symlink"
	Hardlink Type = "hardlink"
	Char     Type = "char"
	Block    Type = "block"
	FIFO     Type = "fifo"
	Whiteout Type = "whiteout" // .wh.NAME: deletes NAME from lower layers
	Opaque   Type = "opaque"   // .wh..wh..opq: hides every lower entry of its folder
)

// Entry is one tar entry of a layer after path cleaning. Path is absolute
// ("/usr/lib/x"); for Whiteout it is the path deleted, for Opaque the folder
// made opaque.
type Entry struct {
	Path    string            `json:"path"`
	Type    Type              `json:"type"`
	Mode    fs.FileMode       `json:"mode"` // permission bits plus setuid, setgid, sticky
	UID     int               `json:"uid"`
	GID     int               `json:"gid"`
	Size    int64             `json:"size"`
	ModTime time.Time         `json:"mtime"`
	Link    string            `json:"link,omitempty"` // symlink target as written; hardlink target cleaned to an absolute path
	Xattrs  map[string]string `json:"xattrs,omitempty"`
	SHA256  string            `json:"sha256,omitempty"` // hex digest of a regular file's content (a hardlink's target's)
	// Offset is where the entry's content starts in the uncompressed layer
	// tar, so a viewer can find it again without a second index.
	Offset int64 `json:"offset"`
	// Name is the raw name as the tar header spelled it, kept as evidence
	// when it is not an ordinary spelling of Path ("a", "./a", "/a", "a/").
	Name string `json:"name,omitempty"`
}

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
