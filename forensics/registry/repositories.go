package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// maxRepoDepth bounds how many folders deep repository names are looked
// for: a name has at most 255 characters, so about 128 components.
const maxRepoDepth = 128

// repository is what one repository's links say.
type repository struct {
	name string
	dir  string // below ev
	tags []*tag
	// revisions are the manifests of _manifests/revisions (read with
	// AllRevisions only).
	revisions []digest.Digest
}

// tag is one tag's links.
type tag struct {
	name    string
	current digest.Digest   // "" when its current link is missing, malformed or dangling
	earlier []digest.Digest // its index but current (read with AllRevisions only)
}

// walkRepositories finds every repository below dir: a folder holding
// _manifests, _layers or _uploads, named by its path below repositories
// (as distribution's catalog finds them). Other folders starting with
// "_" are the registry's own and not searched; a repository's folder may
// hold other repositories ("library" and "library/debian").
func (s *Store) walkRepositories(ctx context.Context, dir, name string, depth int, out *[]*repository) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := s.readDir(dir)
	if err != nil {
		if name == "" && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		s.problem(dir, integrity.Unreadable, "repositories: %v", err)
		return nil
	}
	isRepo := false
	for _, e := range ents {
		switch e.Name() {
		case "_manifests", "_layers", "_uploads":
			isRepo = isRepo || e.IsDir()
		}
	}
	if isRepo && name != "" {
		if _, err := reference.WithName(name); err != nil {
			s.problem(dir, integrity.Inconsistent, "repositories: %q is no repository name (%v); not read", name, err)
			return nil
		}
		*out = append(*out, &repository{name: name, dir: dir})
	}
	if depth >= maxRepoDepth {
		s.problem(dir, integrity.Limit, "repositories: more than %d folders deep; not searched below", maxRepoDepth)
		return nil
	}
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			// The registry never writes one; following it could make a
			// repository of what is elsewhere on the disk.
			s.problem(path.Join(dir, e.Name()), integrity.Inconsistent, "repositories: a link, not followed")
			continue
		}
		if strings.HasPrefix(e.Name(), "_") || !e.IsDir() {
			continue
		}
		if err := s.walkRepositories(ctx, path.Join(dir, e.Name()), path.Join(name, e.Name()), depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

// readRepository reads a repository's tags, its revisions (with
// AllRevisions) and its interrupted uploads.
func (s *Store) readRepository(r *repository) {
	tagsDir := path.Join(r.dir, "_manifests", "tags")
	ents, err := s.readDir(tagsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.problem(tagsDir, integrity.Unreadable, "%s: tags: %v", r.name, err)
	}
	named, _ := reference.WithName(r.name)
	for _, e := range ents {
		dir := path.Join(tagsDir, e.Name())
		if !e.IsDir() {
			s.problem(dir, integrity.Inconsistent, "%s: tags: %q is not a tag's folder", r.name, e.Name())
			continue
		}
		if _, err := reference.WithTag(named, e.Name()); err != nil {
			s.problem(dir, integrity.Inconsistent, "%s: tags: %q is no tag (%v); not read", r.name, e.Name(), err)
			continue
		}
		r.tags = append(r.tags, s.readTag(r, e.Name(), dir))
	}
	if s.opts.AllRevisions {
		for _, d := range s.readLinks(path.Join(r.dir, "_manifests", "revisions"), r.name+": revision") {
			if s.has(d) {
				r.revisions = append(r.revisions, d)
			}
		}
	}
	s.uploads(r)
}

// readTag reads a tag's current link and, with AllRevisions, its index.
func (s *Store) readTag(r *repository, name, dir string) *tag {
	t := &tag{name: name}
	ref := r.name + ":" + name
	link := path.Join(dir, "current", "link")
	d, err := s.readLink(link)
	if fi, lerr := s.files.Lstat(path.Join(dir, "current")); err == nil && lerr == nil && !fi.IsDir() {
		// A link in place of the folder: os.Root followed it.
		d, err = "", fmt.Errorf("%s/current: a %v, not a folder", dir, fi.Mode().Type())
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Tag links the index first, then writes current: a tag whose
		// write was cut short, or a link removed by hand.
		s.problem(link, integrity.Inconsistent, "%s: the tag has no current link", ref)
	case err != nil:
		s.problem(link, integrity.Inconsistent, "%s: %v", ref, err)
	case !s.has(d):
		s.problem(d.String(), integrity.MissingBlob, "%s: its tag link %s names manifest %s, which is not in the storage", ref, link, d)
	default:
		t.current = d
	}
	if s.opts.AllRevisions {
		recorded := false
		for _, e := range s.readLinks(path.Join(dir, "index"), ref+": earlier target") {
			switch {
			case e == d:
				recorded = true
			case s.has(e):
				t.earlier = append(t.earlier, e)
			}
		}
		if err == nil && !recorded {
			// Tag links the index before it writes current: a current
			// link to a manifest the index never recorded was written
			// by something other than the registry.
			s.problem(link, integrity.Inconsistent, "%s: the tag's current link names %s, which its index never recorded", ref, d)
		}
	}
	return t
}
