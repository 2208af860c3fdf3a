// Package engine reads what container engines keep on disk (a layer's
// tar-split and diff folder, a container's overlay upper folder) as the
// layer tars strata's pipeline reads, for the packages of each engine's
// storage to serve as members of an archive.Store.
package engine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"path"
	"strconv"
	"sync"

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
	// OwnerShift is what the engine added to the tar's owners when it
	// applied the layer (a user namespace's first ID); -1 when it cannot
	// be known (a rootless store maps IDs through ranges), and owners are
	// then not compared by Drift.
	OwnerShift int
	// Override is set for a containers/storage layer, whose files may
	// record the mode and owner meant for them in OverrideXattr.
	Override *StatOverride

	files Beneath // opens Diff's files

	mu   sync.Mutex
	kept *Headers // the tar's headers, kept by the last rebuild read to its end
}

// Close releases what opening the layer's files holds (not Diff, which
// its owner closes).
func (s *Split) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files.Close()
}

func (s *Split) opener() *Beneath {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files.root == nil {
		s.files.root = s.Diff
	}
	return &s.files
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
	u := newSplitReader(lr)
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
// recorded size. It reads the lines without decoding them (a tenth of the
// cost: a layer's tar-split is read at every open of a store), and
// decodes them in full when a line is not as tar-split writes it.
func (s *Split) Size() (int64, error) {
	if n, ok := s.quickSize(); ok {
		return n, nil
	}
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
// records what its size shows (a file shorter, longer or unreadable). A
// file whose bytes changed but not its size shows only in the tar's
// sha256, which then no longer matches the layer's diff_id: Changed names
// it then. The rebuild itself computes no CRC-64: the diff_id vouches for
// every byte when it matches, and it matches but for tampering.
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
	hs := NewHeaders()
	var padding int64 // of the file before the next segment
	err := r.s.unpack(func(e *storage.Entry) error {
		if e.Type == storage.SegmentType {
			// Each segment holds one member's raw header (after the
			// previous file's padding): the headers Drift compares the
			// folder with, had here without a second pass.
			padding = hs.addSegment(e.Payload, padding)
			_, err := w.Write(e.Payload)
			return err
		}
		if e.Size == 0 {
			return nil // folders, links, devices, whiteouts: all in their headers
		}
		return r.file(w, e, buf)
	})
	if err == nil {
		r.s.mu.Lock()
		r.s.kept = hs
		r.s.mu.Unlock()
	}
	return err
}

// file writes the e.Size bytes of one file from the diff folder.
func (r *Rebuild) file(w io.Writer, e *storage.Entry, buf []byte) error {
	name := e.GetName()
	var got int64
	f, size, err := r.s.opener().Open(name)
	if err == nil {
		ew := &errWriter{w: w}
		n, _ := io.CopyBuffer(ew, io.LimitReader(f, e.Size), buf)
		got = n
		f.Close()
		if ew.err != nil {
			return ew.err // the reader went away
		}
		if p, ok := r.s.sized(name, e.Size, got, size); !ok {
			r.problems = append(r.problems, p)
		}
	} else {
		r.problems = append(r.problems, r.s.unreadable(name, e.Size, err))
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

// Changed names the files of the layer whose bytes differ from what the
// tar-split recorded when it was pulled: each file it lists is read again
// and its CRC-64 compared with the record's (a file shorter, longer or
// unreadable is said as a rebuild says it). It is the second look a layer
// whose rebuilt tar does not match its diff_id is given, to say why.
func (s *Split) Changed(ctx context.Context) ([]integrity.Problem, error) {
	return s.changed(ctx, nil)
}

// changed is Changed, adding to files (when not nil) each file it names
// that can still be read: its bytes are not the layer's.
func (s *Split) changed(ctx context.Context, files *driftFiles) ([]integrity.Problem, error) {
	var out []integrity.Problem
	buf := make([]byte, 256<<10)
	crc := crc64.New(crcTable)
	err := s.unpack(func(e *storage.Entry) error {
		if e.Type != storage.FileType || e.Size == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.GetName()
		f, size, err := s.opener().Open(name)
		if err != nil {
			out = append(out, s.unreadable(name, e.Size, err))
			return nil
		}
		crc.Reset()
		got, _ := io.CopyBuffer(crc, io.LimitReader(f, e.Size), buf)
		f.Close()
		if p, ok := s.sized(name, e.Size, got, size); !ok {
			out = append(out, p)
			files.add(path.Clean("/"+name), size, archive.DriftChanged)
		} else if len(e.Payload) > 0 && !bytes.Equal(crc.Sum(nil), e.Payload) {
			out = append(out, s.drift(name, "content differs from what was pulled (CRC-64 of its %d bytes)", e.Size))
			files.add(path.Clean("/"+name), size, archive.DriftChanged)
		}
		return nil
	})
	return out, err
}

// sized compares a file's size now (size; got of them read, up to the
// recorded want) with the recorded one.
func (s *Split) sized(name string, want, got, size int64) (integrity.Problem, bool) {
	switch {
	case got < want:
		return s.drift(name, "is %d bytes, %d when the layer was pulled", got, want), false
	case size > want:
		return s.drift(name, "is longer than the %d bytes it had when the layer was pulled", want), false
	}
	return integrity.Problem{}, true
}

func (s *Split) unreadable(name string, size int64, err error) integrity.Problem {
	return s.drift(name, "cannot be read (%v): %d bytes of zeros stand for it", err, size)
}

func (s *Split) drift(name, format string, args ...any) integrity.Problem {
	return integrity.Problem{Blob: s.Name, Kind: integrity.Drift,
		Detail: "drift: changed: /" + name + " " + fmt.Sprintf(format, args...)}
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

func newGzip(r io.Reader) (*gzip.Reader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("tar-split: %w", err)
	}
	return zr, nil
}

// limit bounds a tar-split's decompressed bytes (MaxTarSplit).
func limit(r io.Reader) *io.LimitedReader { return &io.LimitedReader{R: r, N: MaxTarSplit + 1} }

// quickSize sums the sizes of a tar-split's lines as storage.JSONPacker
// writes them ({"type":1,"name":…,"size":N,…} for a file,
// {"type":2,"payload":"<base64>",…} for a segment) without decoding
// them: a file's "size" field, a segment's decoded payload length. A name
// cannot hold the bytes `"size":` or `"payload":"` unescaped (its quotes
// are escaped), so the first of each in a line is the field. ok is false
// for anything else, and Size decodes in full.
func (s *Split) quickSize() (n int64, ok bool) {
	rc, err := s.Open()
	if err != nil {
		return 0, false
	}
	defer rc.Close()
	zr, err := newGzip(rc)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(limit(zr))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte(`{"type":1,`)):
			i := bytes.Index(line, []byte(`"size":`))
			if i < 0 {
				// A file of size 0 has no size field (omitempty).
				continue
			}
			rest := line[i+len(`"size":`):]
			j := bytes.IndexAny(rest, ",}")
			v, err := strconv.ParseInt(string(rest[:max(j, 0)]), 10, 64)
			if j < 0 || err != nil || v < 0 {
				return 0, false
			}
			n += v
		case bytes.HasPrefix(line, []byte(`{"type":2,`)):
			i := bytes.Index(line, []byte(`"payload":"`))
			if i < 0 {
				return 0, false
			}
			rest := line[i+len(`"payload":"`):]
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				return 0, false
			}
			m := base64.StdEncoding.DecodedLen(j)
			if j > 0 && rest[j-1] == '=' {
				m--
				if j > 1 && rest[j-2] == '=' {
					m--
				}
			}
			n += int64(m)
		case len(bytes.TrimSpace(line)) == 0:
		default:
			return 0, false
		}
	}
	return n, sc.Err() == nil
}
