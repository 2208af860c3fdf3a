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
	// Verification says how the layer's blob was checked against its
	// digest: VerifiedRead (the integrity verdict says whether it
	// matched), or VerifiedRecord with Record.
	Verification string              `json:"verification,omitempty"`
	Record       *VerificationRecord `json:"verification_record,omitempty"`
}

// How a layer's blob was verified (LayerCache.Verification).
const (
	// VerifiedRead: this scan read the blob and hashed it.
	VerifiedRead = "read"
	// VerifiedRecord: this scan did not read the blob. An authenticated
	// verification record in the cache folder says an earlier scan (a
	// shard, usually) read it in full and found it hash to its digest,
	// when its file had the identity it still has (same inode, size,
	// modification and status change times): a file rewritten since has
	// a new status change time, which no user can set back.
	VerifiedRecord = "record"
)

// VerificationRecord is the verification record a layer's blob was taken
// as verified by: who read and hashed it ("shard I/N" or "scan"), when,
// the key id the record is authenticated with, the version of strata that
// wrote it, and the file's identity it matched.
type VerificationRecord struct {
	By          string       `json:"by"`
	At          time.Time    `json:"at"`
	KeyID       string       `json:"key_id"`
	ToolVersion string       `json:"tool_version"`
	File        FileIdentity `json:"file"`
}

// FileIdentity is a blob file's identity as lstat gives it.
type FileIdentity struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
	Inode uint64 `json:"inode"`
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
	Folder          string `json:"folder"`
	KeyID           string `json:"key_id"`
	LayersFromCache int    `json:"layers_from_cache"`
	LayersComputed  int    `json:"layers_computed"`
	// LayersVerifiedByRecord counts the distinct layers whose blobs were
	// not read, taken as verified by a verification record
	// (VerifiedRecord), and VerifiedBy names who made those records.
	LayersVerifiedByRecord int              `json:"layers_verified_by_record"`
	VerifiedBy             []string         `json:"verified_by,omitempty"`
	Rejected               []CacheRejection `json:"rejected"`

	fromCache, computed, byRecord map[string]bool
	first, last                   time.Time // creation of the entries taken
	tools                         []string  // versions that made them
}

// addCache records in the custody what an input says of the cache.
func (d *Document) addCache(in *Input) {
	if in.cache == nil {
		return
	}
	c := d.Custody.Cache
	if c == nil {
		c = &CacheCustody{Folder: in.cache.Folder, KeyID: in.cache.KeyID, Rejected: []CacheRejection{},
			fromCache: map[string]bool{}, computed: map[string]bool{}, byRecord: map[string]bool{}}
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
			if r := l.Cache.Record; l.Cache.Verification == VerifiedRecord && r != nil {
				c.byRecord[id] = true
				if !slices.Contains(c.VerifiedBy, r.By) {
					c.VerifiedBy = append(c.VerifiedBy, r.By)
					slices.Sort(c.VerifiedBy)
				}
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
	c.LayersFromCache, c.LayersComputed, c.LayersVerifiedByRecord = len(c.fromCache), len(c.computed), len(c.byRecord)
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
	if n := c.LayersVerifiedByRecord; n > 0 {
		// The chain of custody says plainly which blobs this scan did
		// not read.
		fmt.Fprintf(&b, "; %s verified by the records of %s, not read again (their files unchanged since)", plural(n, "layer"), strings.Join(c.VerifiedBy, ", "))
	}
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
	switch r.Kind {
	case "diff_id":
		return "diff_id " + r.Digest
	case "verified":
		return "verification of layer " + r.Digest
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
		then := "computed again"
		if r.Kind == "verified" {
			then = "blob read and hashed again"
		}
		cw.line(o.fit(fmt.Sprintf("cache-rejected  %s  %s  %s: %s; %s", oneLine(r.Reason), oneLine(r.What()), oneLine(r.Entry), oneLine(r.Detail), then)))
	}
}
