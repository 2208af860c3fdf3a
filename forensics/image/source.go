package image

import (
	"context"
	"errors"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// A Source holds the files of an input by member name: an OCI image layout
// or a docker save, whether in a tar, a folder (both *archive.Archive) or
// any other store of blobs. Names are slash-separated, relative and clean
// ("blobs/sha256/<hex>", "manifest.json"). Members at the same non-zero
// Offset are one blob under two names (a linked folder of docker save).
type Source interface {
	// Members lists every member, in input order.
	Members() []archive.Member
	// Stat returns a member by name.
	Stat(name string) (archive.Member, bool)
	// Open returns a reader of a member's bytes.
	Open(name string) (io.ReadCloser, error)
}

// A visitor is a Source that reads many members best in one pass, as
// archive.Archive.Visit does for an input compressed as a whole; the
// members of any other Source are opened one at a time.
type visitor interface {
	Visit(ctx context.Context, names []string, parallel int, fn func(name string, r io.Reader) error) error
}

// hasLayout reports whether src carries an OCI image layout, which is then
// the truth for what images there are.
func hasLayout(src Source) bool {
	_, layout := src.Stat("oci-layout")
	_, index := src.Stat("index.json")
	return layout && index
}

// visit calls fn once for each named member with a reader of its bytes, in
// one pass when src can make one. A member src cannot open is passed to
// fn as a reader of that error. fn's errors are joined and returned.
func visit(ctx context.Context, src Source, names []string, fn func(name string, r io.Reader) error) error {
	if v, ok := src.(visitor); ok {
		return v.Visit(ctx, names, 1, fn)
	}
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if err := visitOne(src, name, fn); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func visitOne(src Source, name string, fn func(name string, r io.Reader) error) error {
	rc, err := src.Open(name)
	if err != nil {
		return fn(name, iox.ErrReader{Err: err})
	}
	defer rc.Close()
	return fn(name, rc)
}

// An archive is the Source of an input on disk, and reads in one pass.
var (
	_ Source  = (*archive.Archive)(nil)
	_ visitor = (*archive.Archive)(nil)
)
