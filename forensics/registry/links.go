package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// maxLink bounds the bytes of a link file kept: a link is a digest (71
// bytes for sha256, 135 for sha512); a longer one is read whole for the
// chain of custody and reported.
const maxLink = 256

// readLinks reads every <alg>/<hex>/link below dir (a tag's index, a
// repository's revisions), each of which must hold the digest its path
// names, and returns those that do; one whose blob the storage lacks is
// a problem. what says whose links they are.
func (s *Store) readLinks(dir, what string) []digest.Digest {
	algs, err := s.readDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.problem(dir, integrity.Unreadable, "%s: %v", what, err)
		}
		return nil
	}
	var out []digest.Digest
	for _, a := range algs {
		adir := path.Join(dir, a.Name())
		if !a.IsDir() {
			s.problem(adir, integrity.Inconsistent, "%s: not a folder of links; not read", what)
			continue
		}
		hexes, err := s.readDir(adir)
		if err != nil {
			s.problem(adir, integrity.Unreadable, "%s: %v", what, err)
			continue
		}
		for _, h := range hexes {
			link := path.Join(adir, h.Name(), "link")
			want := digest.NewDigestFromEncoded(digest.Algorithm(a.Name()), h.Name())
			if blob.Validate(want) != nil || !h.IsDir() {
				s.problem(path.Join(adir, h.Name()), integrity.Inconsistent, "%s: %q names no digest's folder; not read", what, a.Name()+"/"+h.Name())
				continue
			}
			d, err := s.readLink(link)
			switch {
			case err != nil:
				s.problem(link, integrity.Inconsistent, "%s %s: %v", what, want, err)
			case d != want:
				s.problem(link, integrity.Inconsistent, "%s: the link filed as %s holds %s", what, want, d)
			case !s.has(d):
				s.problem(d.String(), integrity.MissingBlob, "%s: link %s names manifest %s, which is not in the storage", what, link, d)
				out = append(out, d)
			default:
				out = append(out, d)
			}
		}
	}
	return out
}

// readLink reads a link file into the chain of custody and parses it.
func (s *Store) readLink(name string) (digest.Digest, error) {
	data, size, err := s.custody.ReadSmall(name, maxLink)
	if err != nil {
		return "", err
	}
	if size > maxLink {
		return "", fmt.Errorf("link of %d bytes is no digest", size)
	}
	return ParseLink(data)
}

// ParseLink reads a link file's content: one digest, as blobstore.go's
// link writes it and readlink reads it back (digest.Parse, nothing else
// around it).
func ParseLink(data []byte) (digest.Digest, error) {
	d := digest.Digest(data)
	if err := blob.Validate(d); err != nil {
		return "", fmt.Errorf("link holds no digest: %w", err)
	}
	return d, nil
}
