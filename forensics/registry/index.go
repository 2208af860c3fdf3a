package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/strata-forensics/strata/forensics/blob"
)

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

// maxManifest bounds a manifest read for the media type and children its
// index.json descriptor needs: the image loader's own bound on JSON. A
// bigger one gets no media type and the loader says why it is not read.
const maxManifest = 16 << 20

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
