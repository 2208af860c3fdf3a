package report

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Where a layer's results came from (LayerCache.Results).
const (
	// Computed: the layer was read, verified and walked, and its
	// detectors ran, in this scan.
	Computed = "computed"
	// FromCache: the layer's bytes were verified in this scan, and its
	// results taken from an authenticated entry of the cache folder.
	FromCache = "cache"
)

// LayerCache says, for a scan that used a cache folder (--cache), where a
// layer's results came from: computed, or taken from an authenticated
// entry, with the entry's key id, creation time and the version of strata
// that made it.
type LayerCache struct {
	Results     string    `json:"results"` // Computed or FromCache
	KeyID       string    `json:"key_id,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	ToolVersion string    `json:"tool_version,omitempty"`
}

// SourceCache is what a Source records of the cache folder its layers were
// looked up in.
type SourceCache struct {
	Folder   string
	KeyID    string
	Rejected []CacheRejection
}

// CacheRejection is a cache entry a scan did not take: the layer's results
// were computed again.
type CacheRejection struct {
	Kind   string `json:"kind"`   // "layer", or "diff_id" for the index naming the blob of a diff_id
	Digest string `json:"digest"` // the blob digest, or the diff_id, looked up
	Entry  string `json:"entry"`  // the entry's file, relative to the folder
	Reason string `json:"reason"` // unauthenticated, truncated, other-key, other-format, other-ruleset, other-tool-version, wrong
	Detail string `json:"detail"`
}

// CacheCustody is the chain of custody of a scan that used a cache folder:
// the folder, the id of the key its entries are authenticated with, how
// many distinct layers had their results taken from it and how many were
// computed, and every entry that was rejected.
type CacheCustody struct {
	Folder          string           `json:"folder"`
	KeyID           string           `json:"key_id"`
	LayersFromCache int              `json:"layers_from_cache"`
	LayersComputed  int              `json:"layers_computed"`
	Rejected        []CacheRejection `json:"rejected"`

	fromCache, computed map[string]bool
	first, last         time.Time // creation of the entries taken
	tools               []string  // versions that made them
}

// addCache records in the custody what an input says of the cache.
func (d *Document) addCache(in *Input) {
	if in.cache == nil {
		return
	}
	c := d.Custody.Cache
	if c == nil {
		c = &CacheCustody{Folder: in.cache.Folder, KeyID: in.cache.KeyID, Rejected: []CacheRejection{},
			fromCache: map[string]bool{}, computed: map[string]bool{}}
		d.Custody.Cache = c
	}
	for _, r := range in.cache.Rejected {
		if !slices.Contains(c.Rejected, r) {
			c.Rejected = append(c.Rejected, r)
		}
	}
	for _, img := range in.Images {
		for _, l := range img.Layers {
			if l.Cache == nil {
				continue
			}
			id := l.Digest
			if id == "" {
				id = l.DiffID
			}
			if l.Cache.Results != FromCache {
				c.computed[id] = true
				continue
			}
			c.fromCache[id] = true
			if c.first.IsZero() || l.Cache.Created.Before(c.first) {
				c.first = l.Cache.Created
			}
			if l.Cache.Created.After(c.last) {
				c.last = l.Cache.Created
			}
			if !slices.Contains(c.tools, l.Cache.ToolVersion) {
				c.tools = append(c.tools, l.Cache.ToolVersion)
				slices.Sort(c.tools)
			}
		}
	}
	c.LayersFromCache, c.LayersComputed = len(c.fromCache), len(c.computed)
}

// setLayerCache gives each layer of img what the source says of its
// results.
func setLayerCache(img *Image, layers []SourceLayer) {
	for i := range img.Layers {
		l := &img.Layers[i]
		if l.Index < len(layers) && layers[l.Index].Cache != nil {
			lc := *layers[l.Index].Cache
			l.Cache = &lc
		}
	}
}

// Words is the custody's line: how many layers came from the cache under
// which key, made when and by what, how many were computed, and how many
// entries were rejected.
func (c *CacheCustody) Words() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s taken from the cache folder %s under key id %s", plural(c.LayersFromCache, "layer"), c.Folder, c.KeyID)
	if c.LayersFromCache > 0 {
		when := utc(c.first)
		if !c.last.Equal(c.first) {
			when += " to " + utc(c.last)
		}
		fmt.Fprintf(&b, " (entries made by strata %s, %s)", strings.Join(quoteAll(c.tools), ", "), when)
	}
	fmt.Fprintf(&b, "; %s computed", plural(c.LayersComputed, "layer"))
	switch n := len(c.Rejected); n {
	case 0:
		b.WriteString("; no entry rejected")
	case 1:
		b.WriteString("; 1 entry rejected and its layer computed again")
	default:
		fmt.Fprintf(&b, "; %d entries rejected and their layers computed again", n)
	}
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s
		if s == "" {
			out[i] = `""`
		}
	}
	return out
}

// What is the rejected entry's subject, for the report's lines.
func (r CacheRejection) What() string {
	if r.Kind == "diff_id" {
		return "diff_id " + r.Digest
	}
	return "layer " + r.Digest
}

// writeCacheText writes the custody's cache line and the rejected entries,
// when the scan used a cache folder.
func (d *Document) writeCacheText(cw *countingWriter, o TextOptions) {
	c := d.Custody.Cache
	if c == nil {
		return
	}
	cw.line("")
	cw.line(o.fit("cache: " + oneLine(c.Words())))
	for _, r := range c.Rejected {
		cw.line(o.fit(fmt.Sprintf("cache-rejected  %s  %s  %s: %s; computed again", oneLine(r.Reason), oneLine(r.What()), oneLine(r.Entry), oneLine(r.Detail))))
	}
}
