package image

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// A Catalog is a Store that says itself which images it holds: an
// engine's storage keeps no docker save manifest.json nor OCI index, but
// its own records of images, layers and containers. Load reads each
// entry's config and pairs its layers with the config's diff_ids, as for a
// docker save. A store of content-addressed blobs (containerd's) may
// rather serve an OCI layout ("oci-layout", an index.json naming its
// images, "blobs/<alg>/<hex>"), which Load reads first as any layout; its
// Catalog then adds the containers, each naming its image by Manifest.
type Catalog interface {
	Catalog() []Entry
}

// An Entry is one image, or one container, of a Catalog.
type Entry struct {
	// Names are the references the store records for it, trusted only:
	// nothing in an engine's storage signs a tag.
	Names []string
	// Config is the member holding the image's config, and ConfigDigest
	// the digest the store names it by, checked as it is read.
	Config       string
	ConfigDigest digest.Digest
	// Layers are the members holding each layer's uncompressed tar, base
	// first; "" for a layer the store lacks.
	Layers []string
	// Manifest, instead of Config and Layers, names an image of the
	// store's OCI layout by its manifest digest: the entry is a container
	// of that image, whose layers it shares.
	Manifest digest.Digest
	// Container is set for a container, whose writable layer is the
	// member Writable, on top of Layers.
	Container *Container
	Writable  string
}

// Container describes a container of an engine's storage, as its own
// records say (trusted only).
type Container struct {
	ID      string     `json:"id"`
	Name    string     `json:"name,omitempty"`
	Image   string     `json:"image,omitempty"` // the image reference or ID it was created from
	Created *time.Time `json:"created,omitempty"`
	Command []string   `json:"command,omitempty"`
	State   string     `json:"state,omitempty"`
	Engine  string     `json:"engine"`
}

// WritableMediaType is the media type given to a container's writable
// layer, which no manifest describes.
const WritableMediaType = "application/vnd.strata.container.writable-layer.tar"

// An IndexMaker is a Store that made its index.json itself from records
// of its own (a registry's storage, from its tags' links): IndexFrom says
// from what, so that a blob nothing reaches is said to be reached from
// none of those, not from an index.json the evidence never held.
type IndexMaker interface {
	IndexFrom() string
}

// MaxMadeIndex bounds the index.json an IndexMaker made (some five million
// tags), read past Options.MaxJSON, which bounds the evidence's own JSON.
const MaxMadeIndex = 1 << 30

// madeFrom is what src's index.json was made from, or "" when src holds
// one as found.
func madeFrom(src Source) string {
	s, ok := src.(interface{ Store() archive.Store })
	if !ok {
		return ""
	}
	if m, ok := s.Store().(IndexMaker); ok {
		return m.IndexFrom()
	}
	return ""
}

// catalogOf returns the Catalog src is served from, if any.
func catalogOf(src Source) (Catalog, bool) {
	s, ok := src.(interface{ Store() archive.Store })
	if !ok {
		return nil, false
	}
	c, ok := s.Store().(Catalog)
	return c, ok
}

// loadCatalog loads every entry of c.
func (l *loader) loadCatalog(c Catalog) error {
	if l.oci {
		if err := l.load(); err != nil {
			return err
		}
	}
	for _, e := range c.Catalog() {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		var img *Image
		if e.Manifest != "" {
			img = l.containerOf(e)
		} else {
			img = l.catalogImage(e)
		}
		if e.Container == nil || img == nil {
			continue
		}
		ctr := *e.Container
		img.Container = &ctr
		top := &Layer{Index: len(img.Layers), Blob: e.Writable, MediaType: WritableMediaType, Writable: true,
			CreatedBy: "writable layer of container " + ctr.Name}
		if m, ok := l.src.Stat(e.Writable); ok && e.Writable != "" {
			top.Size = m.Size
			l.record(integrity.Problem{Blob: e.Writable, Kind: integrity.Unverifiable, Reason: integrity.WritableLayer,
				Detail: fmt.Sprintf("container %s: what the container wrote is recorded by no digest anywhere; described as found", ctr.Name)})
		} else {
			top.Blob, top.Absent = "", true
			l.problem(e.Writable, integrity.MissingBlob, "container %s: its writable layer is not in the store", ctr.Name)
		}
		img.Layers = append(img.Layers, top)
	}
	return nil
}

// catalogImage loads one entry as a docker save's manifest.json entry is
// loaded, the config checked against the digest the store names it by. A
// container gets an image of its own, sharing its layers with its image's.
func (l *loader) catalogImage(e Entry) *Image {
	if e.Container != nil {
		// An image loaded once per config: a container is another image.
		saved := l.byConfig[e.Config]
		delete(l.byConfig, e.Config)
		defer func() {
			if saved != nil {
				l.byConfig[e.Config] = saved
			}
		}()
	}
	l.legacyClaimed(dockerEntry{Config: e.Config, RepoTags: e.Names, Layers: e.Layers}, e.Names, e.ConfigDigest)
	return l.byConfig[e.Config]
}

// containerOf makes the image of container e from the image of the
// store's layout whose manifest it names: the same config and layers (as
// new values: the container's own top goes on top of its copy).
func (l *loader) containerOf(e Entry) *Image {
	base, ok := l.byDigest[e.Manifest]
	if !ok || e.Container == nil {
		l.problem(e.Manifest.String(), integrity.MissingBlob, "container %s: its image %s is not in the store", e.Container.Name, e.Manifest)
		return nil
	}
	img := *base
	img.Names, img.Attachments, img.pinned = nil, nil, ""
	img.Layers = make([]*Layer, len(base.Layers))
	for i, layer := range base.Layers {
		c := *layer
		img.Layers[i] = &c
	}
	l.images = append(l.images, &img)
	return &img
}
