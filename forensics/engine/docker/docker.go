// Package docker reads Docker's classic image store (the overlay2 graph
// driver) from a mounted disk, with no daemon: images from
// image/overlay2/imagedb and layerdb, each layer rebuilt from its
// tar-split and diff folder, and containers with their writable layers.
// Paths and records follow moby's own source (daemon/internal/image,
// daemon/internal/layer, daemon/graphdriver/overlay2, daemon/container).
package docker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the Format of an archive opened from Docker's storage.
const Format archive.Format = "docker-overlay2"

// kind is how strata finds and reads Docker's classic store.
var kind = engine.Kind{
	Format: Format,
	Find:   func(s *engine.Store) (string, bool) { return (&Store{Store: s}).dataRoot() },
	Load: func(ctx context.Context, s *engine.Store, base string) error {
		return (&Store{Store: s, base: base}).load(ctx)
	},
}

// Open returns Docker's classic store found in the folder root: the data
// root itself, or below an evidence root at the data-root its own
// /etc/docker/daemon.json names, else /var/lib/docker. It returns nil when
// there is none.
func Open(ctx context.Context, root string) (archive.Store, error) { return kind.Open(ctx, root) }

// Is reports whether the folder root holds Docker's classic store, as
// Open would find it, reading no more than that takes.
func Is(root string) bool { return kind.Is(root) }

// Store is Docker's classic store.
type Store struct {
	*engine.Store
	base string // the data root below the evidence root ("." when it is the data root)
}

func (s *Store) p(parts ...string) string { return path.Join(append([]string{s.base}, parts...)...) }

// dataRoot finds the data root below ev.
func (s *Store) dataRoot() (string, bool) {
	if isDataRoot(s.Ev, ".") {
		return ".", true
	}
	for _, c := range DataRoots(s.Custody) {
		if isDataRoot(s.Ev, c) {
			return c, true
		}
	}
	return "", false
}

// isDataRoot reports whether the folder p below ev is a data root of
// Docker's classic store.
func isDataRoot(ev *os.Root, p string) bool {
	fi, err := ev.Lstat(path.Join(p, "image", "overlay2", "imagedb"))
	return err == nil && fi.IsDir()
}

// DataRoots are where Docker's data root may be below an evidence root,
// in dockerd's order: the data-root the evidence's own
// /etc/docker/daemon.json names, its graph (before Docker 17.05), then
// the default /var/lib/docker. The configuration read is recorded in c.
func DataRoots(c *engine.Custody) []string {
	var roots []string
	if data, err := c.ReadFile("etc/docker/daemon.json"); err == nil {
		var cfg struct {
			DataRoot string `json:"data-root"`
			Graph    string `json:"graph"` // before Docker 17.05
		}
		if json.Unmarshal(data, &cfg) == nil {
			for _, d := range []string{cfg.DataRoot, cfg.Graph} {
				if d != "" {
					roots = append(roots, strings.TrimPrefix(path.Clean("/"+d), "/"))
				}
			}
		}
	}
	return append(roots, "var/lib/docker")
}

// config is what strata needs of an image config to find its layers.
type config struct {
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// img is one image of imagedb.
type img struct {
	id     digest.Digest
	config string // its member
	layers []string
}

func (s *Store) load(ctx context.Context) error {
	names := s.repositories()
	dir := s.p("image", "overlay2", "imagedb", "content", "sha256")
	ids, err := s.readDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	reached := map[string]bool{}
	images := map[digest.Digest]*img{}
	for _, hex := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := digest.NewDigestFromEncoded(digest.SHA256, hex)
		if blob.Validate(id) != nil {
			s.Problem(path.Join(dir, hex), integrity.Inconsistent, "imagedb: %q is not an image ID", hex)
			continue
		}
		name := path.Join(dir, hex)
		data, err := s.Custody.ReadFile(name)
		if err != nil {
			s.Problem(name, integrity.Unreadable, "image config: %v", err)
			continue
		}
		s.AddFile(name, int64(len(data)))
		var cfg config
		if err := json.Unmarshal(data, &cfg); err != nil {
			// image.Load reads it again and says so; the layers cannot
			// be found without it.
			continue
		}
		im := &img{id: id, config: name}
		images[id] = im
		im.layers = s.chain(ctx, cfg.RootFS.DiffIDs, reached)
		s.AddEntry(image.Entry{Names: names[id], Config: name, ConfigDigest: id, Layers: im.layers})
	}
	s.containers(ctx, images)
	s.orphanLayers(ctx, reached)
	return nil
}

// repositories reads repositories.json: image ID -> references (trusted
// only: nothing signs them, and the classic store keeps no manifest).
func (s *Store) repositories() map[digest.Digest][]string {
	name := s.p("image", "overlay2", "repositories.json")
	data, err := s.Custody.ReadFile(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.Problem(name, integrity.Unreadable, "repositories: %v", err)
		}
		return nil
	}
	var repos struct {
		Repositories map[string]map[string]digest.Digest
	}
	if err := json.Unmarshal(data, &repos); err != nil {
		s.Problem(name, integrity.BadJSON, "repositories: %v", err)
		return nil
	}
	out := map[digest.Digest][]string{}
	for _, refs := range repos.Repositories {
		for ref, id := range refs {
			out[id] = append(out[id], ref)
		}
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

// chain finds the layerdb folder of each diff_id by chain ID (the
// image-spec's identity.ChainID, which moby names them by), checks its
// records, and adds each layer as a member; "" for a layer not found.
func (s *Store) chain(ctx context.Context, diffIDs []digest.Digest, reached map[string]bool) []string {
	var out []string
	var chainID digest.Digest
	for i, d := range diffIDs {
		if blob.Validate(d) != nil {
			out = append(out, "")
			chainID = ""
			continue
		}
		parent := chainID
		if i == 0 {
			chainID = d
		} else if parent != "" {
			chainID = digest.FromString(parent.String() + " " + d.String())
		}
		if chainID == "" {
			out = append(out, "")
			continue
		}
		dir := s.p("image", "overlay2", "layerdb", "sha256", chainID.Encoded())
		if !reached[dir] {
			reached[dir] = true
			if !s.Has(dir) {
				s.layer(ctx, dir, d, parent)
			}
		}
		if s.Has(dir) {
			out = append(out, dir)
		} else {
			out = append(out, "")
		}
	}
	return out
}

// layer adds the layer recorded in layerdb folder dir, whose diff_id and
// parent chain ID the image's config gives (want "" for an orphan).
func (s *Store) layer(ctx context.Context, dir string, want, parent digest.Digest) {
	if _, err := s.Ev.Lstat(dir); err != nil {
		s.Problem(dir, integrity.MissingBlob, "layer %s: no layerdb record (%v)", want, err)
		return
	}
	read := func(f string) string {
		data, err := s.Custody.ReadFile(path.Join(dir, f))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(data))
	}
	if got := read("diff"); want != "" && got != want.String() {
		s.Problem(dir, integrity.Inconsistent, "layerdb: diff says %q, the image's config %s", got, want)
	}
	if got := read("parent"); want != "" && got != parent.String() {
		s.Problem(dir, integrity.Inconsistent, "layerdb: parent says %q, the image's config gives %q", got, parent)
	}
	cacheID := read("cache-id")
	if !engine.IsHex64(cacheID) {
		s.Problem(dir, integrity.Inconsistent, "layerdb: cache-id %q names no layer folder", cacheID)
		return
	}
	diffDir := s.p("overlay2", cacheID, "diff")
	diff, err := s.Ev.OpenRoot(diffDir)
	if err != nil {
		s.Problem(dir, integrity.MissingBlob, "layer %s: its folder %s: %v", want, diffDir, err)
		return
	}
	ts := path.Join(dir, "tar-split.json.gz")
	if err := s.Custody.HashFile(ts); err != nil {
		diff.Close()
		s.Problem(dir, integrity.MissingBlob, "layer %s: no tar-split to rebuild it from (%v)", want, err)
		return
	}
	s.AddSplit(&engine.Split{Name: dir, Diff: diff, Open: func() (io.ReadCloser, error) { return archive.OpenRegular(s.Ev, ts) }}, diff)
}

// containerConfig is what strata reads of config.v2.json.
type containerConfig struct {
	ID      string
	Name    string
	Created time.Time
	Path    string
	Args    []string
	Image   digest.Digest
	Driver  string
	State   struct {
		Running    bool
		Paused     bool
		Restarting bool
		Dead       bool
		ExitCode   int
		FinishedAt time.Time
		StartedAt  time.Time
	}
	Config struct {
		Image string
	}
}

func (c *containerConfig) state() string {
	switch {
	case c.State.Running && c.State.Paused:
		return "paused"
	case c.State.Restarting:
		return "restarting"
	case c.State.Running:
		return "running"
	case c.State.Dead:
		return "dead"
	case c.State.StartedAt.IsZero() || c.State.StartedAt.Year() <= 1:
		return "created"
	}
	return fmt.Sprintf("exited (%d)", c.State.ExitCode)
}

// containers adds each container as its image with its writable layer.
func (s *Store) containers(ctx context.Context, images map[digest.Digest]*img) {
	dir := s.p("containers")
	ids, err := s.readDir(dir)
	if err != nil {
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if !engine.IsHex64(id) {
			continue
		}
		name := path.Join(dir, id, "config.v2.json")
		data, err := s.Custody.ReadFile(name)
		if err != nil {
			s.Problem(name, integrity.Unreadable, "container %s: %v", id[:12], err)
			continue
		}
		var c containerConfig
		if err := json.Unmarshal(data, &c); err != nil {
			s.Problem(name, integrity.BadJSON, "container %s: %v", id[:12], err)
			continue
		}
		if c.Driver != "" && c.Driver != "overlay2" {
			s.Problem(name, integrity.Degraded, "container %s: graph driver %s, not read", id[:12], c.Driver)
			continue
		}
		created := c.Created
		ctr := &image.Container{ID: id, Name: strings.TrimPrefix(c.Name, "/"), Image: cmp.Or(c.Config.Image, c.Image.String()),
			Command: append([]string{c.Path}, c.Args...), State: c.state(), Engine: "docker"}
		if !created.IsZero() {
			ctr.Created = &created
		}
		im := images[c.Image]
		if im == nil {
			s.Problem(name, integrity.MissingBlob, "container %s: its image %s is not in the store", ctr.Name, c.Image)
			continue
		}
		e := image.Entry{Config: im.config, ConfigDigest: im.id, Layers: im.layers, Container: ctr, Writable: s.upper(ctx, id, ctr.Name)}
		s.AddEntry(e)
	}
}

// upper adds container id's writable layer, its overlay upper folder, and
// returns its member ("" when it is not there).
func (s *Store) upper(ctx context.Context, id, name string) string {
	mountID, err := s.Custody.ReadFile(s.p("image", "overlay2", "layerdb", "mounts", id, "mount-id"))
	m := strings.TrimSpace(string(mountID))
	if err != nil || !engine.IsHex64(m) {
		s.Problem(s.p("image", "overlay2", "layerdb", "mounts", id), integrity.Inconsistent,
			"container %s: no mount-id names its writable layer (%v)", name, err)
		return ""
	}
	s.checkInit(s.p("overlay2", m+"-init", "diff"), name)
	return s.AddUpper(ctx, s.p("overlay2", m, "diff"), name)
}

// initLayer is what Docker writes into a container's -init layer
// (daemon/initlayer/setup_unix.go): empty stubs for the files it mounts
// over, and the folders they lie in.
var initLayer = map[string]bool{
	"/.dockerenv": true, "/dev": true, "/dev/console": true, "/dev/pts": true, "/dev/shm": true,
	"/etc": true, "/etc/hostname": true, "/etc/hosts": true, "/etc/mtab": true, "/etc/resolv.conf": true,
	"/proc": true, "/sys": true,
}

// checkInit compares a container's -init layer with what Docker writes
// into it: anything else there is drift, for the container sees it as it
// sees its image. A stub with bytes in it is too (the daemon writes the
// real files elsewhere, in the container's folder, and mounts them).
func (s *Store) checkInit(dir, name string) {
	root, err := s.Ev.OpenRoot(dir)
	if err != nil {
		return // a container made by another Docker, or removed: nothing to compare
	}
	defer root.Close()
	n := 0
	fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return nil
		}
		what := ""
		switch fi, ierr := d.Info(); {
		case !initLayer["/"+p]:
			what = "planted: /" + p + " is not what Docker writes into an -init layer"
		case ierr == nil && fi.Mode().IsRegular() && fi.Size() > 0:
			what = fmt.Sprintf("changed: /%s holds %d bytes; Docker writes it empty", p, fi.Size())
		}
		if what != "" {
			if n++; n <= 8 {
				s.Problem(dir, integrity.Drift, "container %s: -init layer: drift: %s", name, what)
			}
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if n > 8 {
		s.Problem(dir, integrity.Drift, "container %s: -init layer: drift: %d more differences not listed", name, n-8)
	}
}

// orphanLayers lists the layerdb folders no image reached: layers left by
// an image deleted or an interrupted removal ("-removing"), scanned as
// unreferenced layers, for deleted artefacts are evidence.
func (s *Store) orphanLayers(ctx context.Context, reached map[string]bool) {
	dir := s.p("image", "overlay2", "layerdb", "sha256")
	names, err := s.readDir(dir)
	if err != nil {
		return
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if reached[p] {
			continue
		}
		what := "a layer no image in the store refers to"
		if strings.HasSuffix(n, "-removing") {
			what = "a layer whose removal was interrupted"
		}
		s.layer(ctx, p, "", "")
		if s.Has(p) {
			s.Record(integrity.Problem{Blob: p, Kind: integrity.Unreferenced, Content: "layer", Size: s.Size(p),
				Detail: "layerdb: " + what})
		}
	}
	if tmp, err := s.readDir(s.p("image", "overlay2", "layerdb", "tmp")); err == nil {
		for _, n := range tmp {
			s.Record(integrity.Problem{Blob: s.p("image", "overlay2", "layerdb", "tmp", n), Kind: integrity.Unreferenced,
				Content: "interrupted write", Detail: "layerdb: a metadata write that never committed"})
		}
	}
}

func (s *Store) readDir(dir string) ([]string, error) { return engine.ReadDir(s.Ev, dir) }
