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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/compress"
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

// Names an image is given in the synthesised index.json.
const (
	// earlierSuffix marks a manifest a tag named before it moved on.
	earlierSuffix = " (earlier)"
	// annotationName is where index.json names an image: containerd's
	// annotation holds a full reference, which the image loader prefers
	// as an image's Ref (the OCI ref.name is often a bare tag).
	annotationName = "io.containerd.image.name"
)

// custodyIndex names the synthesised index.json in the chain of custody:
// no file of the evidence has that name or those bytes.
const custodyIndex = "(synthesised) index.json"

// maxLink bounds the bytes of a link file kept: a link is a digest (71
// bytes for sha256, 135 for sha512); a longer one is read whole for the
// chain of custody and reported.
const maxLink = 256

// maxManifest bounds a manifest read for the media type and children its
// index.json descriptor needs: the image loader's own bound on JSON. A
// bigger one gets no media type and the loader says why it is not read.
const maxManifest = 16 << 20

// maxRepoDepth bounds how many folders deep repository names are looked
// for: a name has at most 255 characters, so about 128 components.
const maxRepoDepth = 128

// Candidates for the layout's folder below the folder given, tried in
// order: the v2 folder itself, a registry's root directory (the
// filesystem driver's rootdirectory, /var/lib/registry in the official
// image) and the folders between, then below an evidence root, the
// official image's and Debian's docker-registry package's root
// directories.
var candidates = []string{".", "v2", "registry/v2", "docker/registry/v2",
	"var/lib/registry/docker/registry/v2", "var/lib/docker-registry/docker/registry/v2"}

// Store is a registry's storage, served as an OCI image layout.
type Store struct {
	ev      *os.Root
	base    string // the layout's v2 folder below ev
	custody *engine.Custody
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
	s := &Store{ev: ev, base: base, custody: engine.NewCustody(ev), opts: opts,
		blobs: map[string]int64{}, made: map[string][]byte{}, heads: map[digest.Digest]*manifestHead{}}
	if err := s.load(ctx); err != nil {
		ev.Close()
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

// find returns the layout's v2 folder below ev. The folder given itself
// must hold both blobs and repositories (an OCI layout holds blobs
// alone); one found at a path ending in registry/v2 needs either, for a
// registry whose repositories were all deleted still holds blobs. As
// everywhere below an os.Root, a link is followed only while it stays in
// the evidence.
func find(ev *os.Root) (string, bool) {
	isDir := func(p string) bool {
		fi, err := ev.Lstat(p)
		return err == nil && fi.IsDir()
	}
	for _, c := range candidates {
		blobs, repos := isDir(path.Join(c, "blobs")), isDir(path.Join(c, "repositories"))
		if blobs && repos || c != "." && (blobs || repos) {
			return c, true
		}
	}
	return "", false
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
	fi, err := s.ev.Lstat(data)
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
	if fi, lerr := s.ev.Lstat(path.Join(dir, "current")); err == nil && lerr == nil && !fi.IsDir() {
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

// uploads lists a repository's interrupted uploads: a push that never
// completed leaves _uploads/<id>/ (data, startedat, hashstates) until the
// registry purges it (one still under way looks the same on a disk). Its
// bytes are no blob: nothing names them by digest, and a layer cut short
// cannot be read to its end, so they are described, not scanned.
func (s *Store) uploads(r *repository) {
	dir := path.Join(r.dir, "_uploads")
	ents, err := s.readDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.problem(dir, integrity.Unreadable, "%s: uploads: %v", r.name, err)
		}
		return
	}
	for _, e := range ents {
		up := path.Join(dir, e.Name())
		p := integrity.Problem{Blob: up, Kind: integrity.Unreferenced, Content: "interrupted upload"}
		var parts []string
		if started, _, err := s.custody.ReadSmall(path.Join(up, "startedat"), 64); err == nil {
			parts = append(parts, "started "+strings.TrimSpace(string(started)))
		}
		if fi, err := s.ev.Lstat(path.Join(up, "data")); err == nil && fi.Mode().IsRegular() {
			p.Size = fi.Size()
			parts = append(parts, fmt.Sprintf("%d bytes received", fi.Size()))
			if what := s.sniffUpload(path.Join(up, "data")); what != "" {
				parts = append(parts, what)
			}
		} else {
			parts = append(parts, "no data")
		}
		p.Detail = fmt.Sprintf("%s: an upload not completed when the storage was acquired (%s); its bytes are no blob and are not scanned", r.name, strings.Join(parts, ", "))
		s.problems = append(s.problems, p)
	}
}

// sniffUpload says what an upload's first bytes look like.
func (s *Store) sniffUpload(name string) string {
	f, err := archive.OpenRegular(s.ev, name)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n])
}

// manifestHead is what the index needs of a manifest: its media type,
// and an index's children.
type manifestHead struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		Digest digest.Digest `json:"digest"`
	} `json:"manifests"`
}

// head reads manifest d once, for its media type and children; an
// unreadable or oversized one has neither, and the loader says why.
func (s *Store) head(d digest.Digest) *manifestHead {
	if h, ok := s.heads[d]; ok {
		return h
	}
	h := &manifestHead{}
	s.heads[d] = h
	name := blob.Path(d)
	if size, ok := s.blobs[name]; !ok || size > maxManifest {
		return h
	}
	f, err := s.Open(name)
	if err != nil {
		return h
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest))
	if err == nil && json.Unmarshal(data, h) != nil {
		*h = manifestHead{}
	}
	return h
}

// reach adds d and every manifest below it, if it is an index, to set.
func (s *Store) reach(d digest.Digest, set map[digest.Digest]bool, depth int) {
	if set[d] || depth > 8 {
		return
	}
	set[d] = true
	for _, c := range s.head(d).Manifests {
		if blob.Validate(c.Digest) == nil && s.has(c.Digest) {
			s.reach(c.Digest, set, depth+1)
		}
	}
}

// entry is one name of one manifest in index.json.
type entry struct {
	d    digest.Digest
	name string
}

// index makes index.json: each tag's current manifest named
// repository:tag; with AllRevisions, each tag's earlier targets named
// "repository:tag (earlier)" and every other revision
// repository@digest. A manifest some tag names now is named by its
// current tags only, so that its Ref is one of them; a manifest reached
// through an index in the list (a platform's) is named by the walk.
func (s *Store) index(repos []*repository) ([]byte, error) {
	var current, earlier, untagged []entry
	now := map[digest.Digest]bool{}
	for _, r := range repos {
		for _, t := range r.tags {
			if t.current != "" {
				current = append(current, entry{t.current, r.name + ":" + t.name})
				s.reach(t.current, now, 0)
			}
		}
	}
	if s.opts.AllRevisions {
		before := map[digest.Digest]bool{}
		for _, r := range repos {
			for _, t := range r.tags {
				for _, d := range t.earlier {
					if !now[d] {
						earlier = append(earlier, entry{d, r.name + ":" + t.name + earlierSuffix})
						s.reach(d, before, 0)
					}
				}
			}
		}
		// An untagged index's platforms are reached through it.
		below := map[digest.Digest]bool{}
		for _, r := range repos {
			for _, d := range r.revisions {
				if !now[d] && !before[d] {
					for _, c := range s.head(d).Manifests {
						if blob.Validate(c.Digest) == nil && s.has(c.Digest) {
							s.reach(c.Digest, below, 1)
						}
					}
				}
			}
		}
		for _, r := range repos {
			for _, d := range r.revisions {
				if !now[d] && !before[d] && !below[d] {
					untagged = append(untagged, entry{d, r.name + "@" + d.String()})
				}
			}
		}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	for _, list := range [][]entry{current, earlier, untagged} {
		sort.Slice(list, func(i, j int) bool {
			if list[i].name != list[j].name {
				return list[i].name < list[j].name
			}
			return list[i].d < list[j].d
		})
		for _, e := range list {
			idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
				MediaType:   s.head(e.d).MediaType,
				Digest:      e.d,
				Size:        s.blobs[blob.Path(e.d)],
				Annotations: s.annotations(e.name),
			})
		}
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return data, nil
}

// annotations name an index.json entry. A cosign tag (sha256-<hex>.sig,
// .att, .sbom) also gets the bare tag as its OCI ref.name, where the
// image loader tells a cosign attachment from its tag.
func (s *Store) annotations(name string) map[string]string {
	a := map[string]string{annotationName: name}
	if i := strings.LastIndexByte(name, ':'); i > 0 && !strings.HasSuffix(name, earlierSuffix) && !strings.Contains(name, "@") {
		if t := name[i+1:]; strings.HasPrefix(t, "sha256-") {
			a[ocispec.AnnotationRefName] = t
		}
	}
	return a
}

// readDir lists dir sorted by name, each entry as lstat sees it, so that
// a link is never taken for the folder it points to.
func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	// os.Root follows a link that stays below it: the registry writes
	// none, and one would let a tag or a repository stand for another.
	li, err := s.ev.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !li.IsDir() {
		return nil, fmt.Errorf("%s: a %v, not a folder", dir, li.Mode().Type())
	}
	f, err := s.ev.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(li, fi) {
		return nil, fmt.Errorf("%s: replaced while it was opened", dir)
	}
	ents, err := f.ReadDir(-1)
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
	return archive.OpenRegular(s.ev, s.p("blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data"))
}

// Close releases the store.
func (s *Store) Close() error { return s.ev.Close() }

var (
	_ archive.Store    = (*Store)(nil)
	_ image.IndexMaker = (*Store)(nil)
)

// sniff says what the first bytes of an upload look like: a layer's
// (compressed, or a tar), JSON (a manifest or config), else nothing.
func sniff(head []byte) string {
	switch {
	case compress.Sniff(head) != compress.None:
		return fmt.Sprintf("its first bytes are %s-compressed, as a layer's are", compress.Sniff(head))
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return "its first bytes are a tar's, as a layer's are"
	case len(bytes.TrimLeft(head, " \t\r\n")) > 0 && bytes.TrimLeft(head, " \t\r\n")[0] == '{':
		return "its first bytes are JSON"
	}
	return ""
}
