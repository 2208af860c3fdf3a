package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// A Store is an input whose members a package of its own serves rather
// than a tar or a folder of blobs: an engine's storage on a mounted disk,
// whose layers exist only as files to rebuild a tar from, or a registry's
// storage. Open asks each of Options.Stores, in order, whether a folder is
// one before reading it as an image layout or a root filesystem.
type Store interface {
	// Info describes the store for the chain of custody: its Format, and
	// as SHA256 the digest of every metadata file it read (a listing of
	// their sha256 and names, as sha256sum prints it), with their total
	// Size.
	Info() Info
	// Problems are what opening the store found: damaged or dangling
	// metadata, leftovers of interrupted work.
	Problems() []integrity.Problem
	// Members lists every member, in a stable order.
	Members() []Member
	// Open returns a reader of one member's bytes.
	Open(name string) (io.ReadCloser, error)
	// Close releases the store.
	Close() error
}

// A StoreOpener returns the Store held in the folder root, or nil and no
// error when the folder holds no store of its kind. It must never write
// below root nor follow a link out of it.
type StoreOpener func(ctx context.Context, root string) (Store, error)

// A MemberChecker is a Store that learns more about a member while it is
// read than its bytes say (a rebuilt layer whose files differ from what
// was recorded when it was pulled): Checked returns what the reads of name
// found, once they are done. verified says the bytes read matched the
// member's digest: a checker may then spare itself the work of naming
// what differs.
type MemberChecker interface {
	Checked(name string, verified bool) []integrity.Problem
}

// A DriftFiles is a Store whose members stand for folders that may hold
// bytes the member does not: an engine's layer is read as the tar it was
// pulled as, rebuilt from its record, while its folder on the host, which
// every container on the layer sees through its overlay mount, may have
// had files planted or rewritten since. Drifted lists those regular
// files, as the last Checked of member name found them, so that the
// detectors read the bytes no digest covers.
type DriftFiles interface {
	Drifted(name string) []Drifted
}

// What a Drifted file is to its layer.
const (
	DriftPlanted = "planted" // the layer did not have it when it was pulled
	DriftChanged = "changed" // its bytes differ from the layer's
)

// Drifted is one regular file of a member's folder whose bytes the
// member's digest does not cover.
type Drifted struct {
	Path string // absolute, in the layer's filesystem
	Size int64  // when the folder was walked
	What string // DriftPlanted or DriftChanged
	// Open reads the file read-only, never through a link nor out of
	// the evidence root; it fails for anything but a regular file.
	Open func() (io.ReadCloser, error)
}

// openStore asks each opener in turn for the store in folder p.
func (a *Archive) openStore(ctx context.Context, p string, openers []StoreOpener) (bool, error) {
	for _, open := range openers {
		s, err := open(ctx, p)
		if err != nil {
			return false, fmt.Errorf("%s: %w", p, err)
		}
		if s == nil {
			continue
		}
		a.store = s
		a.Info = s.Info()
		a.Info.Path = p
		a.Problems = append(a.Problems, s.Problems()...)
		for _, m := range s.Members() {
			a.add(m.Name, m.Offset, m.Size)
		}
		return true, nil
	}
	return false, nil
}

// Store returns the Store the input was opened from, or nil.
func (a *Archive) Store() Store { return a.store }

// Checked returns what reading member name found beyond its bytes (see
// MemberChecker); nil for any input but a Store that checks.
func (a *Archive) Checked(name string, verified bool) []integrity.Problem {
	if c, ok := a.store.(MemberChecker); ok {
		return c.Checked(cleanName(name), verified)
	}
	return nil
}

// Drifted returns the files of member name's folder that its bytes do not
// hold (see DriftFiles), once Checked(name, …) was asked; nil for any
// input but a Store that has them.
func (a *Archive) Drifted(name string) []Drifted {
	if d, ok := a.store.(DriftFiles); ok {
		return d.Drifted(cleanName(name))
	}
	return nil
}
