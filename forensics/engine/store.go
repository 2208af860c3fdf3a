package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Store is what every engine's storage is to strata once its records are
// read: an archive.Store whose members are metadata files read as they
// are, layers rebuilt from their tar-split, and containers' writable
// layers read from their overlay upper folders; and an image.Catalog of
// its images and containers. The engine's package fills it.
type Store struct {
	// Ev is the evidence root: nothing is read outside it.
	Ev *os.Root
	// Custody holds every metadata file read.
	Custody *Custody

	format   archive.Format
	members  map[string]member
	order    []string
	entries  []image.Entry
	problems []integrity.Problem

	mu      sync.Mutex
	checked map[string][]integrity.Problem // what each layer's last rebuild found
	drifted map[string][]archive.Drifted   // what each layer's last Checked found
}

// member is how one member's bytes are had.
type member struct {
	file  string          // a metadata file
	split *Split          // a layer, rebuilt
	upper *archive.Folder // a container's writable layer
	size  int64
	roots []*os.Root // to close
}

// NewStore is an empty store of the given format below ev.
func NewStore(ev *os.Root, format archive.Format) *Store {
	return &Store{Ev: ev, Custody: NewCustody(ev), format: format, members: map[string]member{},
		checked: map[string][]integrity.Problem{}, drifted: map[string][]archive.Drifted{}}
}

// Has reports whether the store has member name.
func (s *Store) Has(name string) bool {
	_, ok := s.members[name]
	return ok
}

// Size is member name's size, or -1.
func (s *Store) Size(name string) int64 {
	if m, ok := s.members[name]; ok {
		return m.size
	}
	return -1
}

// AddFile adds the metadata file name (a config), read as it is.
func (s *Store) AddFile(name string, size int64) { s.add(name, member{file: name, size: size}) }

// AddSplit adds the layer sp rebuilds as member sp.Name, sizing it; diff
// is closed with the store. A tar-split that cannot be read is a problem,
// and the layer is not added.
func (s *Store) AddSplit(sp *Split, diff *os.Root) bool {
	size, err := sp.Size()
	if err != nil {
		diff.Close()
		s.Problem(sp.Name, integrity.BadLayer, "%v", err)
		return false
	}
	s.add(sp.Name, member{split: sp, size: size, roots: []*os.Root{diff}})
	return true
}

// AddUpper adds the overlay upper folder dir (below Ev) as the writable
// layer of the container called name, and returns its member, "" when it
// cannot be read.
func (s *Store) AddUpper(ctx context.Context, dir, name string) string {
	if s.Has(dir) {
		return dir
	}
	root, err := s.Ev.OpenRoot(dir)
	if err != nil {
		s.Problem(dir, integrity.MissingBlob, "container %s: its writable layer: %v", name, err)
		return ""
	}
	f, problems, err := archive.ListUpper(ctx, root, 0, dir)
	s.problems = append(s.problems, problems...)
	if err != nil {
		root.Close()
		s.Problem(dir, integrity.Unreadable, "container %s: its writable layer: %v", name, err)
		return ""
	}
	s.add(dir, member{upper: f, size: f.Size(), roots: []*os.Root{root}})
	if os.Geteuid() != 0 {
		s.Problem(dir, integrity.Degraded, "container %s: not run as root, so trusted.* xattrs cannot be read: opaque folders and renames in its writable layer are unknown, not absent", name)
	}
	return dir
}

// AddEntry adds an image or a container.
func (s *Store) AddEntry(e image.Entry) { s.entries = append(s.entries, e) }

// Problem records what reading the store found.
func (s *Store) Problem(blob string, kind integrity.Kind, format string, args ...any) {
	s.problems = append(s.problems, integrity.Problem{Blob: blob, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// Record records ps as they are.
func (s *Store) Record(ps ...integrity.Problem) { s.problems = append(s.problems, ps...) }

func (s *Store) add(name string, m member) {
	if _, ok := s.members[name]; !ok {
		s.order = append(s.order, name)
	}
	s.members[name] = m
}

// Info describes the store: its format, and its metadata files' digest.
func (s *Store) Info() archive.Info {
	sum, size := s.Custody.Digest()
	return archive.Info{Format: s.format, SHA256: sum, Size: size}
}

// Problems is what reading the store's records found.
func (s *Store) Problems() []integrity.Problem { return s.problems }

// Catalog lists the store's images and containers.
func (s *Store) Catalog() []image.Entry { return s.entries }

// Members lists configs, layers and writable layers.
func (s *Store) Members() []archive.Member {
	out := make([]archive.Member, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, archive.Member{Name: n, Size: s.members[n].size})
	}
	return out
}

// Open reads a member: a metadata file as it is, a layer rebuilt, a
// writable layer as the tar its folder stands for.
func (s *Store) Open(name string) (io.ReadCloser, error) {
	m, ok := s.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, archive.ErrNotExist)
	}
	switch {
	case m.split != nil:
		return m.split.Rebuild(func(ps []integrity.Problem) {
			s.mu.Lock()
			s.checked[name] = ps
			s.mu.Unlock()
		}), nil
	case m.upper != nil:
		return m.upper.Open(), nil
	}
	return archive.OpenRegular(s.Ev, m.file)
}

// Checked is what reading a layer found that its bytes do not say: files
// changed since the pull, and its folder's drift. When the rebuilt tar
// did not verify, each file is read again to name the one that changed
// (Split.Changed); when it did, what the rebuild saw of the files' sizes
// (a file grown past what the tar holds) is all there is to say. The
// files it finds planted or changed are kept for Drifted.
func (s *Store) Checked(name string, verified bool) []integrity.Problem {
	m, ok := s.members[name]
	if !ok || m.split == nil {
		return nil
	}
	s.mu.Lock()
	out := append([]integrity.Problem(nil), s.checked[name]...)
	s.mu.Unlock()
	var files driftFiles
	if !verified {
		changed, err := m.split.changed(context.Background(), &files)
		if err == nil {
			out = changed
		} else {
			out = append(out, integrity.Problem{Blob: name, Kind: integrity.BadLayer, Detail: "naming the files that changed: " + err.Error()})
		}
	}
	drift, err := m.split.drifted(context.Background(), m.split.OwnerShift, &files)
	if err != nil {
		out = append(out, integrity.Problem{Blob: name, Kind: integrity.BadLayer, Detail: "drift: " + err.Error()})
	}
	out = append(out, drift...)
	if files.more > 0 {
		out = append(out, integrity.Problem{Blob: name, Kind: integrity.Degraded,
			Detail: fmt.Sprintf("drift: %d more files planted or changed in the layer's folder were not read by the detectors (%d were)", files.more, len(files.list))})
	}
	sp := m.split
	for i := range files.list {
		rel := strings.TrimPrefix(files.list[i].Path, "/")
		files.list[i].Open = func() (io.ReadCloser, error) {
			rc, _, err := sp.opener().Open(rel)
			return rc, err
		}
	}
	s.mu.Lock()
	s.drifted[name] = files.list
	s.mu.Unlock()
	return out
}

// Drifted lists the regular files of layer name's folder that the last
// Checked of it found planted or changed (see archive.DriftFiles): read
// as the layer's own files are, never through a link nor out of the
// folder.
func (s *Store) Drifted(name string) []archive.Drifted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drifted[name]
}

// Close releases the store.
func (s *Store) Close() error {
	for _, m := range s.members {
		if m.split != nil {
			m.split.Close()
		}
		for _, r := range m.roots {
			r.Close()
		}
	}
	s.Custody.Close()
	return s.Ev.Close()
}

var (
	_ archive.Store         = (*Store)(nil)
	_ archive.MemberChecker = (*Store)(nil)
	_ archive.DriftFiles    = (*Store)(nil)
	_ image.Catalog         = (*Store)(nil)
)
