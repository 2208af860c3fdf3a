// Package boltdb reads a bbolt database of the evidence (containerd's
// meta.db and its snapshotter's metadata.db, podman's bolt_state.db)
// whole, as plain Go values, without trusting it.
//
// bbolt trusts its file: it reads pages straight from a memory map with no
// bounds check, so a page id past the end faults, a branch page naming
// itself makes its cursor descend forever, and a damaged page is a panic
// (moby#37238, containerd#4838). So a database of the evidence is read in
// three steps: copied to a private scratch folder (never opened in place:
// bbolt takes a lock and maps the file), walked by checkBolt, which bounds
// every page and element and visits each page once, exactly as bbolt would
// reach them, and only then opened read-only by bbolt and dumped into
// plain Go values, under a recover that turns whatever is left into an
// error naming the file.
package boltdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-forensics/strata/forensics/engine"
)

// Limits on a database read.
const (
	// MaxSize bounds a database copied to scratch: containerd's meta.db
	// is a few MB on a busy node, podman's bolt_state.db less.
	MaxSize = 1 << 30
	// maxBoltDepth bounds the nesting of pages and buckets: a B+tree of
	// 4 KiB pages is a handful deep for any size bbolt can hold.
	maxBoltDepth = 64
	// boltLockWait bounds the wait for bbolt's shared lock on the copy,
	// which no one else holds.
	boltLockWait = 5 * time.Second
)

// bbolt's on-disk format (go.etcd.io/bbolt internal/common: page.go,
// meta.go, bucket.go, types.go).
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16 // id u64, flags u16, count u16, overflow u32
	elementSize     = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader    = 16 // root pgid u64, sequence u64
	metaSize        = 64 // magic, version, pageSize, flags u32; root 16; freelist, pgid, txid, checksum u64
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01
	minBoltPageSize = 1 << 10
	maxBoltPageSize = 1 << 16
)

// A Bucket is a bucket of a database as plain values: its keys and its
// sub-buckets. Every method takes a nil Bucket for an empty one.
type Bucket struct {
	values  map[string][]byte
	buckets map[string]*Bucket
}

// Bucket returns the sub-bucket at path, or nil.
func (b *Bucket) Bucket(path ...string) *Bucket {
	for _, p := range path {
		if b == nil {
			return nil
		}
		b = b.buckets[p]
	}
	return b
}

// Get returns the value at key, or nil.
func (b *Bucket) Get(key string) []byte {
	if b == nil {
		return nil
	}
	return b.values[key]
}

// Buckets is b's sub-buckets by key.
func (b *Bucket) Buckets() map[string]*Bucket {
	if b == nil {
		return nil
	}
	return b.buckets
}

// Values is b's values by key.
func (b *Bucket) Values() map[string][]byte {
	if b == nil {
		return nil
	}
	return b.values
}

// ReadEvidence reads the bbolt database name of the evidence c reads
// from: copied to a private scratch folder, hashed into the chain of
// custody as it is copied, read there whole, and the copy removed.
func ReadEvidence(c *engine.Custody, name string) (*Bucket, error) {
	dir, err := os.MkdirTemp("", "strata-bolt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, path.Base(name))
	if err := c.CopyFile(name, cp, MaxSize); err != nil {
		return nil, err
	}
	db, err := Read(cp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(name), err)
	}
	return db, nil
}

// Read reads the bbolt database file name (a private copy: bbolt locks
// and maps it) whole.
func Read(name string) (root *Bucket, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkBolt(f, fi.Size())
	}
	f.Close()
	if err != nil {
		return nil, err
	}
	err = guard(func() error {
		db, err := bolt.Open(name, 0o400, &bolt.Options{ReadOnly: true, Timeout: boltLockWait})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			root = &Bucket{}
			return tx.ForEach(func(k []byte, b *bolt.Bucket) error {
				sub, err := dumpBucket(b, 1)
				root.put(k, nil, sub)
				return err
			})
		})
	})
	return root, err
}

// guard runs fn, turning a panic, or a fault reading the memory map, into
// an error.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged database: %v", r)
		}
	}()
	return fn()
}

func dumpBucket(b *bolt.Bucket, depth int) (*Bucket, error) {
	if depth > maxBoltDepth {
		return nil, fmt.Errorf("buckets nested more than %d deep", maxBoltDepth)
	}
	out := &Bucket{}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			out.put(k, v, nil)
			continue
		}
		sb := b.Bucket(k)
		if sb == nil {
			continue
		}
		sub, err := dumpBucket(sb, depth+1)
		if err != nil {
			return nil, err
		}
		out.put(k, nil, sub)
	}
	return out, nil
}

// put keeps a value (copied: bbolt's point into its map) or a bucket.
func (b *Bucket) put(k, v []byte, sub *Bucket) {
	if sub != nil {
		if b.buckets == nil {
			b.buckets = map[string]*Bucket{}
		}
		b.buckets[string(k)] = sub
		return
	}
	if b.values == nil {
		b.values = map[string][]byte{}
	}
	b.values[string(k)] = append([]byte{}, v...)
}

// ErrNotBolt says what about a database file bbolt could not read safely.
var ErrNotBolt = errors.New("not a readable bbolt database")

func boltErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotBolt, fmt.Sprintf(format, args...))
}

// boltMeta is a meta page.
type boltMeta struct {
	valid    bool
	pageSize uint32
	root     uint64
	pgid     uint64 // the high water mark: pages at and past it are unused
	txid     uint64
}

func parseMetaPage(b []byte) boltMeta {
	if len(b) < metaSize {
		return boltMeta{}
	}
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(b[:56])
	return boltMeta{
		valid:    le.Uint32(b[0:]) == boltMagic && le.Uint32(b[4:]) == boltVersion && le.Uint64(b[56:]) == h.Sum64(),
		pageSize: le.Uint32(b[8:]),
		root:     le.Uint64(b[16:]),
		pgid:     le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
	}
}

// readAt reads n bytes at off, or fewer at the end of the file.
func readAt(f io.ReaderAt, off, n int64) []byte {
	b := make([]byte, n)
	got, _ := f.ReadAt(b, off)
	return b[:got]
}

// checkBolt walks the database in f of the given size as bbolt reads it,
// and fails on whatever bbolt would misread: no valid meta page, a page
// past the end or the high water mark, a page that is not the one named
// or of an unknown type, an element or key past its page, a page reached
// twice (a cycle), nesting too deep.
func checkBolt(f io.ReaderAt, size int64) error {
	if size > MaxSize {
		return boltErr("%d bytes, more than %d", size, MaxSize)
	}
	// The page size, found as bbolt finds it (db.go getPageSize): from
	// the first meta page, else the first valid meta page at 1 KiB << i.
	var ps uint32
	if m := parseMetaPage(readAt(f, pageHeaderSize, metaSize)); m.valid && size >= 0x1000 {
		ps = m.pageSize
	} else {
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos >= size-1024 {
				break
			}
			if m := parseMetaPage(readAt(f, pos+pageHeaderSize, metaSize)); m.valid {
				ps = m.pageSize
				break
			}
		}
	}
	if ps == 0 {
		return boltErr("no valid meta page")
	}
	if ps < minBoltPageSize || ps > maxBoltPageSize || ps&(ps-1) != 0 {
		return boltErr("page size %d", ps)
	}
	if size < 2*int64(ps) {
		return boltErr("%d bytes, less than its two meta pages", size)
	}
	// The meta page bbolt uses (db.go meta): the valid one of the highest
	// transaction.
	m0 := parseMetaPage(readAt(f, pageHeaderSize, metaSize))
	m1 := parseMetaPage(readAt(f, int64(ps)+pageHeaderSize, metaSize))
	m, other := m0, m1
	if m1.txid > m0.txid {
		m, other = m1, m0
	}
	if !m.valid {
		m = other
	}
	if !m.valid {
		return boltErr("no valid meta page")
	}
	c := &boltCheck{f: f, size: size, ps: int64(ps), hwm: m.pgid, seen: map[uint64]bool{}}
	return c.page(m.root, 1)
}

type boltCheck struct {
	f    io.ReaderAt
	size int64
	ps   int64
	hwm  uint64
	seen map[uint64]bool
}

// page checks the page id, a node of a bucket's B+tree, and what it leads to.
func (c *boltCheck) page(id uint64, depth int) error {
	if depth > maxBoltDepth {
		return boltErr("pages nested more than %d deep", maxBoltDepth)
	}
	if id < 2 || id >= c.hwm || id > uint64(c.size/c.ps) {
		return boltErr("page %d out of bounds (high water mark %d)", id, c.hwm)
	}
	head := readAt(c.f, int64(id)*c.ps, pageHeaderSize)
	if len(head) < pageHeaderSize {
		return boltErr("page %d past the end", id)
	}
	le := binary.LittleEndian
	if got := le.Uint64(head); got != id {
		return boltErr("page %d says it is page %d", id, got)
	}
	flags, overflow := le.Uint16(head[8:]), uint64(le.Uint32(head[12:]))
	last := id + overflow
	if last >= c.hwm || (last+1)*uint64(c.ps) > uint64(c.size) {
		return boltErr("page %d: %d overflow pages past the end", id, overflow)
	}
	for p := id; p <= last; p++ {
		if c.seen[p] {
			return boltErr("page %d reached twice", p)
		}
		c.seen[p] = true
	}
	data := readAt(c.f, int64(id)*c.ps, int64(overflow+1)*c.ps)
	if int64(len(data)) < int64(overflow+1)*c.ps {
		return boltErr("page %d past the end", id)
	}
	switch flags {
	case branchPageFlag:
		return c.branch(id, data, depth)
	case leafPageFlag:
		return c.leaf(fmt.Sprintf("page %d", id), data, depth)
	}
	return boltErr("page %d: flags %#x, neither a branch nor a leaf", id, flags)
}

func (c *boltCheck) branch(id uint64, data []byte, depth int) error {
	le := binary.LittleEndian
	count := int(le.Uint16(data[10:]))
	if count == 0 || pageHeaderSize+count*elementSize > len(data) {
		return boltErr("page %d: %d branch elements", id, count)
	}
	for i := range count {
		off := pageHeaderSize + i*elementSize
		pos, ksize := uint64(le.Uint32(data[off:])), uint64(le.Uint32(data[off+4:]))
		if uint64(off)+pos+ksize > uint64(len(data)) {
			return boltErr("page %d: key %d past the page", id, i)
		}
		if err := c.page(le.Uint64(data[off+8:]), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks a leaf page (data, a page or a bucket's inline page), and
// the bucket each bucket entry holds.
func (c *boltCheck) leaf(what string, data []byte, depth int) error {
	le := binary.LittleEndian
	count := int(le.Uint16(data[10:]))
	if pageHeaderSize+count*elementSize > len(data) {
		return boltErr("%s: %d leaf elements", what, count)
	}
	for i := range count {
		off := pageHeaderSize + i*elementSize
		flags := le.Uint32(data[off:])
		pos, ksize, vsize := uint64(le.Uint32(data[off+4:])), uint64(le.Uint32(data[off+8:])), uint64(le.Uint32(data[off+12:]))
		end := uint64(off) + pos + ksize + vsize
		if end > uint64(len(data)) {
			return boltErr("%s: key or value %d past the page", what, i)
		}
		if flags&bucketLeafFlag == 0 {
			continue
		}
		v := data[uint64(off)+pos+ksize : end]
		if len(v) < bucketHeader {
			return boltErr("%s: bucket %d: %d bytes", what, i, len(v))
		}
		if root := le.Uint64(v); root != 0 {
			if err := c.page(root, depth+1); err != nil {
				return err
			}
			continue
		}
		// An inline bucket: its page follows its header in the value,
		// always a leaf (bbolt's cursor would take anything else for a
		// branch and follow ids from it).
		in := v[bucketHeader:]
		if len(in) < pageHeaderSize || le.Uint16(in[8:]) != leafPageFlag {
			return boltErr("%s: bucket %d: inline page is not a leaf", what, i)
		}
		if depth+1 > maxBoltDepth {
			return boltErr("buckets nested more than %d deep", maxBoltDepth)
		}
		if err := c.leaf(what+" inline", in, depth+1); err != nil {
			return err
		}
	}
	return nil
}
