package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// listBlobs lists every blob's data file as member blobs/<alg>/<hex>. A
// folder whose name is no digest, or that is not below the prefix its
// digest gives, is named and not read: the registry would never find it.
func (s *Store) listBlobs(ctx context.Context) error {
	dir := s.p("blobs")
	algs, err := s.readDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, a := range algs {
		alg := digest.Algorithm(a.Name())
		adir := path.Join(dir, a.Name())
		if !a.IsDir() || !alg.Available() {
			s.problem(adir, integrity.Inconsistent, "blobs: %q is no digest algorithm's folder; not read", a.Name())
			continue
		}
		prefixes, err := s.readDir(adir)
		if err != nil {
			s.problem(adir, integrity.Unreadable, "blobs: %v", err)
			continue
		}
		for _, pre := range prefixes {
			if err := ctx.Err(); err != nil {
				return err
			}
			pdir := path.Join(adir, pre.Name())
			if !pre.IsDir() {
				s.problem(pdir, integrity.Inconsistent, "blobs: not a folder of blobs; not read")
				continue
			}
			hexes, err := s.readDir(pdir)
			if err != nil {
				s.problem(pdir, integrity.Unreadable, "blobs: %v", err)
				continue
			}
			for _, h := range hexes {
				s.blob(alg, pre.Name(), h)
			}
		}
	}
	sort.Slice(s.members, func(i, j int) bool { return s.members[i].Name < s.members[j].Name })
	return nil
}

// blob adds the blob of folder h below blobs/<alg>/<prefix>.
func (s *Store) blob(alg digest.Algorithm, prefix string, h fs.DirEntry) {
	dir := s.p("blobs", string(alg), prefix, h.Name())
	d := digest.NewDigestFromEncoded(alg, h.Name())
	switch {
	case blob.Validate(d) != nil:
		s.problem(dir, integrity.Inconsistent, "blobs: %q is no %s digest; not read", h.Name(), alg)
		return
	case !strings.HasPrefix(h.Name(), prefix):
		s.problem(dir, integrity.Inconsistent, "blobs: %s is filed below %s/, not %s/, where the registry looks for it; not read", d, prefix, h.Name()[:2])
		return
	case !h.IsDir():
		s.problem(dir, integrity.Inconsistent, "blobs: %s is not a blob's folder; not read", d)
		return
	}
	data := path.Join(dir, "data")
	fi, err := s.files.Lstat(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The registry makes the folder, then moves the data in: a
		// write cut short between the two, or data removed since.
		s.problem(d.String(), integrity.Inconsistent, "blobs: %s has no data file", dir)
	case err != nil:
		s.problem(d.String(), integrity.Unreadable, "blobs: %s: %v", data, err)
	case !fi.Mode().IsRegular():
		s.problem(d.String(), integrity.Inconsistent, "blobs: %s is a %v, not a regular file; not read", data, fi.Mode().Type())
	default:
		name := blob.Path(d)
		s.blobs[name] = fi.Size()
		s.members = append(s.members, archive.Member{Name: name, Size: fi.Size()})
	}
}

// has reports whether the storage holds blob d.
func (s *Store) has(d digest.Digest) bool {
	_, ok := s.blobs[blob.Path(d)]
	return ok
}
