// Package layercache remembers what reading a layer blob gave (its walk
// summary and its detectors' results), keyed by the blob's digest and the
// fingerprint of the rules that judged it, in memory and, with a folder,
// on disk across runs (--cache).
//
// A cache hit saves the decompression, the walk and the detectors; the
// verification only where a verification record (KindVerified) vouches
// for it: the caller checks the blob's own bytes against the digest before
// it takes an entry, unless the blob is a file of the evidence that an
// authenticated record says was read in full and hashed to its digest
// when it had the identity (inode, size, mtime, ctime) it has now. A file
// rewritten since has a new ctime, whatever is done to its mtime, and is
// read and hashed again. Every entry on disk is
// authenticated with HMAC-SHA256 under a key kept outside the folder
// (Key), and names its format, the rules and the version of strata that
// made it: an entry that does not authenticate, is truncated, was made
// under another key, with other rules or by another version, or is not
// the entry its name says is never taken. It is a miss, and a Rejection
// the caller names. A cache that cannot be read or written costs speed,
// never correctness.
//
// Many processes, on many machines, may share one folder (NFS included):
// an entry is written to a temporary file of its own and renamed into
// place (atomicfile), so a reader sees a whole entry or none, and a reader
// holds the one file it opened whatever is renamed over it meanwhile. No
// lock is taken.
package layercache

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/atomicfile"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
)

// Entry is what reading one verified layer blob gave.
type Entry struct {
	Digest  digest.Digest
	Summary *layer.Summary
	Detect  *detect.LayerResult
	// Origin is the authenticated entry on disk the results were read
	// from; nil for results computed by this process.
	Origin *Origin
}

// Origin is what an authenticated entry on disk says of its making.
type Origin struct {
	KeyID       string
	Created     time.Time
	ToolVersion string
}

// Format is bumped when the on-disk form changes, or what a walk records
// does: 3 since eStargz metadata entries are left out of a layer's Entries
// (layer.Summary.FormatEntries), so a layer cached by format 2 would show
// them as files; 4 since entries are authenticated (Encode); 5 since a
// layer's tar entries are binary (MarshalResults), not gzip JSON.
const Format = 5

// DefaultMaxEntries bounds the tar entries the cache holds in memory, the
// bulk of its size (some 250 bytes each): past it, the least recently used
// layers are dropped from memory (a folder keeps them on disk).
const DefaultMaxEntries = 2_000_000

// Config sets up a cache.
type Config struct {
	// Dir is the cache folder, created when the first entry is stored;
	// "" keeps results in memory only.
	Dir string
	// Key authenticates the folder's entries; required with Dir, and
	// refused when its file lies inside Dir.
	Key *Key
	// ToolVersion names the build of strata; an entry made by another is
	// rejected.
	ToolVersion string
	// Now stamps the entries written; nil is time.Now.
	Now func() time.Time
	// Rejected, when set, is called once for each entry rejected (the
	// same file rejected again for the same reason is not named twice);
	// from any goroutine, possibly several at once.
	Rejected func(Rejection)
}

// Cache is safe for concurrent use.
type Cache struct {
	cfg        Config
	maxEntries int64

	mu      sync.Mutex
	mem     map[string]*list.Element // key -> element of lru holding a *item
	lru     *list.List               // most recently used first
	entries int64                    // tar entries held in memory
	byDiff  map[string]digest.Digest // key of a diff_id -> blob digest walked
	named   map[string]bool          // rejections passed to cfg.Rejected
}

type item struct {
	key string
	e   Entry
}

// New returns a cache as cfg says: in memory, and in cfg.Dir when set.
func New(cfg Config) (*Cache, error) {
	if cfg.Dir != "" {
		if cfg.Key == nil {
			return nil, errors.New("cache folder " + cfg.Dir + ": no key to authenticate its entries")
		}
		if cfg.Key.Path != "" && within(cfg.Dir, cfg.Key.Path) {
			return nil, fmt.Errorf("cache key %s: inside the cache folder %s; refused (whoever can write the folder could read the key and forge entries: keep it outside)", cfg.Key.Path, cfg.Dir)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Cache{cfg: cfg, maxEntries: DefaultMaxEntries, mem: map[string]*list.Element{}, lru: list.New(),
		byDiff: map[string]digest.Digest{}, named: map[string]bool{}}, nil
}

// Memory returns a cache in memory only.
func Memory() *Cache {
	c, _ := New(Config{})
	return c
}

// Dir is the cache folder, "" for memory only.
func (c *Cache) Dir() string {
	if c == nil {
		return ""
	}
	return c.cfg.Dir
}

// KeyID names the key the folder's entries are authenticated with.
func (c *Cache) KeyID() string {
	if c == nil || c.cfg.Dir == "" {
		return ""
	}
	return c.cfg.Key.ID()
}

// Name names a digest under a rules fingerprint: the memory's key.
func Name(d digest.Digest, fingerprint string) string { return fingerprint + "/" + d.String() }

// Get returns the entry for blob digest d, from memory or the folder. An
// entry on disk that cannot be taken is a miss, and rej says why.
func (c *Cache) Get(d digest.Digest, fingerprint string) (e Entry, ok bool, rej *Rejection) {
	if c == nil || d == "" || blob.Validate(d) != nil {
		return Entry{}, false, nil
	}
	key := Name(d, fingerprint)
	c.mu.Lock()
	if el, ok := c.mem[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*item).e
		c.mu.Unlock()
		return e, true, nil
	}
	c.mu.Unlock()
	if c.cfg.Dir == "" {
		return Entry{}, false, nil
	}
	e, rej = c.load(d, fingerprint)
	if e.Summary == nil {
		return Entry{}, false, rej
	}
	c.remember(key, e)
	return e, true, nil
}

// DigestFor returns the digest of the blob remembered for a layer whose
// uncompressed content hashes to diffID, or "": how a layer with no
// descriptor digest (a docker save layer.tar) is found. An entry on disk
// that cannot be taken gives "", and rej says why.
func (c *Cache) DigestFor(diffID digest.Digest, fingerprint string) (d digest.Digest, rej *Rejection) {
	if c == nil || diffID == "" || blob.Validate(diffID) != nil {
		return "", nil
	}
	c.mu.Lock()
	d = c.byDiff[Name(diffID, fingerprint)]
	c.mu.Unlock()
	if d != "" || c.cfg.Dir == "" {
		return d, nil
	}
	h, body, rej := c.read(KindDiffID, diffID, fingerprint, c.diffPath(diffID, fingerprint))
	if rej != nil || h.Kind == "" {
		return "", rej
	}
	d = digest.Digest(body)
	if blob.Validate(d) != nil {
		return "", c.rejected(KindDiffID, diffID, c.diffPath(diffID, fingerprint), Wrong, "authenticated, but names no blob digest")
	}
	return d, nil
}

// Put remembers e, in memory and in the folder.
func (c *Cache) Put(e Entry, fingerprint string) {
	if c == nil || e.Digest == "" || e.Summary == nil {
		return
	}
	c.remember(Name(e.Digest, fingerprint), e)
	if e.Summary.DiffID != "" {
		c.mu.Lock()
		c.byDiff[Name(e.Summary.DiffID, fingerprint)] = e.Digest
		c.mu.Unlock()
	}
	if c.cfg.Dir != "" {
		// A cache that cannot be written only costs speed next time.
		_ = c.store(e, fingerprint)
	}
}

// Forget drops the entry for blob digest d from memory (a folder keeps
// its copy): for a result its holder knows no one will ask for again.
func (c *Cache) Forget(d digest.Digest, fingerprint string) {
	if c == nil {
		return
	}
	key := Name(d, fingerprint)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mem[key]; ok {
		c.lru.Remove(el)
		delete(c.mem, key)
		c.entries -= int64(len(el.Value.(*item).e.Summary.Entries))
	}
}

// Held is the number of layers whose entries the cache holds in memory.
func (c *Cache) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mem)
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

// body is the JSON part of a layer entry's body (MarshalResults).
type body struct {
	Summary *layer.Summary      `json:"summary"`
	Detect  *detect.LayerResult `json:"detect"`
}

// Path is the file of the entry for blob digest d under a rules
// fingerprint, relative to the cache folder.
func Path(d digest.Digest, fingerprint string) string {
	return filepath.Join(fingerprint[:min(16, len(fingerprint))], d.Algorithm().String(), d.Encoded()+".entry")
}

// DiffIDPath is the file naming the blob digest walked for diffID,
// relative to the cache folder.
func DiffIDPath(diffID digest.Digest, fingerprint string) string {
	return filepath.Join(fingerprint[:min(16, len(fingerprint))], "diffid", diffID.Algorithm().String(), diffID.Encoded()+".entry")
}

func (c *Cache) path(d digest.Digest, fingerprint string) string {
	return filepath.Join(c.cfg.Dir, Path(d, fingerprint))
}

func (c *Cache) diffPath(diffID digest.Digest, fingerprint string) string {
	return filepath.Join(c.cfg.Dir, DiffIDPath(diffID, fingerprint))
}

// load reads the layer entry for d; an entry with no Summary is a miss.
func (c *Cache) load(d digest.Digest, fingerprint string) (Entry, *Rejection) {
	p := c.path(d, fingerprint)
	h, b, rej := c.read(KindLayer, d, fingerprint, p)
	if rej != nil || h.Kind == "" {
		return Entry{}, rej
	}
	sum, det, err := UnmarshalResults(b)
	if err != nil {
		return Entry{}, c.rejected(KindLayer, d, p, Wrong, "authenticated, but its results cannot be read: "+err.Error())
	}
	return Entry{Digest: d, Summary: sum, Detect: det,
		Origin: &Origin{KeyID: h.KeyID, Created: h.Created, ToolVersion: h.ToolVersion}}, nil
}

// read reads and authenticates the entry file p, which must be of kind
// for d under fingerprint. A missing or unreadable file is a plain miss
// (zero header, no rejection): a concurrent rename on a network file
// system can make a read fail, and is tried once more.
func (c *Cache) read(kind string, d digest.Digest, fingerprint, p string) (Header, []byte, *Rejection) {
	var b []byte
	var err error
	for range 2 {
		if b, err = readBounded(p); err == nil || errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return Header{}, nil, nil
	}
	h, body, err := Decode(b, c.cfg.Key)
	if err != nil {
		de, _ := err.(*decodeError)
		return Header{}, nil, c.rejected(kind, d, p, de.reason, de.detail)
	}
	switch {
	case h.Format != Format:
		return Header{}, nil, c.rejected(kind, d, p, OtherFormat, fmt.Sprintf("authenticated, but of entry format %d, not %d", h.Format, Format))
	case h.Kind != kind || h.Digest != d:
		return Header{}, nil, c.rejected(kind, d, p, Wrong, fmt.Sprintf("authenticated, but the %s entry of %s: moved or swapped", h.Kind, h.Digest))
	case h.Fingerprint != fingerprint:
		return Header{}, nil, c.rejected(kind, d, p, OtherRuleset, fmt.Sprintf("authenticated, but made with other rules (fingerprint %.16s, not %.16s)", h.Fingerprint, fingerprint))
	case h.ToolVersion != c.cfg.ToolVersion:
		return Header{}, nil, c.rejected(kind, d, p, OtherToolVersion, fmt.Sprintf("authenticated, but made by strata %q, not %q", h.ToolVersion, c.cfg.ToolVersion))
	}
	return h, body, nil
}

// readBounded reads the file at p, refusing one past MaxEntryBytes, into
// one buffer of the size the file has when opened: growing a buffer as
// io.ReadAll does cleared and copied a tenth of an assembling scan's bytes
// again.
func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := MaxEntryBytes + int64(maxHeaderLen) + int64(len(magic)) + int64(trailerLen) + 1
	var buf bytes.Buffer
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < limit {
		buf.Grow(int(fi.Size()) + bytes.MinRead) // ReadFrom asks for MinRead free to see the end
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, limit)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rejected makes the rejection of the entry file p, naming it to
// cfg.Rejected the first time.
func (c *Cache) rejected(kind string, d digest.Digest, p string, r Reason, detail string) *Rejection {
	rel, err := filepath.Rel(c.cfg.Dir, p)
	if err != nil {
		rel = p
	}
	rej := &Rejection{Kind: kind, Digest: d, Entry: filepath.ToSlash(rel), Reason: r, Detail: detail}
	c.mu.Lock()
	id := rej.Entry + "\x00" + string(r) + "\x00" + detail
	first := !c.named[id]
	c.named[id] = true
	c.mu.Unlock()
	if first && c.cfg.Rejected != nil {
		c.cfg.Rejected(*rej)
	}
	return rej
}

func (c *Cache) store(e Entry, fingerprint string) error {
	b, err := MarshalResults(e.Summary, e.Detect)
	if err != nil {
		return err
	}
	if len(b) > MaxEntryBytes {
		// Half a million paths of 4 KiB each: kept out of the folder
		// rather than written to be refused on every later read.
		return fmt.Errorf("layer %s: results of %d bytes, past the cache's bound of %d", e.Digest, len(b), MaxEntryBytes)
	}
	h := Header{Format: Format, Kind: KindLayer, Digest: e.Digest, Fingerprint: fingerprint,
		ToolVersion: c.cfg.ToolVersion, Created: c.cfg.Now().UTC()}
	if err := c.write(c.path(e.Digest, fingerprint), h, b); err != nil || e.Summary.DiffID == "" {
		return err
	}
	h.Kind, h.Digest = KindDiffID, e.Summary.DiffID
	return c.write(c.diffPath(e.Summary.DiffID, fingerprint), h, []byte(e.Digest.String()))
}

// write writes one entry file all or nothing: a temporary file of its own
// beside p, renamed over p.
func (c *Cache) write(p string, h Header, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, 0o644, func(w io.Writer) error {
		return Encode(w, c.cfg.Key, h, body)
	})
}
