// Package layercache remembers what reading a layer blob gave (its walk
// summary and its detectors' results), keyed by the blob's digest and the
// fingerprint of the rules that judged it, in memory and, with a folder,
// on disk across runs (--cache).
//
// A cache hit saves the decompression, the walk and the detectors, never
// the verification: the caller still checks the blob's own bytes against
// the digest before it takes an entry. A cache that cannot be read or
// written costs speed, never correctness: a damaged, foreign or stale
// entry is a miss.
package layercache

import (
	"container/list"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/atomicfile"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
)

// Entry is what reading one verified layer blob gave.
type Entry struct {
	Digest  digest.Digest
	Summary *layer.Summary
	Detect  *detect.LayerResult
}

// Format is bumped when the on-disk form changes, or what a walk records
// does: 3 since eStargz metadata entries are left out of a layer's Entries
// (layer.Summary.FormatEntries), so a layer cached by format 2 would show
// them as files.
const Format = 3

// DefaultMaxEntries bounds the tar entries the cache holds in memory, the
// bulk of its size (some 250 bytes each): past it, the least recently used
// layers are dropped from memory (a folder keeps them on disk).
const DefaultMaxEntries = 2_000_000

// Cache is safe for concurrent use.
type Cache struct {
	dir        string // "" for memory only
	maxEntries int64

	mu      sync.Mutex
	mem     map[string]*list.Element // key -> element of lru holding a *item
	lru     *list.List               // most recently used first
	entries int64                    // tar entries held in memory
	byDiff  map[string]digest.Digest // key of a diff_id -> blob digest walked
}

type item struct {
	key string
	e   Entry
}

// New returns a cache; dir, when not empty, is a folder created when the
// first entry is stored.
func New(dir string) *Cache {
	return &Cache{dir: dir, maxEntries: DefaultMaxEntries, mem: map[string]*list.Element{}, lru: list.New(), byDiff: map[string]digest.Digest{}}
}

// Key names a digest under a rules fingerprint.
func Key(d digest.Digest, fingerprint string) string { return fingerprint + "/" + d.String() }

// Get returns the entry for blob digest d, from memory or the folder.
func (c *Cache) Get(d digest.Digest, fingerprint string) (Entry, bool) {
	if c == nil || d == "" || d.Validate() != nil {
		return Entry{}, false
	}
	key := Key(d, fingerprint)
	c.mu.Lock()
	if el, ok := c.mem[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*item).e
		c.mu.Unlock()
		return e, true
	}
	c.mu.Unlock()
	if c.dir == "" {
		return Entry{}, false
	}
	e, err := c.load(d, fingerprint)
	if err != nil {
		return Entry{}, false // a missing or unreadable entry is only a miss
	}
	c.remember(key, e)
	return e, true
}

// DigestFor returns the digest of the blob remembered for a layer whose
// uncompressed content hashes to diffID, or "": how a layer with no
// descriptor digest (a docker save layer.tar) is found.
func (c *Cache) DigestFor(diffID digest.Digest, fingerprint string) digest.Digest {
	if c == nil || diffID == "" || diffID.Validate() != nil {
		return ""
	}
	c.mu.Lock()
	d := c.byDiff[Key(diffID, fingerprint)]
	c.mu.Unlock()
	if d != "" || c.dir == "" {
		return d
	}
	f, err := os.Open(c.diffPath(diffID, fingerprint))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return ""
	}
	d = digest.Digest(b)
	if d.Validate() != nil {
		return "" // a damaged entry is only a miss
	}
	return d
}

// Put remembers e, in memory and in the folder.
func (c *Cache) Put(e Entry, fingerprint string) {
	if c == nil || e.Digest == "" || e.Summary == nil {
		return
	}
	c.remember(Key(e.Digest, fingerprint), e)
	if e.Summary.DiffID != "" {
		c.mu.Lock()
		c.byDiff[Key(e.Summary.DiffID, fingerprint)] = e.Digest
		c.mu.Unlock()
	}
	if c.dir != "" {
		// A cache that cannot be written only costs speed next time.
		_ = c.store(e, fingerprint)
	}
}

// remember keeps e in memory, most recently used, dropping the least
// recently used entries past the bound.
func (c *Cache) remember(key string, e Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mem[key]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.mem[key] = c.lru.PushFront(&item{key: key, e: e})
	c.entries += int64(len(e.Summary.Entries))
	for c.entries > c.maxEntries && c.lru.Len() > 1 {
		last := c.lru.Back()
		it := last.Value.(*item)
		c.lru.Remove(last)
		delete(c.mem, it.key)
		c.entries -= int64(len(it.e.Summary.Entries))
	}
}

type onDisk struct {
	Format  int                 `json:"format"`
	Key     string              `json:"key"`
	Digest  digest.Digest       `json:"digest"`
	Summary *layer.Summary      `json:"summary"`
	Detect  *detect.LayerResult `json:"detect"`
}

func (c *Cache) path(d digest.Digest, fingerprint string) string {
	return filepath.Join(c.dir, fingerprint[:16], d.Algorithm().String(), d.Encoded()+".json.gz")
}

// diffPath is the file naming the blob digest walked for diffID.
func (c *Cache) diffPath(diffID digest.Digest, fingerprint string) string {
	return filepath.Join(c.dir, fingerprint[:16], "diffid", diffID.Algorithm().String(), diffID.Encoded())
}

func (c *Cache) load(d digest.Digest, fingerprint string) (Entry, error) {
	f, err := os.Open(c.path(d, fingerprint))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return Entry{}, err
	}
	var o onDisk
	if err := json.NewDecoder(io.LimitReader(zr, 4<<30)).Decode(&o); err != nil {
		return Entry{}, err
	}
	if o.Format != Format || o.Key != Key(d, fingerprint) || o.Digest != d || o.Summary == nil {
		return Entry{}, errors.New("cache entry does not match")
	}
	return Entry{Digest: o.Digest, Summary: o.Summary, Detect: o.Detect}, nil
}

func (c *Cache) store(e Entry, fingerprint string) error {
	p := c.path(e.Digest, fingerprint)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	err := atomicfile.Write(p, 0o644, func(w io.Writer) error {
		zw := gzip.NewWriter(w)
		err := json.NewEncoder(zw).Encode(onDisk{Format: Format, Key: Key(e.Digest, fingerprint), Digest: e.Digest, Summary: e.Summary, Detect: e.Detect})
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil || e.Summary.DiffID == "" {
		return err
	}
	p = c.diffPath(e.Summary.DiffID, fingerprint)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, e.Digest.String())
		return err
	})
}
