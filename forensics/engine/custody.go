package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// MaxMetadata bounds one metadata file read whole (a config, a JSON
// record): far above any an engine writes.
const MaxMetadata = 64 << 20

// Custody is every metadata file of an evidence root a store read, with
// its sha256, for the chain of custody: the store's digest is that of
// their listing, as sha256sum prints it, sorted by name.
type Custody struct {
	Root *os.Root

	files *Beneath // reads below Root

	mu   sync.Mutex
	sums map[string]string
	size int64
}

// NewCustody keeps the custody of files read below root.
func NewCustody(root *os.Root) *Custody {
	return &Custody{Root: root, files: NewBeneath(root), sums: map[string]string{}}
}

// Close releases what reading holds (not Root, which its owner closes).
func (c *Custody) Close() { c.files.Close() }

// Below reads below Root by name, never through a link.
func (c *Custody) Below() *Beneath { return c.files }

// ReadFile reads the regular file name (no link followed), at most
// MaxMetadata bytes, and records its sha256.
func (c *Custody) ReadFile(name string) ([]byte, error) {
	f, _, err := c.files.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxMetadata {
		return nil, fmt.Errorf("%s: more than %d bytes", name, MaxMetadata)
	}
	sum := sha256.Sum256(data)
	c.record(name, hex.EncodeToString(sum[:]), int64(len(data)))
	return data, nil
}

// ReadSmall reads the regular file name (no link followed) to its end,
// recording its sha256, and returns at most keep of its bytes and its
// size: a record that should be a few bytes (a registry's link) is read
// whole for the chain of custody whatever it holds, but never kept whole.
func (c *Custody) ReadSmall(name string, keep int64) ([]byte, int64, error) {
	f, _, err := c.files.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	var head bytes.Buffer
	n, err := copyPooled(io.MultiWriter(h, &limitWriter{w: &head, left: keep}), f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	c.record(name, hex.EncodeToString(h.Sum(nil)), n)
	return head.Bytes(), n, nil
}

// limitWriter keeps the first left bytes written to it and drops the rest.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left > 0 {
		k := min(int64(len(p)), l.left)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.left -= k
	}
	return len(p), nil
}

// Made records the sha256 of data that the store made itself rather than
// read (a registry's synthesised index.json) under name, which should say
// so: what was examined includes what strata derived from the files.
func (c *Custody) Made(name string, data []byte) {
	sum := sha256.Sum256(data)
	c.record(name, hex.EncodeToString(sum[:]), int64(len(data)))
}

// HashFile records the sha256 of the regular file name, read to its end.
func (c *Custody) HashFile(name string) error {
	f, _, err := c.files.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := copyPooled(h, f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.record(name, hex.EncodeToString(h.Sum(nil)), n)
	return nil
}

// CopyFile copies the regular file name (no link followed) to the new
// file dst outside the evidence, at most max bytes, and records the sha256
// of what it copied: a database whose reader takes locks or maps pages
// (bbolt, SQLite) is opened as that private copy, never in place.
func (c *Custody) CopyFile(name, dst string, max int64) error {
	f, _, err := c.files.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(f, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n > max {
		return fmt.Errorf("%s: more than %d bytes", name, max)
	}
	c.record(name, hex.EncodeToString(h.Sum(nil)), n)
	return nil
}

func (c *Custody) record(name, sum string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sums[name]; !ok {
		c.size += n
	}
	c.sums[name] = sum
}

// Digest is the sha256 of the listing of every file read, and their size.
func (c *Custody) Digest() (string, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.sums))
	for n := range c.sums {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s  %s\n", c.sums[n], n)
	}
	return hex.EncodeToString(h.Sum(nil)), c.size
}

// Files is how many files were read.
func (c *Custody) Files() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sums)
}

// copyBufs are io.Copy's buffers, kept between reads: io.Copy makes one
// of 32 KiB for each file it copies from a reader with no WriteTo, and a
// registry's storage has a link file of some 71 bytes for every tag and
// revision (a third of an empty shard's allocations).
var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func copyPooled(w io.Writer, r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(w, r, buf[:])
}
