package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/internal/iox"
	"github.com/strata-forensics/strata/forensics/internal/readahead"
)

// Limits bound what one layer may cost. Zero means the default.
type Limits struct {
	MaxEntries int     // entries in one layer
	MaxBytes   int64   // uncompressed bytes in one layer
	MaxPathLen int     // bytes in one entry name
	MaxRatio   float64 // uncompressed / compressed bytes, checked past 64 MiB
}

// Default limits: generous for real images, fatal for bombs. Half a million
// entries is several times the largest layers seen in the wild (a full TeX
// Live, a monorepo's node_modules) and keeps a layer's entries and their
// tree within about 150 MB (some 270 bytes a path); --max-entries raises it
// for the rare image that needs more, at that cost.
var DefaultLimits = Limits{
	MaxEntries: 500_000,
	MaxBytes:   64 << 30,
	MaxPathLen: 4096,
	MaxRatio:   1000,
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxPathLen == 0 {
		l.MaxPathLen = DefaultLimits.MaxPathLen
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// ErrLimit is wrapped by every error that a Limits bound caused.
var ErrLimit = errors.New("limit reached")

// LimitError names the limit, and the flag that raises it.
type LimitError struct {
	Limit string // e.g. "entries per layer"
	Flag  string // e.g. "--max-entries"
	Value string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s limit %s reached (raise with %s)", e.Limit, e.Value, e.Flag)
}

func (e *LimitError) Unwrap() error { return ErrLimit }

// FormatError says where in the uncompressed layer stream reading broke.
type FormatError struct {
	Offset int64
	Err    error
}

func (e *FormatError) Error() string { return fmt.Sprintf("at offset %d: %v", e.Offset, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// Sink receives one regular file's bytes as they stream past. Done is called
// after the last byte with the entry's SHA256 filled in, or with err when the
// stream broke inside the file.
type Sink interface {
	io.Writer
	Done(e *Entry, err error)
}

// Options configure Walk.
type Options struct {
	Limits Limits
	// Sinks is asked, for every regular file, which sinks want its bytes.
	// It may return nil. It runs on the walking goroutine, and a file's
	// sinks are done before the next file's are asked for, so that they
	// can be reused. Files that may be eStargz metadata (see held) are
	// asked for late, once the walk knows they are files of the image, and
	// never when they are not.
	Sinks func(e *Entry) []Sink
	// Entry, when set, is called for every entry of Summary.Entries after
	// its content was read (for possible eStargz metadata, as late as
	// Sinks); never for Summary.FormatEntries.
	Entry func(e *Entry)
	// RawSHA256, when set, returns the sha256 of the raw blob, which the
	// caller computes while Walk reads it (a digest check). Walk calls it
	// only once the blob was read to its end without error; an uncompressed
	// blob is then its own diff_id and its bytes are not hashed twice.
	RawSHA256 func() digest.Digest
	// Budget, when set, is told the size of every read of the uncompressed
	// stream; an error from it (a budget shared by several layers, such as
	// an image's) stops the walk.
	Budget func(n int64) error
	// EntryBudget, when set, is called before each entry is recorded; an
	// error from it (a count shared by all the layers of an input) stops
	// the walk.
	EntryBudget func() error
	// Cores, when set, lends the walk a spare core while one is free: the
	// blob is then read and decompressed on it, ahead of the walk.
	Cores readahead.Cores
}

// Summary is what one pass over a layer blob learnt.
type Summary struct {
	Compression      compress.Format
	DiffID           digest.Digest // sha256 of the uncompressed stream
	UncompressedSize int64
	Entries          []*Entry // in tar order, whiteouts included; one allocation each, so a million entries never move
	Anomalies        []Anomaly
	// Skipped lists limits that dropped entries without stopping the walk
	// (a name over --max-path), each once.
	Skipped []*LimitError `json:",omitempty"`
	// Format names the layer's encoding when the blob's own bytes prove one
	// (a footer at its end): FormatEStargz, FormatZstdChunked, or "" for a
	// plain (compressed) tar. It is set only by a walk that read the blob to
	// its end without error.
	Format string `json:",omitempty"`
	// FormatEntries are the entries that the Format added to the tar for its
	// own use and that are no files of the image: for eStargz the root
	// stargz.index.json (its SHA256 is the toc.digest annotation's) and the
	// landmark. They are left out of Entries, were given to no sink and to
	// no Entry callback, but their bytes are in DiffID and UncompressedSize.
	FormatEntries []*Entry `json:",omitempty"`
}

// countingReader counts bytes and checks the byte limit on the way.
type countingReader struct {
	r      io.Reader
	n      int64
	max    int64
	budget func(int64) error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		return n, &LimitError{Limit: "uncompressed bytes per layer", Flag: "--max-layer-bytes", Value: fmt.Sprint(c.max)}
	}
	if c.budget != nil && n > 0 {
		if berr := c.budget(int64(n)); berr != nil {
			return n, berr
		}
	}
	return n, err
}

// Walk reads a layer blob (compressed or not) to its end: every entry is
// recorded, every regular file hashed and fed to the sinks, the uncompressed
// stream hashed for the diff_id, and the raw blob drained so that a verifying
// reader underneath sees its last byte. On error the Summary holds what was
// read before it. An eStargz layer's metadata entries are left out of
// Entries, once its footer proved the format (see held and Summary.Format).
func Walk(ctx context.Context, blob io.Reader, opts Options) (*Summary, error) {
	lim := opts.Limits.withDefaults()
	tail := &tailReader{r: blob}
	raw := &countingReader{r: tail}
	dec, format, err := compress.Reader(raw)
	sum := &Summary{Compression: format}
	if err != nil {
		return sum, &FormatError{Offset: 0, Err: err}
	}
	defer dec.Close()

	diff := sha256.New()
	var src io.Reader = dec
	if format != compress.None {
		src = iox.NewRatioReader(dec, func() int64 { return raw.n }, lim.MaxRatio, func(int64, int64) error {
			return &LimitError{Limit: "decompression ratio", Flag: "--max-ratio", Value: fmt.Sprint(lim.MaxRatio)}
		})
	}
	// Everything above reads in the read-ahead goroutine while a core is
	// free: the raw blob, its digest check and the decompression; the tar
	// walk, the diff_id and the files' hashes stay here. It is closed, and
	// raw is no longer read by it, before raw is drained below or Walk
	// returns.
	ahead := readahead.New(src, opts.Cores)
	defer ahead.Close()
	src = ahead
	rawIsDiff := format == compress.None && opts.RawSHA256 != nil
	if !rawIsDiff {
		src = io.TeeReader(src, diff)
	}
	un := &countingReader{r: src, max: lim.MaxBytes, budget: opts.Budget}
	w := walker{sum: sum, lim: lim, opts: opts, format: format, seen: map[string]*Entry{}, fileHash: sha256.New()}
	werr := w.walk(ctx, un)
	if werr == nil {
		// Trailing zero blocks and padding belong to the diff_id too.
		if _, err := io.Copy(io.Discard, un); err != nil {
			werr = &FormatError{Offset: un.n, Err: err}
		}
	}
	sum.UncompressedSize = un.n
	if werr != nil {
		w.release()
		return sum, werr
	}
	if !rawIsDiff {
		sum.DiffID = digest.NewDigestFromBytes(digest.SHA256, diff.Sum(nil))
	}
	// Drain the raw blob so a digest check underneath runs to completion.
	ahead.Close()
	if _, err := io.Copy(io.Discard, raw); err != nil {
		w.release()
		return sum, err
	}
	// The footer, if any, has been read: eStargz metadata held back by the
	// walk is left out or put back (see held).
	w.settle(format, tail.bytes(), raw.n)
	if rawIsDiff {
		sum.DiffID = opts.RawSHA256()
	}
	return sum, nil
}

type walker struct {
	sum      *Summary
	lim      Limits
	opts     Options
	format   compress.Format   // the blob's compression
	seen     map[string]*Entry // the last entry written at a path, for duplicates and hardlinks
	fileHash hash.Hash
	held     []held            // eStargz metadata candidates, not yet recorded (see held)
	digest   [sha256.Size]byte // a file's digest; a local would escape through hash.Hash
	buf      [64 << 10]byte
}

func (w *walker) anomaly(e *Entry, kind, detail string) {
	w.sum.Anomalies = append(w.sum.Anomalies, Anomaly{Path: e.Path, Kind: kind, Detail: detail, Offset: e.Offset})
}

func (w *walker) walk(ctx context.Context, un *countingReader) error {
	tr := tar.NewReader(un)
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := un.n
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &FormatError{Offset: start, Err: err}
		}
		// An eStargz TOC is the last entry: one followed by another is
		// an ordinary file, recorded before the entry that follows it.
		w.releaseTOC()
		if n >= w.lim.MaxEntries {
			return &LimitError{Limit: "entries per layer", Flag: "--max-entries", Value: fmt.Sprint(w.lim.MaxEntries)}
		}
		if w.opts.EntryBudget != nil {
			if err := w.opts.EntryBudget(); err != nil {
				return err
			}
		}
		if len(h.Name) > w.lim.MaxPathLen {
			// The preview is cut at 64 bytes or the limit, whichever is
			// shorter: --max-path may be set below 64.
			e := &Entry{Path: "/" + strings.ToValidUTF8(h.Name[:min(64, w.lim.MaxPathLen)], "?") + "…", Offset: un.n}
			w.anomaly(e, AnomalyBadName, fmt.Sprintf("name of %d bytes exceeds --max-path %d; entry skipped", len(h.Name), w.lim.MaxPathLen))
			if len(w.sum.Skipped) == 0 {
				w.sum.Skipped = append(w.sum.Skipped, &LimitError{Limit: "bytes in an entry name", Flag: "--max-path", Value: fmt.Sprint(w.lim.MaxPathLen)})
			}
			continue
		}
		e, ok := w.entry(h, un.n)
		if !ok {
			continue
		}
		isHeld := false
		if w.format == compress.Gzip && holdable(e) {
			if isHeld, err = w.hold(tr, e); err != nil {
				return &FormatError{Offset: un.n, Err: fmt.Errorf("%s: %w", e.Path, err)}
			}
		} else if e.Type == File {
			if err := w.content(tr, e); err != nil {
				return &FormatError{Offset: un.n, Err: fmt.Errorf("%s: %w", e.Path, err)}
			}
		}
		if prev, dup := w.seen[e.Path]; dup && e.Type != Whiteout && e.Type != Opaque && prev.Type != Dir {
			w.anomaly(e, AnomalyDuplicate, "path appears again in the same layer; the later entry wins")
		}
		if e.Type != Whiteout && e.Type != Opaque {
			w.seen[e.Path] = e
		}
		if !isHeld {
			w.record(e)
		}
	}
}

// record appends an entry to the summary and tells the Entry callback.
func (w *walker) record(e *Entry) {
	w.sum.Entries = append(w.sum.Entries, e)
	if w.opts.Entry != nil {
		w.opts.Entry(e)
	}
}

// entry converts a header; ok is false for entries that do not exist in a
// filesystem (the root itself, aufs bookkeeping, global PAX headers).
func (w *walker) entry(h *tar.Header, offset int64) (*Entry, bool) {
	p, anomaly := CleanPath(h.Name)
	e := &Entry{
		Path:   p,
		Mode:   modeOf(h),
		UID:    h.Uid,
		GID:    h.Gid,
		Size:   h.Size,
		MTime:  h.ModTime.Unix(),
		Offset: offset,
		Name:   unusualName(h.Name, p),
	}
	e.MTimeNsec = int32(h.ModTime.Nanosecond())
	if p == "/" && anomaly == AnomalyAbsolute {
		// umoci writes the root folder itself as "/": odd, not hostile.
		anomaly = ""
	}
	if anomaly != "" {
		w.anomaly(e, anomaly, fmt.Sprintf("entry name %q", h.Name))
	}
	for k, v := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[strings.TrimPrefix(k, "SCHILY.xattr.")] = v
		}
	}
	if t, target, meta := classifyWhiteout(p); meta {
		return nil, false
	} else if t != 0 {
		if h.Typeflag != tar.TypeReg || h.Size != 0 {
			w.anomaly(e, AnomalyWhiteoutMeta, fmt.Sprintf("whiteout marker of type %q with %d bytes", h.Typeflag, h.Size))
		}
		e.Type, e.Path, e.Size = t, target, 0
		return e, true
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // the reader already turns TypeRegA into TypeReg
		e.Type = File
	case tar.TypeDir:
		e.Type, e.Size = Dir, 0
	case tar.TypeSymlink:
		e.Type, e.Link, e.Size = Symlink, h.Linkname, 0
	case tar.TypeLink:
		target, lanomaly := CleanPath(h.Linkname)
		e.Type, e.Link = Hardlink, target
		if lanomaly == AnomalyTraversal {
			w.anomaly(e, AnomalyTraversal, fmt.Sprintf("hardlink target %q", h.Linkname))
		}
		if t, ok := w.seen[target]; ok && t.Type == File {
			e.SHA256, e.Size = t.SHA256, t.Size
		} else {
			e.Size = 0 // resolved against lower layers by the tree
		}
	case tar.TypeChar:
		e.Type, e.Size = Char, 0
		w.anomaly(e, AnomalyDevice, fmt.Sprintf("character device %d:%d", h.Devmajor, h.Devminor))
	case tar.TypeBlock:
		e.Type, e.Size = Block, 0
		w.anomaly(e, AnomalyDevice, fmt.Sprintf("block device %d:%d", h.Devmajor, h.Devminor))
	case tar.TypeFifo:
		e.Type, e.Size = FIFO, 0
	default:
		// Global PAX headers, GNU long names and volume labels carry no file.
		return nil, false
	}
	if p == "/" {
		return nil, false
	}
	return e, true
}

func modeOf(h *tar.Header) fs.FileMode {
	m := fs.FileMode(h.Mode & 0o777)
	if h.Mode&04000 != 0 {
		m |= fs.ModeSetuid
	}
	if h.Mode&02000 != 0 {
		m |= fs.ModeSetgid
	}
	if h.Mode&01000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// content streams one regular file through its hash and the sinks.
func (w *walker) content(r io.Reader, e *Entry) error {
	var sinks []Sink
	if w.opts.Sinks != nil {
		sinks = w.opts.Sinks(e)
	}
	w.fileHash.Reset()
	var err error
	for {
		n, rerr := r.Read(w.buf[:])
		if n > 0 {
			chunk := w.buf[:n]
			w.fileHash.Write(chunk)
			for _, s := range sinks {
				s.Write(chunk) // sinks record their own failures; one must not stop the walk
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err == nil {
		e.SHA256 = hexDigest(w.fileHash.Sum(w.digest[:0]))
	}
	for _, s := range sinks {
		s.Done(e, err)
	}
	return err
}

// unusualName keeps a tar name as evidence only when it is not one of the
// ordinary spellings of its cleaned path ("a", "./a", "/a", "a/"): most
// names are ordinary, and a million entries need not carry their path twice.
func unusualName(name, clean string) string {
	plain := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/"), "/")
	if len(clean) == len(plain)+1 && clean[0] == '/' && clean[1:] == plain {
		return ""
	}
	return name
}
