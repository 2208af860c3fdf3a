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
