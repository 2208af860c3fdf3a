// Package engine reads what container engines keep on disk (a layer's
// tar-split and diff folder, a container's overlay upper folder) as the
// layer tars strata's pipeline reads, for the packages of each engine's
// storage to serve as members of an archive.Store.
package engine

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"

	"github.com/vbatts/tar-split/tar/storage"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// MaxTarSplit bounds the decompressed size of one tar-split: a record of
// headers, a few hundred bytes a file, so a layer of a million files stays
// well below it, and a gzip bomb planted in its place stops there.
const MaxTarSplit = 1 << 30

// crcTable is tar-split's: CRC-64/ISO over each file's bytes
// (tar/asm/disassemble.go: crc64.New(storage.CRCTable)).
var crcTable = crc64.MakeTable(crc64.ISO)

// A Split is a layer recorded as a tar-split (Docker's layerdb,
// containers/storage's layers) whose files lie in a diff folder: the tar
// it was pulled as, rebuilt byte for byte while the files are as they were.
type Split struct {
	// Name is the member the rebuilt tar is served as; problems name it.
	Name string
	// Open opens the tar-split file (gzip of JSON lines).
	Open func() (io.ReadCloser, error)
	// Diff is the layer's diff folder, which the files' bytes come from.
	Diff *os.Root
}

// unpack reads a tar-split's entries from s.Open, one at a time.
func (s *Split) unpack(fn func(e *storage.Entry) error) error {
	rc, err := s.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := newGzip(rc)
	if err != nil {
		return err
	}
	lr := limit(zr)
	u := storage.NewJSONUnpacker(lr)
	for {
		e, err := u.Next()
		if errors.Is(err, io.EOF) {
			if lr.N <= 0 {
				return fmt.Errorf("tar-split: more than %d bytes decompressed", int64(MaxTarSplit))
			}
			return nil
		}
		if err != nil {
			if lr.N <= 0 {
				return fmt.Errorf("tar-split: more than %d bytes decompressed", int64(MaxTarSplit))
			}
			return fmt.Errorf("tar-split: %w", err)
		}
		if e.Type != storage.SegmentType && e.Type != storage.FileType {
			return fmt.Errorf("tar-split: entry %d: unknown type %d", e.Position, e.Type)
		}
		if e.Size < 0 {
			return fmt.Errorf("tar-split: entry %d: size %d", e.Position, e.Size)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Size is the size of the rebuilt tar: every segment and every file's
// recorded size.
func (s *Split) Size() (int64, error) {
	var n int64
	err := s.unpack(func(e *storage.Entry) error {
		if e.Type == storage.SegmentType {
			n += int64(len(e.Payload))
		} else {
			n += e.Size
		}
		return nil
	})
	return n, err
}

// A Rebuild is a reader of the tar a Split rebuilds. It never stops short
// for a file that differs from what was recorded: it streams the bytes the
// folder holds now (so that what is scanned is what is there), cut or
// padded with zeros to the recorded size so that the tar stays whole, and
// records the difference; the tar's sha256 then no longer matches the
// layer's diff_id, and Problems says which file made it so.
type Rebuild struct {
	s        *Split
	pr       *io.PipeReader
	problems []integrity.Problem
	done     chan struct{}
}

// Rebuild starts rebuilding the tar of s. done, when set, is given what
// the rebuild found before its reader sees the tar's end, so that whoever
// read it to its end can ask.
func (s *Split) Rebuild(done func([]integrity.Problem)) *Rebuild {
	pr, pw := io.Pipe()
	r := &Rebuild{s: s, pr: pr, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := r.write(pw)
		if err == nil && done != nil {
			done(r.problems)
		}
		pw.CloseWithError(err)
	}()
	return r
}

func (r *Rebuild) Read(p []byte) (int, error) { return r.pr.Read(p) }

// Close stops the rebuild and waits for it.
func (r *Rebuild) Close() error {
	r.pr.CloseWithError(errors.New("rebuild closed"))
	<-r.done
	return nil
}

// Problems is what the rebuild found, once it is done (Close).
func (r *Rebuild) Problems() []integrity.Problem {
	<-r.done
	return r.problems
}

func (r *Rebuild) write(w io.Writer) error {
	buf := make([]byte, 256<<10)
	return r.s.unpack(func(e *storage.Entry) error {
		if e.Type == storage.SegmentType {
			_, err := w.Write(e.Payload)
			return err
		}
		if e.Size == 0 {
			return nil // folders, links, devices, whiteouts: all in their headers
		}
		return r.file(w, e, buf)
	})
}

// file writes the e.Size bytes of one file from the diff folder.
func (r *Rebuild) file(w io.Writer, e *storage.Entry, buf []byte) error {
	name := e.GetName()
	crc := crc64.New(crcTable)
	var got int64
	f, err := archive.OpenRegular(r.s.Diff, name)
	if err == nil {
		ew := &errWriter{w: w}
		n, _ := io.CopyBuffer(io.MultiWriter(ew, crc), io.LimitReader(f, e.Size), buf)
		got = n
		var more [1]byte
		extra, _ := f.Read(more[:])
		f.Close()
		if ew.err != nil {
			return ew.err // the reader went away
		}
		switch {
		case got < e.Size:
			r.drift(name, "is %d bytes, %d when the layer was pulled", got, e.Size)
		case extra > 0:
			r.drift(name, "is longer than the %d bytes it had when the layer was pulled", e.Size)
		case len(e.Payload) > 0 && !bytes.Equal(crc.Sum(nil), e.Payload):
			r.drift(name, "content differs from what was pulled (CRC-64 of its %d bytes)", e.Size)
		}
	} else {
		r.drift(name, "cannot be read (%v): %d bytes of zeros stand for it", err, e.Size)
	}
	// Keep the tar whole whatever the file holds now.
	for left := e.Size - got; left > 0; {
		n := min(left, int64(len(buf)))
		clear(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// errWriter keeps the error of a write, told apart from one of a read.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

func (r *Rebuild) drift(name, format string, args ...any) {
	r.problems = append(r.problems, integrity.Problem{Blob: r.s.Name, Kind: integrity.Drift,
		Detail: "drift: changed: /" + name + " " + fmt.Sprintf(format, args...)})
}

func newGzip(r io.Reader) (*gzip.Reader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("tar-split: %w", err)
	}
	return zr, nil
}

// limit bounds a tar-split's decompressed bytes (MaxTarSplit).
func limit(r io.Reader) *io.LimitedReader { return &io.LimitedReader{R: r, N: MaxTarSplit + 1} }
