// Package image resolves the images an archive holds: it follows the OCI
// index (nested indexes, every platform) or docker save's manifest.json,
// reads each manifest and config through a verifying reader, and describes
// every image with its layers bottom-up.
package image

import (
	"cmp"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Image is one image (one platform of a multi-platform index is one image).
type Image struct {
	// Names are the tags and references the archive gives it
	// ("debian:sid-20240311"), sorted; empty when untagged.
	Names []string `json:"names"`
	// Platform as os/arch[/variant], from the index descriptor or the config.
	Platform string `json:"platform"`
	// ManifestDigest is the digest of the image manifest. For a legacy
	// docker save, which keeps no manifest, it is empty.
	ManifestDigest digest.Digest `json:"manifest_digest"`
	// IndexDigests lists the digests of the indexes that led to this
	// manifest, outermost first (known-affected lists publish either).
	IndexDigests []digest.Digest `json:"index_digests,omitempty"`
	ConfigDigest digest.Digest   `json:"config_digest"`
	// ConfigBlob names the config's member when its name claims no digest
	// (Jib's "config.json"), so nothing verified it: a diff_id its layers
	// disagree with may then be the config's fault, and says so.
	ConfigBlob string     `json:"-"`
	Created    *time.Time `json:"created,omitempty"`
	Entrypoint []string   `json:"entrypoint,omitempty"`
	Cmd        []string   `json:"cmd,omitempty"`
	Layers     []*Layer   `json:"layers"`
	// Attachments are the attestations, signatures and other artifacts
	// whose subject is this image, carried or not.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Container is set when the image is a container of an engine's
	// storage: its image's layers with its writable layer on top.
	Container *Container `json:"container,omitempty"`

	// pinned is the Ref Load gave the image when another image of the
	// input has the same one (two platforms both tagged "latest"):
	// findings and verdicts are matched to images by Ref.
	pinned string
}

// pinRefs makes every image's Ref unique in its input: images sharing one
// are told apart by their manifest digest (name@digest), else their
// config digest.
func pinRefs(imgs []*Image) {
	count := map[string]int{}
	for _, img := range imgs {
		count[img.baseRef()]++
	}
	for _, img := range imgs {
		base := img.baseRef()
		if count[base] < 2 {
			continue
		}
		if c := img.Container; c != nil {
			// Two engines on one host may each have a container of
			// that name: their IDs tell them apart.
			img.pinned = base + "@" + c.ID[:min(12, len(c.ID))]
			continue
		}
		d := img.ManifestDigest
		if d == "" {
			d = img.ConfigDigest
		}
		if d != "" && !strings.Contains(base, d.String()) {
			img.pinned = base + "@" + d.String()
		}
	}
}

// Ref is how an image is named in findings and reports: its first name
// that is a reference (has a repository: the OCI ref.name annotation is
// often a bare tag, containerd's io.containerd.image.name the full name),
// else its first name, else its manifest digest, else its config digest.
func (i *Image) Ref() string {
	if i.pinned != "" {
		return i.pinned
	}
	return i.baseRef()
}

// baseRef is Ref before Load made it unique in its input. A container is
// named "container:" and its name, else its ID.
func (i *Image) baseRef() string {
	if c := i.Container; c != nil {
		return "container:" + cmp.Or(c.Name, c.ID)
	}
	for _, n := range i.Names {
		if strings.ContainsAny(n, ":/@") {
			return n
		}
	}
	switch {
	case len(i.Names) > 0:
		return i.Names[0]
	case i.ManifestDigest != "":
		return i.ManifestDigest.String()
	default:
		return i.ConfigDigest.String()
	}
}

// Layer is one layer of an image, numbered from 0 at the bottom.
type Layer struct {
	Index     int           `json:"index"`
	Digest    digest.Digest `json:"digest"`  // of the blob as stored (compressed)
	DiffID    digest.Digest `json:"diff_id"` // from the config's rootfs.diff_ids
	MediaType string        `json:"media_type"`
	Size      int64         `json:"size"` // blob size as stored
	CreatedBy string        `json:"created_by"`
	// Blob is the member name of the layer in the archive; empty when the
	// blob is absent (a foreign layer, or missing).
	Blob string `json:"-"`
	// Absent marks a layer whose blob is not in the archive.
	Absent bool `json:"absent,omitempty"`
	// Foreign marks a non-distributable layer (absent on purpose).
	Foreign bool `json:"foreign,omitempty"`
	// Opaque marks a layer whose media type is no filesystem tar (nydus,
	// EROFS, encrypted, in-toto): its blob was verified by Load and is
	// never unpacked; Blob is empty.
	Opaque bool `json:"opaque,omitempty"`
	// Writable marks a container's writable layer ("rw"), which no
	// manifest or config describes and no digest records.
	Writable bool `json:"writable,omitempty"`
}
