// Package archive opens an input as found on disk (a docker save tarball, an
// OCI image-layout folder or an OCI archive, optionally compressed as a
// whole; or a root filesystem, see RootFS) and gives read-only access to
// its members by name. It indexes a tar
// once and reads members in place; it never unpacks to disk unless asked to
// with a temporary folder, and never writes to the input.
package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the layout of the input.
type Format string

const (
	DockerArchive Format = "docker-archive" // docker save, legacy or Docker 25+ (OCI inside)
	OCILayout     Format = "oci-layout"     // an OCI image-layout folder
	OCIArchive    Format = "oci-archive"    // a tar of an OCI image layout
	// A root filesystem, read as one image of one layer with no history
	// (see RootFS): a tar of one (docker export), compressed or not, or a
	// folder holding one.
	RootfsTar Format = "rootfs-tar"
	RootfsDir Format = "rootfs-dir"
)

// ErrNotAFile is returned for a pipe, a socket or a device: an input is a
// file (or an image layout folder), read in place and hashed whole.
var ErrNotAFile = errors.New("not a regular file or folder; save the stream to a file first (docker save -o image.tar IMAGE)")

// ErrUnknownFormat is returned when the input is none of the formats above.
var ErrUnknownFormat = errors.New("not a docker-archive, OCI layout or OCI archive")

// Info describes the input itself, for the chain of custody.
type Info struct {
	Path        string          `json:"path"`
	Format      Format          `json:"format"`
	Compression compress.Format `json:"compression,omitempty"`
	SHA256      string          `json:"sha256"`
	Size        int64           `json:"size"`
	// OCI is true when the input carries an OCI image layout (index.json),
	// which then is the truth for what images there are.
	OCI bool `json:"-"`
}

// Member is one file of the input: a tar member, or a file below a folder.
type Member struct {
	Name   string // slash-separated, cleaned, relative ("blobs/sha256/ab…")
	Offset int64  // where its content starts in the (decompressed) tar
	Size   int64
}

// Options configure Open.
type Options struct {
	// TmpDir, when set and the input is compressed as a whole, receives one
	// decompressed copy so members can be read in place; otherwise members
	// of a compressed input are reached by decompressing again.
	TmpDir string
	// MaxMembers bounds the number of members indexed.
	MaxMembers int
	// MaxRatio bounds decompressed / compressed bytes of an input
	// compressed as a whole, checked past 64 MiB (a bomb of zeros otherwise
	// keeps the indexer busy for as long as it likes); 0 means 1000.
	MaxRatio float64
	// Throttle, when set, is called before the input's own sha256 is
	// computed in the background, and the function it returns when that is
	// done: a scan of many inputs bounds how much CPU-heavy work runs at
	// once, so that the biggest layer keeps a core to itself.
	Throttle func(context.Context) (done func())
	// Early, when set, is offered every member of an input compressed as a
	// whole (without TmpDir) that is too big to be kept in memory, while
	// the index decompresses it, so that the caller can read layers in
	// that pass rather than in a second one. It may stop reading r before
	// its end, and must not keep it.
	Early func(name string, offset, size int64, r io.Reader)
	// SmallMember is the size up to which a member of an input compressed
	// as a whole is kept in memory by the index (indexes, manifests,
	// configs), and not offered to Early: 0 means 1 MiB, a negative size
	// keeps none (which tests use to send every member through Early).
	SmallMember int64
	// Progress, when set, is told every few MiB how many bytes of an input
	// compressed as a whole the index has read, and of how many.
	Progress func(read, total int64)
	// Stores are asked, in order, whether a folder is a store of theirs
	// (an engine's storage, a registry's) before it is read as an image
	// layout or a root filesystem.
	Stores []StoreOpener
}

// Archive is an opened input.
type Archive struct {
	Info     Info
	Problems []integrity.Problem

	members map[string]*Member
	order   []string // names in archive order

	dir   *os.Root // folder input
	store Store    // an input served by a package of its own
	file  *os.File // tar input, or the decompressed temporary copy
	tmp   string   // temporary copy to remove on Close
	park  parking  // file closed by Park, read through descriptors of their own

	// compressed input without a temporary copy: small members kept, the
	// rest reached by a new decompression pass.
	compressed bool
	small      map[string][]byte

	links map[string]string // link member -> target member, resolved after indexing

	signs  rootfsSigns  // what tells a root filesystem, gathered while indexing
	rootfs *rootfsInput // set when the input is a root filesystem

	// An uncompressed tar's sha256 is computed by a reader of its own while
	// the members are read; Wait collects it into Info.
	hashing   chan struct{} // closed when the background hash is done; nil when none
	hashSum   string
	hashErr   error
	stopHash  context.CancelFunc
	hashOnce  sync.Once
	startHash func([]RegionWatcher) // starts the background hash; nil when none
}

// FormatError names the input and the offset where it broke.
type FormatError struct {
	File   string
	Offset int64
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.File, e.Offset, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// Open opens path read-only and indexes it.
func Open(ctx context.Context, p string, opts Options) (*Archive, error) {
	if opts.MaxMembers == 0 {
		opts.MaxMembers = 1_000_000
	}
	st, err := os.Stat(p)
	if err != nil {
		if p == "-" && errors.Is(err, fs.ErrNotExist) {
			// The usual name for standard input, which is a stream.
			return nil, fmt.Errorf("-: standard input is %w", ErrNotAFile)
		}
		return nil, err
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		// Blobs are read in place, by offset, and the input is hashed
		// whole: a pipe or a device can be read only once.
		return nil, fmt.Errorf("%s: %w", p, ErrNotAFile)
	}
	a := &Archive{Info: Info{Path: p}, members: map[string]*Member{}}
	var isStore bool
	if st.IsDir() {
		isStore, err = a.openStore(ctx, p, opts.Stores)
		if err == nil && !isStore {
			err = a.openDir(ctx, p, opts)
		}
	} else {
		err = a.openFile(ctx, p, opts)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	if isStore {
		return a, nil
	}
	a.resolveLinks()
	if err := a.detect(); err != nil {
		a.Close()
		// A cut-short archive usually loses its index, which tar writers
		// put last: say it is truncated, not that it is of an unknown kind.
		for _, pr := range a.Problems {
			if pr.Kind == integrity.Truncated {
				return nil, fmt.Errorf("%s: %w: truncated: %s", p, err, pr.Detail)
			}
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

func (a *Archive) add(name string, off, size int64) {
	name = cleanName(name)
	if name == "" {
		return
	}
	if prev, dup := a.members[name]; !dup {
		a.order = append(a.order, name)
	} else if a.dir == nil {
		// Producers write each member once (containerd's writeTar
		// dedups); a second one is a tar appended to, and readers
		// disagree on which copy counts (tar keeps the last, a
		// streaming reader may take the first).
		a.Problems = append(a.Problems, integrity.Problem{Blob: name, Kind: integrity.DuplicateMember,
			Detail: fmt.Sprintf("%s is in the archive twice (offsets %d and %d, %d and %d bytes); the last is read", name, prev.Offset, off, prev.Size, size)})
	}
	a.members[name] = &Member{Name: name, Offset: off, Size: size}
}

func cleanName(n string) string {
	n = path.Clean("/" + strings.ReplaceAll(n, "\\", "/"))
	return strings.TrimPrefix(n, "/")
}

func (a *Archive) detect() error {
	hasLayout := a.members["oci-layout"] != nil && a.members["index.json"] != nil
	hasManifest := a.members["manifest.json"] != nil
	switch {
	case a.rootfs != nil:
		// A folder holding a root filesystem, told at its top.
	case a.dir == nil && a.members["oci-layout"] == nil && a.members["index.json"] == nil && !hasManifest && a.signs.rootfs():
		return a.becomeRootfsTar()
	case a.dir != nil && hasLayout:
		a.Info.Format, a.Info.OCI = OCILayout, true
	case a.dir != nil && hasManifest:
		a.Info.Format = DockerArchive
	case hasManifest:
		a.Info.Format, a.Info.OCI = DockerArchive, hasLayout
	case hasLayout:
		a.Info.Format, a.Info.OCI = OCIArchive, true
	default:
		return ErrUnknownFormat
	}
	return nil
}

func (a *Archive) openFile(ctx context.Context, p string, opts Options) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	a.file = f
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a.Info.Size = st.Size()
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	a.Info.Compression = compress.Sniff(head[:n])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if a.Info.Compression == compress.None {
		return a.indexPlain(ctx, p, opts)
	}
	return a.indexCompressed(ctx, p, opts)
}

// Close releases the input and removes a temporary copy.
func (a *Archive) Close() error {
	if a.hashing != nil {
		a.stopHash()
		a.hashOnce.Do(func() { close(a.hashing) }) // never started: nothing to wait for
		<-a.hashing
	}
	if a.dir != nil {
		a.park.closeUnparked(a.dir.Close)
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.file != nil {
		a.park.closeUnparked(a.file.Close)
	}
	if a.tmp != "" {
		os.Remove(a.tmp)
	}
	return nil
}

// Members lists every member in archive order.
func (a *Archive) Members() []Member {
	out := make([]Member, 0, len(a.order))
	for _, n := range a.order {
		if m, ok := a.members[n]; ok {
			out = append(out, *m)
		}
	}
	return out
}

// Stat returns a member by name.
func (a *Archive) Stat(name string) (Member, bool) {
	m, ok := a.members[cleanName(name)]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// InPlace reports whether members are read in place (a folder, an
// uncompressed tar, or the temporary copy of a compressed one), so that
// opening a member again costs no decompression pass.
func (a *Archive) InPlace() bool { return !a.compressed }

// ErrNotExist is returned for a member the input lacks.
var ErrNotExist = fs.ErrNotExist

// Open returns a reader of one member. For a compressed input without a
// temporary copy, a member not kept in memory costs a decompression pass up
// to it: use Visit to read many.
func (a *Archive) Open(name string) (io.ReadCloser, error) {
	name = cleanName(name)
	m, ok := a.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	switch {
	case a.store != nil:
		return a.store.Open(name)
	case a.rootfs != nil && a.rootfs.dir != nil:
		return a.rootfs.dir.open(), nil
	case a.dir != nil:
		root, release, err := a.folder()
		if err != nil {
			return nil, err
		}
		defer release() // an open file outlives its root
		f, err := root.Open(name)
		if err != nil {
			return nil, err
		}
		return f, nil
	case a.compressed:
		if b, ok := a.small[name]; ok {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		return a.openCompressed(m)
	default:
		f, release, err := a.readFile()
		if err != nil {
			return nil, err
		}
		return &parkedReader{Reader: &exactReader{r: io.NewSectionReader(f, m.Offset, m.Size), left: m.Size, name: name}, release: release}, nil
	}
}
