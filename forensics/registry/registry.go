// Package registry reads a container registry's storage as it lies on a
// disk, with no registry running: the filesystem layout of distribution
// (the CNCF registry, Docker's registry:2 and :3 images, and the
// registries built on its storage code), below docker/registry/v2. Paths
// and link files follow distribution's own source:
// registry/storage/paths.go (the layout), blobstore.go (a link file holds
// a digest and nothing else), tagstore.go (Tag links the manifest into
// the tag's index, then overwrites its current link; only Untag removes
// the tag) and linkedblobstore.go (uploads, repository links).
//
// The storage is served as an OCI image layout: every blob of
// blobs/<alg>/<hex[0:2]>/<hex>/data is the member blobs/<alg>/<hex>, and
// an index.json, made from the tags' links, names each repository:tag's
// manifest. The image loader then reads the manifests, configs and layers
// as it reads any layout: each blob verified against the digest its path
// claims, once however many images share it, and the blobs nothing
// reaches listed as unreferenced (layers among them scanned). The links
// themselves are names, trusted only: nothing signs them. A repository's
// _layers links (which blobs it may serve) are not read: an image's blobs
// are reached from its manifest.
package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the Format of an input opened from a registry's storage.
const Format archive.Format = "registry"

// Options choose what of the storage is read as images.
type Options struct {
	// AllRevisions makes an image of every manifest the storage holds,
	// not only of each tag's current one: each tag's earlier targets
	// (its index, which keeps every manifest the tag ever named) and every
	// revision pushed to a repository, tagged or not.
	AllRevisions bool
}

// Opener returns an archive.StoreOpener for registries' storage read
// with opts.
func Opener(opts Options) archive.StoreOpener {
	return func(ctx context.Context, root string) (archive.Store, error) {
		s, err := Open(ctx, root, opts)
		if s == nil {
			// A nil *Store in an archive.Store would not be nil.
			return nil, err
		}
		return s, nil
	}
}

// Store is a registry's storage, served as an OCI image layout.
type Store struct {
	ev      *os.Root
	base    string // the layout's v2 folder below ev
	custody *engine.Custody
	files   *engine.Beneath // the custody's: lists and looks below ev
	opts    Options

	blobs    map[string]int64 // member name -> size
	members  []archive.Member
	made     map[string][]byte // oci-layout, index.json
	problems []integrity.Problem
	heads    map[digest.Digest]*manifestHead
}

// Open returns the registry storage found in the folder root (see
// candidates), or nil when there is none.
func Open(ctx context.Context, root string, opts Options) (*Store, error) {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	base, ok := find(ev)
	if !ok {
		ev.Close()
		return nil, nil
	}
	custody := engine.NewCustody(ev)
	s := &Store{ev: ev, base: base, custody: custody, files: custody.Below(), opts: opts,
		blobs: map[string]int64{}, made: map[string][]byte{}, heads: map[digest.Digest]*manifestHead{}}
	if err := s.load(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Is reports whether the folder root holds a registry's storage, as Open
// would find it, reading no more than that takes.
func Is(root string) bool {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return false
	}
	defer ev.Close()
	_, ok := find(ev)
	return ok
}

func (s *Store) p(parts ...string) string { return path.Join(append([]string{s.base}, parts...)...) }

func (s *Store) problem(name string, kind integrity.Kind, format string, args ...any) {
	s.problems = append(s.problems, integrity.Problem{Blob: name, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func (s *Store) load(ctx context.Context) error {
	if err := s.listBlobs(ctx); err != nil {
		return err
	}
	var repos []*repository
	if err := s.walkRepositories(ctx, s.p("repositories"), "", 0, &repos); err != nil {
		return err
	}
	for _, r := range repos {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.readRepository(r)
	}
	index, err := s.index(repos)
	if err != nil {
		return err
	}
	s.made["oci-layout"] = []byte(`{"imageLayoutVersion":"1.0.0"}`)
	s.made["index.json"] = index
	s.custody.Made(custodyIndex, index)
	members := []archive.Member{{Name: "oci-layout", Size: int64(len(s.made["oci-layout"]))}, {Name: "index.json", Size: int64(len(index))}}
	s.members = append(members, s.members...)
	return nil
}

// readDir lists dir sorted by name, never through a link: os.Root would
// follow one that stays below it, which the registry writes none of, and
// one would let a tag or a repository stand for another. Each name is
// resolved in one call (engine.Beneath), not a folder at a time: a
// registry has a folder for every blob and link, and every process of a
// sharded scan lists them all.
func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	ents, err := s.files.ReadDir(dir)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, err
}

// Info describes the store: its format, and the digest of every link and
// record read, with the index.json made from them.
func (s *Store) Info() archive.Info {
	sum, size := s.custody.Digest()
	return archive.Info{Format: Format, SHA256: sum, Size: size}
}

// IndexFrom says what index.json was made from, for the records of the
// blobs it does not reach (image.IndexMaker).
func (s *Store) IndexFrom() string {
	if s.opts.AllRevisions {
		return "any tag, earlier target or revision link of a repository"
	}
	return "any tag's current link (--all-revisions reads every revision)"
}

// Problems are what reading the links and folders found.
func (s *Store) Problems() []integrity.Problem { return s.problems }

// Members lists oci-layout, index.json and every blob.
func (s *Store) Members() []archive.Member { return s.members }

// Open reads a member: the layout's files as made, a blob from its data
// file, never through a link.
func (s *Store) Open(name string) (io.ReadCloser, error) {
	if data, ok := s.made[name]; ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	if _, ok := s.blobs[name]; !ok {
		return nil, fmt.Errorf("%s: %w", name, archive.ErrNotExist)
	}
	d := blob.FromPath(name)
	f, err := s.files.OpenFile(s.p("blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data"))
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Identity is the FileID of a blob's data file as it is now, looked at
// through the evidence root, never through a link; false for the files
// the store makes (index.json) and anything that is no regular file.
func (s *Store) Identity(name string) (archive.FileID, bool) {
	if _, ok := s.blobs[name]; !ok {
		return archive.FileID{}, false
	}
	d := blob.FromPath(name)
	fi, err := s.files.Lstat(s.p("blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data"))
	if err != nil {
		return archive.FileID{}, false
	}
	return archive.IDOf(fi)
}

// Close releases the store.
func (s *Store) Close() error {
	s.custody.Close()
	return s.ev.Close()
}

var (
	_ archive.Store      = (*Store)(nil)
	_ archive.Identifier = (*Store)(nil)
	_ image.IndexMaker   = (*Store)(nil)
)
