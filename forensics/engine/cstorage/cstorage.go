// Package cstorage reads containers/storage (the storage of podman,
// buildah and CRI-O, rootful or rootless) from a mounted disk, with no
// engine: images from overlay-images/images.json with their configs (big
// data items), layers from overlay-layers/layers.json each rebuilt from its
// tar-split and diff folder, containers from
// overlay-containers/containers.json and volatile-containers.json with
// their writable layers, and their commands from podman's state database
// (podman.go) or, for CRI-O's, named as Kubernetes names them, from the
// OCI spec CRI-O saved (crio.go). Paths and records follow
// containers/storage's source (store.go, images.go, layers.go,
// containers.go, drivers/overlay), podman's (libpod) and CRI-O's.
package cstorage

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the Format of an archive opened from containers/storage.
const Format archive.Format = "containers-storage"

// kind is how strata finds and reads containers/storage.
var kind = engine.Kind{
	Format: Format,
	Find:   func(s *engine.Store) (string, bool) { return (&Store{Store: s}).graphRoot() },
	Load: func(ctx context.Context, s *engine.Store, base string) error {
		cs := &Store{Store: s, base: base, rootless: strings.Contains("/"+base+"/", "/.local/share/")}
		return cs.load(ctx)
	},
}

// Open returns the containers/storage graph root found in the folder root:
// the graph root itself, or below an evidence root at the graphroot its
// own /etc/containers/storage.conf names, else at the root its own CRI-O
// configuration names (/etc/crio/crio.conf and crio.conf.d), else
// /var/lib/containers/storage, else a user's rootless storage
// (home/*/.local/share/containers/storage); a note names each other one
// found. It returns nil when there is none.
func Open(ctx context.Context, root string) (archive.Store, error) { return kind.Open(ctx, root) }

// Is reports whether the folder root holds containers/storage, as Open
// would find it, reading no more than that takes.
func Is(root string) bool { return kind.Is(root) }

// Store is a containers/storage graph root with the overlay driver.
type Store struct {
	*engine.Store
	base     string // the graph root below the evidence root
	rootless bool   // a user's storage: its files are owned by the user's subordinate IDs
	said     bool   // the note that owners are not compared is made
	// override is how its layers' files record the mode and owner meant
	// for them (force_mask).
	override *engine.StatOverride
}

func (s *Store) p(parts ...string) string { return path.Join(append([]string{s.base}, parts...)...) }

func (s *Store) graphRoot() (string, bool) {
	if s.isRoot(".") {
		return ".", true
	}
	if rs := s.roots(); len(rs) > 0 {
		return rs[0].path, true
	}
	return "", false
}

func (s *Store) isRoot(p string) bool {
	fi, err := s.Ev.Lstat(path.Join(p, "overlay-layers", "layers.json"))
	return err == nil && fi.Mode().IsRegular()
}

// foundRoot is a graph root found below the evidence root, and what
// names it.
type foundRoot struct{ path, why string }

// roots lists the graph roots below the evidence root, the one Open
// reads first: the graphroot of the evidence's own
// /etc/containers/storage.conf (podman's and CRI-O's, rootful), CRI-O's
// root where its own configuration moves it (crioRoot), the default
// /var/lib/containers/storage, and each user's rootless storage.
func (s *Store) roots() []foundRoot {
	var candidates []foundRoot
	if data, err := s.Custody.ReadFile("etc/containers/storage.conf"); err == nil {
		if g := graphrootOf(string(data)); g != "" {
			candidates = append(candidates, foundRoot{g, "the graphroot of /etc/containers/storage.conf"})
		}
	}
	if r, from := s.crioRoot(); r != "" {
		candidates = append(candidates, foundRoot{r, "CRI-O's root, set in /" + from})
	}
	candidates = append(candidates, foundRoot{"var/lib/containers/storage", "the default"})
	if homes, err := fs.Glob(s.Ev.FS(), "home/*/.local/share/containers/storage"); err == nil {
		for _, h := range homes {
			candidates = append(candidates, foundRoot{h, "a user's rootless storage"})
		}
	}
	var out []foundRoot
	seen := map[string]bool{}
	for _, c := range candidates {
		c.path = strings.TrimPrefix(path.Clean("/"+c.path), "/")
		if c.path == "" || seen[c.path] {
			continue
		}
		seen[c.path] = true
		if s.isRoot(c.path) {
			out = append(out, c)
		}
	}
	return out
}

// otherRoots notes the graph roots below the evidence root besides the
// one read: CRI-O's beside podman's, a user's rootless storage beside
// root's. Each is read when its folder is given.
func (s *Store) otherRoots() {
	if s.base == "." {
		return
	}
	for _, r := range s.roots() {
		if r.path != s.base {
			s.Problem(r.path, integrity.Degraded, "another containers/storage graph root (%s) is not read with %s: give its folder to read its images and containers", r.why, s.base)
		}
	}
}

// imageRecord is what strata reads of images.json.
type imageRecord struct {
	ID             string                   `json:"id"`
	Digest         digest.Digest            `json:"digest"`
	Names          []string                 `json:"names"`
	Layer          string                   `json:"layer"`
	BigDataNames   []string                 `json:"big-data-names"`
	BigDataDigests map[string]digest.Digest `json:"big-data-digests"`
}

// layerRecord is what strata reads of layers.json.
type layerRecord struct {
	ID         string         `json:"id"`
	Parent     string         `json:"parent"`
	DiffDigest digest.Digest  `json:"diff-digest"`
	TOCDigest  digest.Digest  `json:"toc-digest"`
	UIDMap     []any          `json:"uidmap"`
	GIDMap     []any          `json:"gidmap"`
	Flags      map[string]any `json:"flags"`
}

// containerRecord is what strata reads of containers.json and
// volatile-containers.json.
type containerRecord struct {
	ID       string    `json:"id"`
	Names    []string  `json:"names"`
	Image    string    `json:"image"`
	Layer    string    `json:"layer"`
	Metadata string    `json:"metadata"`
	Created  time.Time `json:"created"`

	from string // the file it was read from
}

// Where containers/storage keeps its containers (containers.go
// newContainerStore): containers.json, and since containers/storage 1.45
// volatile-containers.json for those created volatile (podman run --rm,
// and every container CRI-O creates: internal/storage/runtime.go), which
// is written without fsync. With transient_store it lies in the run root
// instead, lost at power-off.
var containerFiles = []string{"containers.json", "volatile-containers.json"}

func (s *Store) load(ctx context.Context) error {
	s.otherRoots()
	s.override = s.statOverride()
	layers := map[string]layerRecord{}
	var lrs []layerRecord
	if s.readJSON(s.p("overlay-layers", "layers.json"), &lrs) {
		for _, l := range lrs {
			layers[l.ID] = l
		}
	}
	var vrs []layerRecord // written without fsync: may be what the last write left
	if s.readVolatile(s.p("overlay-layers", "volatile-layers.json"), "layers", &vrs) {
		for _, l := range vrs {
			layers[l.ID] = l
		}
	}
	var imgs []imageRecord
	if !s.readJSON(s.p("overlay-images", "images.json"), &imgs) {
		return nil
	}
	reached := map[string]bool{}
	byID := map[string]image.Entry{}
	for _, im := range imgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, ok := s.image(im, layers, reached)
		if ok {
			s.AddEntry(e)
			byID[im.ID] = e
		}
	}
	s.containers(ctx, byID, reached)
	s.orphans(layers, reached)
	return nil
}

// readJSON reads a JSON record file into v, and records why it cannot.
func (s *Store) readJSON(name string, v any) bool {
	data, err := s.Custody.ReadFile(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.Problem(name, integrity.Unreadable, "%v", err)
		}
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		s.Problem(name, integrity.BadJSON, "%v", err)
		return false
	}
	return true
}

// readVolatile reads a record file containers/storage writes without
// fsync, if there is one. Empty, it is what a host that lost power
// leaves of it (containers/storage reads it as no records): a note says
// the records it held are unknown.
func (s *Store) readVolatile(name, what string, v any) bool {
	fi, err := s.Ev.Lstat(name)
	if err != nil {
		return false
	}
	if fi.Mode().IsRegular() && fi.Size() == 0 {
		s.Custody.HashFile(name)
		s.Problem(name, integrity.Degraded, "%s is empty (containers/storage writes it without fsync: a host that lost power leaves it so): the %s it recorded are unknown", path.Base(name), what)
		return false
	}
	return s.readJSON(name, v)
}

// bigDataName is the file an image's big data item key is kept in
// (store.go makeBigDataBaseName): the key itself when it is made of
// [0-9a-z.] only, else "=" and its base64.
func bigDataName(key string) string {
	for _, c := range key {
		if c != '.' && !('0' <= c && c <= '9') && !('a' <= c && c <= 'z') {
			return "=" + base64.StdEncoding.EncodeToString([]byte(key))
		}
	}
	return key
}

// image describes one image of images.json: its config (the big data
// item named after the config's digest, which is the image's ID) and its
// layers, walked down from its top layer by parent.
func (s *Store) image(im imageRecord, layers map[string]layerRecord, reached map[string]bool) (image.Entry, bool) {
	if !engine.IsHex64(im.ID) {
		s.Problem(s.p("overlay-images", "images.json"), integrity.Inconsistent, "image %q: not an image ID", im.ID)
		return image.Entry{}, false
	}
	id := digest.NewDigestFromEncoded(digest.SHA256, im.ID)
	key := id.String()
	if d, ok := im.BigDataDigests[key]; !ok || d != id {
		// An image pulled by TOC (zstd:chunked) has an ID that is no
		// config digest (storage_dest.go computeID): its config is the
		// one big data item named after a digest.
		for _, n := range im.BigDataNames {
			if strings.HasPrefix(n, "sha256:") && im.BigDataDigests[n] != "" {
				key, id = n, im.BigDataDigests[n]
				break
			}
		}
	}
	cfg := s.p("overlay-images", im.ID, bigDataName(key))
	data, err := s.Custody.ReadFile(cfg)
	if err != nil {
		s.Problem(cfg, integrity.MissingBlob, "image %s: its config: %v", im.ID[:12], err)
		return image.Entry{}, false
	}
	s.AddFile(cfg, int64(len(data)))
	var chain []string
	for l, n := im.Layer, 0; l != ""; n++ {
		rec, ok := layers[l]
		if !ok || n > 4096 {
			s.Problem(s.p("overlay-layers", "layers.json"), integrity.MissingBlob, "image %s: layer %s is not recorded", im.ID[:12], l)
			chain = append(chain, "")
			break
		}
		chain = append(chain, s.layer(rec, reached))
		l = rec.Parent
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return image.Entry{Names: im.Names, Config: cfg, ConfigDigest: id, Layers: chain}, true
}

// layer adds layer rec, rebuilt from its tar-split and diff folder, and
// returns its member ("" when it cannot be read). Its ID is checked
// against the formula containers/image names layers by:
// storage_dest.go: the base's diff_id hex, then sha256(parent + "+" +
// diff_id hex).
func (s *Store) layer(rec layerRecord, reached map[string]bool) string {
	name := s.p("overlay-layers", rec.ID)
	if reached[name] {
		if s.Has(name) {
			return name
		}
		return ""
	}
	reached[name] = true
	if !engine.IsHex64(rec.ID) {
		s.Problem(name, integrity.Inconsistent, "layer %q: not a layer ID", rec.ID)
		return ""
	}
	if rec.DiffDigest == "" && rec.TOCDigest != "" {
		s.Problem(name, integrity.Degraded, "layer %s: pulled by TOC (zstd:chunked), no diff_id recorded: its content can be checked against the image's config only", rec.ID[:12])
	}
	switch {
	case rec.DiffDigest == "":
	case blob.Validate(rec.DiffDigest) != nil:
		s.Problem(name, integrity.Inconsistent, "layer %s: diff-digest %q is no digest", rec.ID[:12], rec.DiffDigest)
	case layerID(rec.Parent, rec.DiffDigest) != rec.ID:
		want := layerID(rec.Parent, rec.DiffDigest)
		s.Problem(name, integrity.Inconsistent, "layer %s: its ID does not follow from its parent and diff_id (%s expected)", rec.ID[:12], want[:12])
	}
	diff, err := s.Ev.OpenRoot(s.p("overlay", rec.ID, "diff"))
	if err != nil {
		s.Problem(name, integrity.MissingBlob, "layer %s: its folder: %v", rec.ID[:12], err)
		return ""
	}
	ts := s.p("overlay-layers", rec.ID+".tar-split.gz")
	if err := s.Custody.HashFile(ts); err != nil {
		diff.Close()
		s.Problem(name, integrity.MissingBlob, "layer %s: no tar-split to rebuild it from (%v)", rec.ID[:12], err)
		return ""
	}
	sp := &engine.Split{Name: name, Diff: diff, Open: func() (io.ReadCloser, error) { return archive.OpenRegular(s.Ev, ts) },
		Override: s.override}
	if s.rootless || len(rec.UIDMap) > 0 || len(rec.GIDMap) > 0 {
		// The files on disk are owned by IDs mapped through ranges (a
		// rootless user's subordinate IDs, a user namespace), which the
		// tar's owners cannot be compared with one shift.
		sp.OwnerShift = -1
		if !s.said {
			s.said = true
			s.Problem(s.p("overlay-layers", "layers.json"), integrity.Degraded,
				"the layers' files are owned by mapped IDs (rootless storage or a user namespace): their owners are not compared with what the layers recorded")
		}
	}
	if !s.AddSplit(sp, diff) {
		return ""
	}
	return name
}

func layerID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// containers adds each container of containers.json and
// volatile-containers.json as its image with its writable layer (its own
// layer's diff folder, an overlay upper). A container CRI-O made is named
// as Kubernetes names it (crio.go).
func (s *Store) containers(ctx context.Context, images map[string]image.Entry, reached map[string]bool) {
	var cs []containerRecord
	seen := map[string]bool{}
	for _, f := range containerFiles {
		name := s.p("overlay-containers", f)
		var recs []containerRecord
		switch {
		case f == "containers.json":
			if _, err := s.Ev.Lstat(name); err != nil || !s.readJSON(name, &recs) {
				continue
			}
		case !s.readVolatile(name, "containers", &recs):
			continue
		}
		for _, c := range recs {
			// containers/storage reads a container of both files once,
			// as containers.json has it.
			if !seen[c.ID] {
				seen[c.ID] = true
				c.from = name
				cs = append(cs, c)
			}
		}
	}
	if len(cs) == 0 {
		return
	}
	metas := make([]containerMeta, len(cs))
	pods := map[string]*containerMeta{}
	for i, c := range cs {
		json.Unmarshal([]byte(c.Metadata), &metas[i])
		if m := &metas[i]; m.isCRIO() && m.Pod {
			pods[m.PodID] = m
		}
	}
	state := s.podmanState()
	for i, c := range cs {
		if ctx.Err() != nil {
			return
		}
		meta := metas[i]
		display, engineName := meta.Name, "containers/storage"
		if meta.isCRIO() {
			display, engineName = meta.kubeName(pods), "cri-o"
			if meta.Pod {
				engineName = "cri-o (pod infra container)"
			}
		}
		if display == "" && len(c.Names) > 0 {
			display = c.Names[0]
		}
		var command []string
		var created time.Time
		var imageName string
		if meta.isCRIO() {
			command = s.crioCommand(c, display)
		} else {
			command, created, imageName = s.command(state, c, display)
		}
		ctr := &image.Container{ID: c.ID, Name: display, Image: cmp.Or(meta.ImageName, imageName, c.Image), Command: command, Engine: engineName}
		switch {
		case !c.Created.IsZero():
			created = c.Created
		case created.IsZero() && meta.CreatedAt > 0:
			created = time.Unix(meta.CreatedAt, 0).UTC()
		}
		if !created.IsZero() {
			ctr.Created = &created
		}
		img, ok := images[c.Image]
		if !ok {
			s.Problem(c.from, integrity.MissingBlob, "container %s: its image %s is not in the store", display, c.Image)
			continue
		}
		rw := ""
		if engine.IsHex64(c.Layer) {
			reached[s.p("overlay-layers", c.Layer)] = true
			rw = s.AddUpper(ctx, s.p("overlay", c.Layer, "diff"), display)
		} else {
			s.Problem(c.from, integrity.Inconsistent, "container %s: layer %q names no writable layer", display, c.Layer)
		}
		s.AddEntry(image.Entry{Config: img.Config, ConfigDigest: img.ConfigDigest, Layers: img.Layers, Container: ctr, Writable: rw})
	}
}

// orphans lists the layers no image or container reached, scanned as
// unreferenced layers: deleted artefacts are evidence. A layer written
// half (flags.incomplete) says so.
func (s *Store) orphans(layers map[string]layerRecord, reached map[string]bool) {
	ids := make([]string, 0, len(layers))
	for id := range layers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec := layers[id]
		name := s.p("overlay-layers", rec.ID)
		if reached[name] {
			continue
		}
		what := "a layer no image or container refers to"
		if inc, _ := rec.Flags["incomplete"].(bool); inc {
			what = "a layer whose writing never completed (flags.incomplete)"
		}
		if s.layer(rec, reached) != "" {
			s.Record(integrity.Problem{Blob: name, Kind: integrity.Unreferenced, Content: "layer", Size: s.Size(name), Detail: "layers.json: " + what})
		}
	}
}
