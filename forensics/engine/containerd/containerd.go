// Package containerd reads containerd's storage from a mounted disk, with
// no daemon: plain containerd (namespace default), Kubernetes' (k8s.io)
// and Docker 29's containerd store (moby). Its content store is served as
// an OCI image layout (every blob verified by image.Load as any layout's),
// whose index.json names the images meta.db records in every namespace;
// each container is its image with its writable layer, the overlayfs
// snapshotter's active snapshot; each unpacked snapshot of an image layer
// is compared with the layer's verified blob. Paths and records follow
// containerd's own source (core/metadata, core/snapshots/storage,
// plugins/snapshots/overlay, plugins/content/local, core/unpack).
package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/boltdb"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the Format of an archive opened from containerd's storage.
const Format archive.Format = "containerd"

// Each plugin's folder below the root is <type>.<id>
// (cmd/containerd/server: filepath.Join(root, id)).
const (
	metaDBPath  = "io.containerd.metadata.v1.bolt/meta.db"
	contentDir  = "io.containerd.content.v1.content"
	overlayDir  = "io.containerd.snapshotter.v1.overlayfs"
	overlayName = "overlayfs"
)

// Open returns containerd's storage found in the folder root: containerd's
// root itself, or below an evidence root at the root the evidence's own
// /etc/containerd/config.toml names, else /var/lib/containerd, Docker's
// own containerd (/var/lib/docker/containerd/daemon) or k3s's. It returns
// nil when there is none.
func Open(ctx context.Context, root string) (archive.Store, error) {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	s := &Store{ev: ev, custody: engine.NewCustody(ev), members: map[string]member{},
		snapshotsOf: map[string][]snapshotDir{}, checked: map[string]*comparison{}}
	base, ok := s.findRoot()
	if !ok {
		s.Close()
		return nil, nil
	}
	s.base = base
	if err := s.load(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Is reports whether the folder root holds containerd's storage, as Open
// would find it, reading no more than that takes.
func Is(root string) bool {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return false
	}
	defer ev.Close()
	s := &Store{ev: ev, custody: engine.NewCustody(ev)}
	defer s.custody.Close()
	_, ok := s.findRoot()
	return ok
}

// Store is containerd's storage: an archive.Store serving an OCI image
// layout, and an image.Catalog of its containers.
type Store struct {
	ev      *os.Root // the evidence root: nothing is read outside it
	base    string   // containerd's root below it ("." when it is the root)
	custody *engine.Custody

	members  map[string]member
	order    []string
	entries  []image.Entry
	problems []integrity.Problem

	meta     *metaDB
	backend  map[string]backendSnapshot // the overlayfs snapshotter's snapshots by name
	manifest map[digest.Digest]*manifestInfo
	targets  map[digest.Digest][]digest.Digest // an image target -> its manifests
	// snapshotsOf are the committed snapshots unpacked from each layer
	// blob, compared with it once it is read.
	snapshotsOf map[string][]snapshotDir

	mu      sync.Mutex
	checked map[string]*comparison // the comparisons made, each once
}

func (s *Store) p(parts ...string) string { return path.Join(append([]string{s.base}, parts...)...) }

func (s *Store) load(ctx context.Context) error {
	s.meta = &metaDB{}
	if db, err := s.readDB(s.p(metaDBPath)); err != nil {
		s.problem(s.p(metaDBPath), integrity.Unreadable,
			"%v: no image name, container or snapshot can be read; the content store's blobs are listed as found", err)
	} else {
		s.meta = parseMetaDB(db, func(what string) { s.problem(s.p(metaDBPath), integrity.Inconsistent, "meta.db: %s", what) })
	}
	s.backend = map[string]backendSnapshot{}
	sdb := s.p(overlayDir, "metadata.db")
	if _, err := s.ev.Lstat(sdb); err == nil {
		if db, err := s.readDB(sdb); err != nil {
			s.problem(sdb, integrity.Unreadable, "the overlayfs snapshotter's %v: no snapshot can be found", err)
		} else {
			s.backend = parseSnapshotDB(db)
		}
	}
	s.add("oci-layout", member{data: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
	if err := s.blobs(ctx); err != nil {
		return err
	}
	index := s.index()
	data, err := json.Marshal(index)
	if err != nil {
		return err
	}
	s.add("index.json", member{data: data})
	s.graph(ctx, index)
	claimed := s.unpacked()
	s.containers(ctx, claimed)
	s.orphanSnapshots(ctx, claimed)
	s.ingests()
	return ctx.Err()
}

// readDB reads a bbolt database of the evidence from a private copy,
// hashed into the chain of custody as it is copied.
func (s *Store) readDB(name string) (*boltdb.Bucket, error) {
	return boltdb.ReadEvidence(s.custody, name)
}

func (s *Store) readDir(dir string) ([]string, error) { return engine.ReadDir(s.ev, dir) }

func (s *Store) problem(blob string, kind integrity.Kind, format string, args ...any) {
	s.problems = append(s.problems, integrity.Problem{Blob: blob, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// Info describes the store: its metadata files' digest.
func (s *Store) Info() archive.Info {
	sum, size := s.custody.Digest()
	return archive.Info{Format: Format, SHA256: sum, Size: size}
}

// Problems is what reading the store's records found.
func (s *Store) Problems() []integrity.Problem { return s.problems }

// Catalog lists the store's containers; its images are its layout's.
func (s *Store) Catalog() []image.Entry { return s.entries }

// Close releases the store.
func (s *Store) Close() error {
	for _, m := range s.members {
		if m.root != nil {
			m.root.Close()
		}
	}
	s.custody.Close()
	return s.ev.Close()
}

var (
	_ archive.Store         = (*Store)(nil)
	_ archive.MemberChecker = (*Store)(nil)
	_ image.Catalog         = (*Store)(nil)
)
