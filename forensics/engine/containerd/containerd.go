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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/engine"
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
		ev.Close()
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

// comparison is one layer's comparison with its snapshots, made once.
type comparison struct {
	once     sync.Once
	problems []integrity.Problem
}

// member is how one member's bytes are had.
type member struct {
	file  string          // a file below ev (a content blob)
	data  []byte          // made here (oci-layout, index.json)
	upper *archive.Folder // a snapshot's folder, as a layer tar
	size  int64
	root  *os.Root // to close
}

// manifestInfo is what strata needs of an image manifest to find its
// snapshots: its layers' blobs and their chain IDs.
type manifestInfo struct {
	layers []digest.Digest
	chains []digest.Digest // "" past a diff_id that is missing
}

// snapshotDir is a committed snapshot's folder, unpacked from a layer.
type snapshotDir struct {
	ns, key string
	dir     string // its fs folder below ev
}

func (s *Store) p(parts ...string) string { return path.Join(append([]string{s.base}, parts...)...) }

// findRoot finds containerd's root below ev.
func (s *Store) findRoot() (string, bool) {
	isRoot := func(p string) bool {
		fi, err := s.ev.Lstat(path.Join(p, metaDBPath))
		return err == nil && fi.Mode().IsRegular()
	}
	if isRoot(".") {
		return ".", true
	}
	var candidates []string
	if data, err := s.custody.ReadFile("etc/containerd/config.toml"); err == nil {
		if r := configRoot(data); r != "" {
			candidates = append(candidates, strings.TrimPrefix(path.Clean("/"+r), "/"))
		}
	}
	candidates = append(candidates, "var/lib/containerd", "var/lib/docker/containerd/daemon", "var/lib/rancher/k3s/agent/containerd")
	for _, c := range candidates {
		if c != "" && isRoot(c) {
			return c, true
		}
	}
	return "", false
}

// rootLine is a top-level `root = "..."` of containerd's config.toml
// (every config version keeps it outside any table).
var rootLine = regexp.MustCompile(`^root\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:#.*)?$`)

// configRoot returns the root a containerd config.toml sets, or "".
func configRoot(data []byte) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			return "" // past the top level
		}
		if m := rootLine.FindStringSubmatch(line); m != nil {
			return m[1] + m[2]
		}
	}
	return ""
}

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
// hashed into the chain of custody as it is copied, in a scratch folder
// removed once it is read.
func (s *Store) readDB(name string) (*boltBucket, error) {
	dir, err := os.MkdirTemp("", "strata-containerd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp := path.Join(dir, path.Base(name))
	if err := s.custody.CopyFile(name, cp, maxBolt); err != nil {
		return nil, err
	}
	db, err := readBolt(cp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(name), err)
	}
	return db, nil
}

// blobs adds every file of the content store as the layout's blob of the
// digest its path names.
func (s *Store) blobs(ctx context.Context) error {
	dir := s.p(contentDir, "blobs")
	algs, err := s.readDir(dir)
	if err != nil {
		s.problem(dir, integrity.MissingBlob, "content store: %v", err)
		return nil
	}
	for _, alg := range algs {
		names, err := s.readDir(path.Join(dir, alg))
		if err != nil {
			s.problem(path.Join(dir, alg), integrity.Unreadable, "content store: %v", err)
			continue
		}
		for _, n := range names {
			if err := ctx.Err(); err != nil {
				return err
			}
			file := path.Join(dir, alg, n)
			fi, err := s.ev.Lstat(file)
			if err != nil || !fi.Mode().IsRegular() {
				s.problem(file, integrity.Inconsistent, "content store: %q is not a regular file", n)
				continue
			}
			if d := digest.NewDigestFromEncoded(digest.Algorithm(alg), n); d.Validate() != nil {
				s.problem(file, integrity.BadDigest, "content store: %q names no %s digest", n, alg)
				continue
			}
			s.add(path.Join("blobs", alg, n), member{file: file, size: fi.Size()})
		}
	}
	return nil
}

// index makes the layout's index.json: one entry for each image of each
// namespace, named as the namespace names it. A name recorded in more
// than one namespace is prefixed with its namespace but in "default".
func (s *Store) index() ocispec.Index {
	count := map[string]int{}
	for _, ns := range s.meta.namespaces {
		for _, im := range ns.images {
			count[im.name]++
		}
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	for _, ns := range s.meta.namespaces {
		for _, im := range ns.images {
			name := im.name
			if count[name] > 1 && ns.name != "default" {
				name = ns.name + "/" + name
			}
			d := im.target
			d.Annotations = map[string]string{ocispec.AnnotationRefName: name, "io.containerd.image.name": name}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	return idx
}

// maxIndexDepth bounds the indexes followed below an image's target.
const maxIndexDepth = 4

// graph reads each image's manifests and configs, to find which snapshot
// each layer was unpacked to and which image each container was made
// from. What cannot be read is left to image.Load, which reads the same
// blobs and says why.
func (s *Store) graph(ctx context.Context, idx ocispec.Index) {
	s.manifest = map[digest.Digest]*manifestInfo{}
	s.targets = map[digest.Digest][]digest.Digest{}
	for _, d := range idx.Manifests {
		if ctx.Err() != nil {
			return
		}
		if _, ok := s.targets[d.Digest]; !ok {
			s.targets[d.Digest] = s.manifests(d.Digest, 0)
		}
	}
}

// manifests returns the image manifests below blob d (itself, or an
// index's), reading each once.
func (s *Store) manifests(d digest.Digest, depth int) []digest.Digest {
	if _, ok := s.manifest[d]; ok {
		return []digest.Digest{d}
	}
	var v struct {
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	data, err := s.blob(d)
	if err != nil || json.Unmarshal(data, &v) != nil {
		return nil
	}
	if v.Config == nil {
		if depth >= maxIndexDepth {
			return nil
		}
		var out []digest.Digest
		for _, m := range v.Manifests {
			if m.Digest.Validate() == nil {
				out = append(out, s.manifests(m.Digest, depth+1)...)
			}
		}
		return out
	}
	info := &manifestInfo{}
	s.manifest[d] = info
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if data, err := s.blob(v.Config.Digest); err == nil {
		_ = json.Unmarshal(data, &cfg) // without diff_ids no snapshot can be found
	}
	var chain digest.Digest
	for i, l := range v.Layers {
		info.layers = append(info.layers, l.Digest)
		switch {
		case i >= len(cfg.RootFS.DiffIDs) || cfg.RootFS.DiffIDs[i].Validate() != nil || (i > 0 && chain == ""):
			chain = ""
		case i == 0:
			chain = cfg.RootFS.DiffIDs[0]
		default:
			// The image-spec's identity.ChainID, which containerd's
			// unpacker keys committed snapshots by.
			chain = digest.FromString(chain.String() + " " + cfg.RootFS.DiffIDs[i].String())
		}
		info.chains = append(info.chains, chain)
	}
	return []digest.Digest{d}
}

// blob reads a content blob whole (a manifest, a config), into custody.
func (s *Store) blob(d digest.Digest) ([]byte, error) {
	if d.Validate() != nil {
		return nil, fmt.Errorf("%q: not a digest", d)
	}
	return s.custody.ReadFile(s.p(contentDir, "blobs", d.Algorithm().String(), d.Encoded()))
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
					if chain == "" {
						continue
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

// containers adds each container of each namespace as its image with its
// writable layer, the active snapshot named by its snapshot key.
func (s *Store) containers(ctx context.Context, claimed map[string]bool) {
	for _, ns := range s.meta.namespaces {
		known := map[string]bool{}
		for _, c := range ns.containers {
			if ctx.Err() != nil {
				return
			}
			known[c.snapshotKey] = true
			ctr := &image.Container{ID: c.id, Name: displayName(c.id, c.labels), Image: c.image,
				Command: command(c.spec), Engine: "containerd (" + ns.name + ")"}
			if !c.created.IsZero() {
				created := c.created
				ctr.Created = &created
			}
			s.container(ctx, ns, ctr, c.snapshotter, c.snapshotKey, c.image, claimed)
		}
		if ns.name == "moby" {
			s.mobyContainers(ctx, ns, known, claimed)
		}
	}
}

// displayName is the name a container's labels give it: nerdctl's, or
// Kubernetes' pod and container names; else its ID.
func displayName(id string, labels map[string]string) string {
	if n := labels["nerdctl/name"]; n != "" {
		return n
	}
	pod, ctr := labels["io.kubernetes.pod.name"], labels["io.kubernetes.container.name"]
	switch {
	case pod != "" && ctr != "":
		return pod + "/" + ctr
	case pod != "":
		return pod
	}
	return id
}

// container adds container ctr of namespace ns, whose writable layer is
// the snapshot key of snapshotter sn, made from the image named imageName.
func (s *Store) container(ctx context.Context, ns *namespace, ctr *image.Container, sn, key, imageName string, claimed map[string]bool) {
	if sn == "" {
		sn = overlayName // containerd's default, and what an empty record meant
	}
	if sn != overlayName {
		s.problem(s.p(metaDBPath), integrity.Degraded, "container %s (%s): snapshotter %s, not read", ctr.Name, ns.name, sn)
		return
	}
	m := s.imageOf(ns, imageName, key)
	if m == "" {
		s.problem(s.p(metaDBPath), integrity.MissingBlob, "container %s (%s): its image %q is not in the store", ctr.Name, ns.name, imageName)
		return
	}
	dir, _, ok := s.snapshot(ns, key)
	var writable string
	if !ok {
		s.problem(s.p(metaDBPath), integrity.Inconsistent, "container %s (%s): its snapshot %q is in no snapshotter record", ctr.Name, ns.name, key)
		writable = s.p(overlayDir, "snapshots", "(missing)", key)
	} else {
		claimed[dir] = true
		writable = s.upper(ctx, dir, "container "+ctr.Name)
	}
	// The snapshots below it are its image's layers, and for Docker its
	// init layer (<id>-init): the container's, not orphans.
	seen := map[string]bool{}
	for k := ns.snapshots[overlayName][key].parent; k != "" && !seen[k]; k = ns.snapshots[overlayName][k].parent {
		seen[k] = true
		if d, _, ok := s.snapshot(ns, k); ok {
			claimed[d] = true
		}
	}
	s.entries = append(s.entries, image.Entry{Manifest: m, Container: ctr, Writable: writable})
}

// imageOf finds the manifest of the image a container was made from: the
// one of its named image (below an index, the platform unpacked) whose
// top snapshot its snapshot was prepared on, else any image's whose is.
func (s *Store) imageOf(ns *namespace, imageName, key string) digest.Digest {
	parents := map[string]bool{}
	for k, i := ns.snapshots[overlayName][key].parent, 0; k != "" && i < 16 && !parents[k]; i++ {
		parents[k] = true
		k = ns.snapshots[overlayName][k].parent
	}
	top := func(m digest.Digest) bool {
		info := s.manifest[m]
		return info != nil && len(info.chains) > 0 && parents[info.chains[len(info.chains)-1].String()]
	}
	var named []digest.Digest
	for _, im := range ns.images {
		if im.name == imageName {
			named = s.targets[im.target.Digest]
		}
	}
	for _, m := range named {
		if top(m) {
			return m
		}
	}
	ms := make([]digest.Digest, 0, len(s.manifest))
	for m := range s.manifest {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
	for _, m := range ms {
		if top(m) {
			return m
		}
	}
	if len(named) == 1 {
		return named[0]
	}
	return ""
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

// mobyContainers adds Docker 29's containers (namespace moby): dockerd
// keeps a containerd container record only while one runs, so each is
// found by its writable layer, the active snapshot keyed by its ID
// (daemon/containerd/image_snapshot.go), and named by Docker's own
// containers/<id>/config.v2.json where the evidence root holds it.
func (s *Store) mobyContainers(ctx context.Context, ns *namespace, known, claimed map[string]bool) {
	for _, key := range sortedKeys(ns.snapshots[overlayName]) {
		if ctx.Err() != nil {
			return
		}
		if known[key] || !isID(key) {
			continue
		}
		if _, b, ok := s.snapshot(ns, key); !ok || b.kind != kindActive {
			continue
		}
		ctr := &image.Container{ID: key, Engine: "containerd (moby)"}
		imageName := s.dockerConfig(ctr)
		s.container(ctx, ns, ctr, overlayName, key, imageName, claimed)
	}
}

// dockerConfig fills ctr from Docker's config.v2.json, if found below the
// evidence root, and returns the image name it records.
func (s *Store) dockerConfig(ctr *image.Container) string {
	roots := []string{"var/lib/docker"}
	if data, err := s.custody.ReadFile("etc/docker/daemon.json"); err == nil {
		var cfg struct {
			DataRoot string `json:"data-root"`
		}
		if json.Unmarshal(data, &cfg) == nil && cfg.DataRoot != "" {
			roots = append([]string{strings.TrimPrefix(path.Clean("/"+cfg.DataRoot), "/")}, roots...)
		}
	}
	for _, r := range roots {
		name := path.Join(r, "containers", ctr.ID, "config.v2.json")
		data, err := s.custody.ReadFile(name)
		if err != nil {
			continue
		}
		var c struct {
			Name    string
			Created time.Time
			Path    string
			Args    []string
			Config  struct{ Image string }
		}
		if err := json.Unmarshal(data, &c); err != nil {
			s.problem(name, integrity.BadJSON, "container %s: %v", ctr.ID[:12], err)
			return ""
		}
		ctr.Name, ctr.Image, ctr.Engine = strings.TrimPrefix(c.Name, "/"), c.Config.Image, "docker (containerd store)"
		if c.Path != "" {
			ctr.Command = append([]string{c.Path}, c.Args...)
		}
		if !c.Created.IsZero() {
			ctr.Created = &c.Created
		}
		return c.Config.Image
	}
	return ""
}

// isID reports whether id is 64 lowercase hex digits (a Docker ID).
func isID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
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

// ingests lists the content store's interrupted downloads
// (ingest/<sha256 of ref>/{data,ref,total}, plugins/content/local).
func (s *Store) ingests() {
	dir := s.p(contentDir, "ingest")
	names, err := s.readDir(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		p := path.Join(dir, n)
		ref, _ := s.custody.ReadFile(path.Join(p, "ref"))
		total, _ := s.custody.ReadFile(path.Join(p, "total"))
		var size int64
		if fi, err := s.ev.Lstat(path.Join(p, "data")); err == nil {
			size = fi.Size()
		}
		detail := fmt.Sprintf("content store: a download that never finished (%s): %d bytes", strings.TrimSpace(string(ref)), size)
		if t := strings.TrimSpace(string(total)); t != "" {
			detail += " of " + t
		}
		s.problems = append(s.problems, integrity.Problem{Blob: p, Kind: integrity.Unreferenced, Content: "interrupted ingest", Size: size, Detail: detail})
	}
}

func (s *Store) readDir(dir string) ([]string, error) {
	f, err := s.ev.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func (s *Store) add(name string, m member) {
	if _, ok := s.members[name]; !ok {
		s.order = append(s.order, name)
	}
	s.members[name] = m
}

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

// Members lists the layout (oci-layout, index.json, blobs) and the
// snapshot folders read as layers.
func (s *Store) Members() []archive.Member {
	out := make([]archive.Member, 0, len(s.order))
	for _, n := range s.order {
		m := s.members[n]
		size := m.size
		if m.data != nil {
			size = int64(len(m.data))
		}
		out = append(out, archive.Member{Name: n, Size: size})
	}
	return out
}

// Open reads a member: a blob as it is stored, a snapshot folder as the
// layer tar it stands for.
func (s *Store) Open(name string) (io.ReadCloser, error) {
	m, ok := s.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, archive.ErrNotExist)
	}
	switch {
	case m.data != nil:
		return io.NopCloser(bytes.NewReader(m.data)), nil
	case m.upper != nil:
		return m.upper.Open(), nil
	}
	return archive.OpenRegular(s.ev, m.file)
}

// Checked is what reading a layer blob found beyond its bytes: how each
// snapshot unpacked from it differs from it now.
func (s *Store) Checked(name string) []integrity.Problem {
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

// Close releases the store.
func (s *Store) Close() error {
	for _, m := range s.members {
		if m.root != nil {
			m.root.Close()
		}
	}
	return s.ev.Close()
}

var (
	_ archive.Store         = (*Store)(nil)
	_ archive.MemberChecker = (*Store)(nil)
	_ image.Catalog         = (*Store)(nil)
)
