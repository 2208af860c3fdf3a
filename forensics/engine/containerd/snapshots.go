package containerd

import (
	"context"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// comparison is one layer's comparison with its snapshots, made once.
type comparison struct {
	once     sync.Once
	problems []integrity.Problem
}

// snapshotDir is a committed snapshot's folder, unpacked from a layer.
type snapshotDir struct {
	ns, key string
	dir     string // its fs folder below ev
}

// snapshot finds the folder of snapshot key of namespace ns, and its
// backend record.
func (s *Store) snapshot(ns *namespace, key string) (string, backendSnapshot, bool) {
	rec, ok := ns.snapshots[overlayName][key]
	if !ok {
		return "", backendSnapshot{}, false
	}
	b, ok := s.backend[rec.name]
	if !ok {
		return "", backendSnapshot{}, false
	}
	return s.p(overlayDir, "snapshots", strconv.FormatUint(b.id, 10), "fs"), b, true
}

// unpacked pairs each layer blob with the committed snapshots its images
// were unpacked to in each namespace (keyed by chain ID, core/unpack),
// and returns the snapshot folders claimed.
func (s *Store) unpacked() map[string]bool {
	claimed := map[string]bool{}
	for _, ns := range s.meta.namespaces {
		for _, im := range ns.images {
			for _, m := range s.targets[im.target.Digest] {
				info := s.manifest[m]
				for i, chain := range info.chains {
					if chain == "" || blob.Validate(info.layers[i]) != nil {
						continue // a manifest's layer that is no digest names no blob
					}
					dir, b, ok := s.snapshot(ns, chain.String())
					if !ok {
						continue // not unpacked, or for another snapshotter
					}
					name := path.Join("blobs", info.layers[i].Algorithm().String(), info.layers[i].Encoded())
					if claimed[dir] || b.kind != kindCommitted {
						continue
					}
					claimed[dir] = true
					s.snapshotsOf[name] = append(s.snapshotsOf[name], snapshotDir{ns: ns.name, key: chain.String(), dir: dir})
				}
			}
		}
	}
	return claimed
}

// upper adds a snapshot's folder as the layer tar it stands for (an
// overlay upper folder), and returns its member ("" when unreadable).
func (s *Store) upper(ctx context.Context, dir, what string) string {
	if _, ok := s.members[dir]; ok {
		return dir
	}
	root, err := s.ev.OpenRoot(dir)
	if err != nil {
		s.problem(dir, integrity.MissingBlob, "%s: its snapshot folder: %v", what, err)
		return dir
	}
	f, problems, err := archive.ListUpper(ctx, root, 0, dir)
	s.problems = append(s.problems, problems...)
	if err != nil {
		root.Close()
		s.problem(dir, integrity.Unreadable, "%s: its snapshot folder: %v", what, err)
		return dir
	}
	s.add(dir, member{upper: f, size: f.Size(), root: root})
	if os.Geteuid() != 0 {
		s.problem(dir, integrity.Degraded, "%s: not run as root, so trusted.* xattrs cannot be read: opaque folders and renames in it are unknown, not absent", what)
	}
	return dir
}

// orphanSnapshots lists the snapshot folders nothing claimed: an image's
// layer whose image was deleted, an unpack that was interrupted
// (extract-*), a folder the snapshotter no longer records. Each is read as
// a layer and scanned: deleted artefacts are evidence.
func (s *Store) orphanSnapshots(ctx context.Context, claimed map[string]bool) {
	byID := map[string]string{}
	for name, b := range s.backend {
		byID[strconv.FormatUint(b.id, 10)] = name
	}
	dir := s.p(overlayDir, "snapshots")
	ids, err := s.readDir(dir)
	if err != nil {
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		fs := path.Join(dir, id, "fs")
		if claimed[fs] {
			continue
		}
		what := "a snapshot no image or container of any namespace refers to"
		switch name, ok := byID[id]; {
		case !ok:
			what = "a snapshot folder the overlayfs snapshotter does not record"
		case strings.Contains(name, "/extract-"):
			what = "an unpack that was interrupted (" + name + ")"
		default:
			what += " (" + name + ")"
		}
		if m := s.upper(ctx, fs, "snapshot "+id); m != "" {
			if mb, ok := s.members[m]; ok {
				s.problems = append(s.problems, integrity.Problem{Blob: m, Kind: integrity.Unreferenced, Content: "layer", Size: mb.size,
					Detail: "snapshot: " + what})
			}
		}
	}
}

// Checked is what reading a layer blob found beyond its bytes: how each
// snapshot unpacked from it differs from it now, whether the blob
// verified or not (a snapshot is compared with the blob's own files).
func (s *Store) Checked(name string, _ bool) []integrity.Problem {
	dirs := s.snapshotsOf[name]
	if len(dirs) == 0 {
		return nil
	}
	s.mu.Lock()
	c, ok := s.checked[name]
	if !ok {
		c = &comparison{}
		s.checked[name] = c
	}
	s.mu.Unlock()
	c.once.Do(func() { c.problems = s.compare(context.Background(), name, dirs) })
	return c.problems
}
