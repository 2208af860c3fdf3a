package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/internal/iox"
)

const blockSize = 512

func blockPad(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// headerSize is how many bytes tar.Writer writes for h (with any PAX or
// GNU long-name records before it).
func headerSize(h *tar.Header) (int64, error) {
	var c countWriter
	if err := tar.NewWriter(&c).WriteHeader(h); err != nil {
		return 0, err
	}
	return c.n, nil
}

// open returns a reader of the tar synthesised from the folder.
func (d *rootfsDir) open() io.ReadCloser {
	r := &synthReader{d: d, h: sha256.New()}
	r.tw = tar.NewWriter(&r.buf)
	return r
}

// errChanged is wrapped by the error a read of a folder's layer gives when
// a file is not what was listed.
var errChanged = errors.New("changed since the folder was listed (examine a read-only copy)")

// synthReader streams the tar of a listed root-filesystem folder: each
// entry's header, then a regular file's bytes read from the folder.
type synthReader struct {
	d     *rootfsDir
	tw    *tar.Writer
	buf   bytes.Buffer // bytes written by tw, not yet read
	next  int          // the next entry to write
	f     *os.File     // the regular file being copied
	cur   *fsEntry
	left  int64 // its bytes still to copy
	chunk []byte
	done  bool // the tar's end is written
	err   error
	h     hash.Hash
	n     int64
}

func (r *synthReader) Read(p []byte) (int, error) {
	for r.buf.Len() == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.fill()
	}
	n, _ := r.buf.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, nil
}

// fill writes the next piece of the tar into buf: a chunk of the current
// file, the next header, or the end. It returns io.EOF once all is read.
func (r *synthReader) fill() error {
	switch {
	case r.f != nil:
		if r.chunk == nil {
			r.chunk = make([]byte, readBuffer)
		}
		chunk := r.chunk[:min(r.left, readBuffer)]
		n, err := io.ReadFull(r.f, chunk)
		r.left -= int64(n)
		if _, werr := r.tw.Write(chunk[:n]); werr != nil {
			return werr
		}
		switch {
		case r.left == 0:
			r.f.Close()
			r.f = nil
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return fmt.Errorf("/%s: %w: %d bytes shorter", r.cur.name, errChanged, r.left)
		case err != nil:
			return fmt.Errorf("/%s: %w", r.cur.name, err)
		}
		return nil
	case r.next < len(r.d.entries):
		e := &r.d.entries[r.next]
		r.next++
		if e.typ == tar.TypeReg && e.size > 0 {
			f, err := openFile(r.d.root, e.name)
			if err != nil {
				return fmt.Errorf("/%s: %w", e.name, err)
			}
			fi, err := f.Stat()
			if err != nil || !fi.Mode().IsRegular() || !sameFile(e, fi) || fi.Size() != e.size {
				f.Close()
				return fmt.Errorf("/%s: %w", e.name, errChanged)
			}
			r.f, r.cur, r.left = f, e, e.size
		}
		return r.tw.WriteHeader(e.header())
	case !r.done:
		r.done = true
		return r.tw.Close()
	}
	if r.n != r.d.size {
		return fmt.Errorf("the folder's tar came to %d bytes, %d when it was listed: %w", r.n, r.d.size, errChanged)
	}
	r.d.mu.Lock()
	if r.d.sum == "" {
		r.d.sum = hex.EncodeToString(r.h.Sum(nil))
	}
	r.d.mu.Unlock()
	return io.EOF
}

func (r *synthReader) Close() error {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if r.err == nil {
		r.err = errors.New("read after close")
	}
	return nil
}

// digest is the sha256 of the folder's tar: the one a read made whole, or
// else one made now.
func (d *rootfsDir) digest() (string, error) {
	d.mu.Lock()
	sum := d.sum
	d.mu.Unlock()
	if sum != "" {
		return sum, nil
	}
	r := d.open()
	defer r.Close()
	if _, err := io.Copy(io.Discard, iox.ContextReader{Ctx: d.ctx, R: r}); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sum, nil
}
