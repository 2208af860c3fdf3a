// Package archive opens an input as found on disk (a docker save tarball, an
// OCI image-layout folder or an OCI archive, optionally compressed as a
// whole) and gives read-only access to its members by name. It indexes a tar
// once and reads members in place; it never unpacks to disk unless asked to
// with a temporary folder, and never writes to the input.
package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// Format is the layout of the input.
type Format string

const (
	DockerArchive Format = "docker-archive" // docker save, legacy or Docker 25+ (OCI inside)
	OCILayout     Format = "oci-layout"     // an OCI image-layout folder
	OCIArchive    Format = "oci-archive"    // a tar of an OCI image layout
)

// ErrNotAFile is returned for a pipe, a socket or a device: an input is a
// file (or an image layout folder), read in place and hashed whole.
var ErrNotAFile = errors.New("not a regular file or folder; save the stream to a file first (docker save -o image.tar IMAGE)")

// ErrUnknownFormat is returned when the input is none of the formats above.
var ErrUnknownFormat = errors.New("not a docker-archive, OCI layout or OCI archive")

// Info describes the input itself, for the chain of custody.
type Info struct {
	Path        string          `json:"path"`
	Format      Format          `json:"format"`
	Compression compress.Format `json:"compression,omitempty"`
	SHA256      string          `json:"sha256"`
	Size        int64           `json:"size"`
	// OCI is true when the input carries an OCI image layout (index.json),
	// which then is the truth for what images there are.
	OCI bool `json:"-"`
}

// Member is one file of the input: a tar member, or a file below a folder.
type Member struct {
	Name   string // slash-separated, cleaned, relative ("blobs/sha256/ab…")
	Offset int64  // where its content starts in the (decompressed) tar
	Size   int64
}

// Options configure Open.
type Options struct {
	// TmpDir, when set and the input is compressed as a whole, receives one
	// decompressed copy so members can be read in place; otherwise members
	// of a compressed input are reached by decompressing again.
	TmpDir string
	// MaxMembers bounds the number of members indexed.
	MaxMembers int
	// MaxRatio bounds decompressed / compressed bytes of an input
	// compressed as a whole, checked past 64 MiB (a bomb of zeros otherwise
	// keeps the indexer busy for as long as it likes); 0 means 1000.
	MaxRatio float64
	// Throttle, when set, is called before the input's own sha256 is
	// computed in the background, and the function it returns when that is
	// done: a scan of many inputs bounds how much CPU-heavy work runs at
	// once, so that the biggest layer keeps a core to itself.
	Throttle func(context.Context) (done func())
	// Early, when set, is offered every member of an input compressed as a
	// whole (without TmpDir) that is too big to be kept in memory, while
	// the index decompresses it, so that the caller can read layers in
	// that pass rather than in a second one. It may stop reading r before
	// its end, and must not keep it.
	Early func(name string, offset, size int64, r io.Reader)
	// SmallMember is the size up to which a member of an input compressed
	// as a whole is kept in memory by the index (indexes, manifests,
	// configs), and not offered to Early: 0 means 1 MiB, a negative size
	// keeps none (which tests use to send every member through Early).
	SmallMember int64
	// Progress, when set, is told every few MiB how many bytes of an input
	// compressed as a whole the index has read, and of how many.
	Progress func(read, total int64)
}

// progressEvery is how many input bytes go between two Progress calls.
const progressEvery = 4 << 20

// progressReader tells Options.Progress how far the input was read.
type progressReader struct {
	r       io.Reader
	n, next int64
	total   int64
	report  func(read, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.report != nil && (p.n >= p.next || err == io.EOF) {
		p.report(p.n, p.total)
		p.next = p.n + progressEvery
	}
	return n, err
}

// ErrRatio is wrapped by the error an input compressed as a whole gives
// once it expands beyond Options.MaxRatio.
var ErrRatio = errors.New("decompression ratio limit reached (raise with --max-ratio)")

// ratioReader fails, for good, once the decompressed stream outgrows the
// compressed bytes read by more than max, after a grace of 64 MiB.
type ratioReader struct {
	r          io.Reader
	compressed *offsetReader
	n          int64
	max        float64
	err        error
}

func (q *ratioReader) Read(p []byte) (int, error) {
	if q.err != nil {
		return 0, q.err
	}
	n, err := q.r.Read(p)
	q.n += int64(n)
	if q.n > 64<<20 && q.compressed.n > 0 && float64(q.n)/float64(q.compressed.n) > q.max {
		q.err = fmt.Errorf("%w: %d bytes from %d compressed, beyond %g:1", ErrRatio, q.n, q.compressed.n, q.max)
		return n, q.err
	}
	return n, err
}

// smallMember is the size up to which members of a compressed input are
// kept in memory during the index pass (indexes, manifests, configs) by
// default, and smallBudget bounds their total.
const (
	smallMember = 1 << 20
	smallBudget = 64 << 20
)

// Archive is an opened input.
type Archive struct {
	Info     Info
	Problems []integrity.Problem

	members map[string]*Member
	order   []string // names in archive order

	dir  *os.Root // folder input
	file *os.File // tar input, or the decompressed temporary copy
	tmp  string   // temporary copy to remove on Close

	// compressed input without a temporary copy: small members kept, the
	// rest reached by a new decompression pass.
	compressed bool
	small      map[string][]byte

	links map[string]string // link member -> target member, resolved after indexing

	// An uncompressed tar's sha256 is computed by a reader of its own while
	// the members are read; Wait collects it into Info.
	hashing   chan struct{} // closed when the background hash is done; nil when none
	hashSum   string
	hashErr   error
	stopHash  context.CancelFunc
	hashOnce  sync.Once
	startHash func([]*Comparison) // starts the background hash; nil when none
}

// FormatError names the input and the offset where it broke.
type FormatError struct {
	File   string
	Offset int64
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.File, e.Offset, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// Open opens path read-only and indexes it.
func Open(ctx context.Context, p string, opts Options) (*Archive, error) {
	if opts.MaxMembers == 0 {
		opts.MaxMembers = 1_000_000
	}
	st, err := os.Stat(p)
	if err != nil {
		if p == "-" && errors.Is(err, fs.ErrNotExist) {
			// The usual name for standard input, which is a stream.
			return nil, fmt.Errorf("-: standard input is %w", ErrNotAFile)
		}
		return nil, err
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		// Blobs are read in place, by offset, and the input is hashed
		// whole: a pipe or a device can be read only once.
		return nil, fmt.Errorf("%s: %w", p, ErrNotAFile)
	}
	a := &Archive{Info: Info{Path: p}, members: map[string]*Member{}}
	if st.IsDir() {
		err = a.openDir(p, opts)
	} else {
		err = a.openFile(ctx, p, opts)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	a.resolveLinks()
	if err := a.detect(); err != nil {
		a.Close()
		// A cut-short archive usually loses its index, which tar writers
		// put last: say it is truncated, not that it is of an unknown kind.
		for _, pr := range a.Problems {
			if pr.Kind == integrity.Truncated {
				return nil, fmt.Errorf("%s: %w: truncated: %s", p, err, pr.Detail)
			}
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

func (a *Archive) add(name string, off, size int64) {
	name = cleanName(name)
	if name == "" {
		return
	}
	if prev, dup := a.members[name]; !dup {
		a.order = append(a.order, name)
	} else if a.dir == nil {
		// Producers write each member once (containerd's writeTar
		// dedups); a second one is a tar appended to, and readers
		// disagree on which copy counts (tar keeps the last, a
		// streaming reader may take the first).
		a.Problems = append(a.Problems, integrity.Problem{Blob: name, Kind: integrity.DuplicateMember,
			Detail: fmt.Sprintf("%s is in the archive twice (offsets %d and %d, %d and %d bytes); the last is read", name, prev.Offset, off, prev.Size, size)})
	}
	a.members[name] = &Member{Name: name, Offset: off, Size: size}
}

func cleanName(n string) string {
	n = path.Clean("/" + strings.ReplaceAll(n, "\\", "/"))
	return strings.TrimPrefix(n, "/")
}

func (a *Archive) detect() error {
	hasLayout := a.members["oci-layout"] != nil && a.members["index.json"] != nil
	hasManifest := a.members["manifest.json"] != nil
	switch {
	case a.dir != nil && hasLayout:
		a.Info.Format, a.Info.OCI = OCILayout, true
	case a.dir != nil && hasManifest:
		a.Info.Format = DockerArchive
	case hasManifest:
		a.Info.Format, a.Info.OCI = DockerArchive, hasLayout
	case hasLayout:
		a.Info.Format, a.Info.OCI = OCIArchive, true
	default:
		return ErrUnknownFormat
	}
	return nil
}

func (a *Archive) openDir(p string, opts Options) error {
	root, err := os.OpenRoot(p)
	if err != nil {
		return err
	}
	a.dir = root
	a.Info.Format = OCILayout
	var listing []string
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // folders; links are never followed
		}
		if len(a.members) >= opts.MaxMembers {
			return fmt.Errorf("more than %d files", opts.MaxMembers)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		a.add(name, 0, fi.Size())
		total += fi.Size()
		listing = append(listing, name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	// A folder has no single byte stream; its digest is that of a listing
	// of every file's sha256 and name, sorted, as sha256sum prints it.
	sort.Strings(listing)
	h := sha256.New()
	for _, name := range listing {
		fh, err := hashMember(root, name)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(p, name), err)
		}
		fmt.Fprintf(h, "%s  %s\n", fh, name)
	}
	a.Info.SHA256 = hex.EncodeToString(h.Sum(nil))
	a.Info.Size = total
	return nil
}

func hashMember(root *os.Root, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (a *Archive) openFile(ctx context.Context, p string, opts Options) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	a.file = f
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a.Info.Size = st.Size()
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	a.Info.Compression = compress.Sniff(head[:n])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if a.Info.Compression == compress.None {
		return a.indexPlain(ctx, p, opts)
	}
	return a.indexCompressed(ctx, p, opts)
}

// indexPlain reads only tar headers (the tar reader seeks over content).
// The input's sha256 is computed by a second reader in the background,
// started by StartHash (or Wait) while the caller goes on to read the
// members: Wait collects it.
func (a *Archive) indexPlain(ctx context.Context, p string, opts Options) error {
	hctx, stop := context.WithCancel(ctx)
	a.hashing, a.stopHash = make(chan struct{}), stop
	a.startHash = func(cs []*Comparison) {
		go func() {
			defer close(a.hashing)
			defer decideAll(cs)
			if opts.Throttle != nil {
				defer opts.Throttle(hctx)()
			}
			a.hashSum, a.hashErr = a.hashFile(hctx, p, cs)
		}()
	}
	return a.indexTar(ctx, p, a.file, opts, nil)
}

// StartHash starts the input's own sha256 in the background, comparing the
// members named by cs on the way, and reports whether it did: it is false
// when the input is not hashed in the background (a folder, an input
// compressed as a whole) or the hash was started already, and cs are then
// left alone. Each Comparison is decided once the hash has passed its
// member.
func (a *Archive) StartHash(cs []*Comparison) bool {
	started := false
	if a.startHash != nil {
		a.hashOnce.Do(func() {
			for _, c := range cs {
				c.done = make(chan struct{})
			}
			a.startHash(cs)
			started = true
		})
	}
	return started
}

// Wait returns once the input's own sha256 is in Info.SHA256. For an
// uncompressed tar it is computed while the members are read, and Wait
// blocks until that reader is done; otherwise it is known when Open
// returns. It must not run concurrently with other uses of Info.
func (a *Archive) Wait() error {
	if a.hashing == nil {
		return nil
	}
	a.StartHash(nil)
	<-a.hashing
	if a.hashErr != nil {
		return fmt.Errorf("%s: hashing the input: %w", a.Info.Path, a.hashErr)
	}
	a.Info.SHA256 = a.hashSum
	return nil
}

// hashFile is the sha256 of the file at p, read once; the members named
// by cs are compared with their other bytes as the read passes them.
func (a *Archive) hashFile(ctx context.Context, p string, cs []*Comparison) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	cmps := a.regions(cs)
	defer func() {
		for _, r := range cmps {
			if r.other != nil {
				r.other.Close() // a region the hash did not finish
			}
		}
	}()
	buf, other := make([]byte, readBuffer), make([]byte, readBuffer)
	r := ctxReader{ctx, f}
	var off int64
	for {
		n := len(buf)
		var cur *region
		if len(cmps) > 0 {
			c := cmps[0]
			if off < c.start {
				n = int(min(int64(n), c.start-off)) // stop where the member starts
			} else {
				cur = c
				n = int(min(int64(n), c.end-off))
			}
		}
		if n == 0 {
			// An empty member: decided on its other bytes alone.
			cur.compare(nil, other)
			cur.finish()
			cmps = cmps[1:]
			continue
		}
		got, err := io.ReadFull(r, buf[:n])
		h.Write(buf[:got])
		if cur != nil {
			cur.compare(buf[:got], other)
		}
		off += int64(got)
		if cur != nil && off == cur.end {
			cur.finish()
			cmps = cmps[1:]
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// A Comparison asks the background hash of an input (StartHash) to compare
// one of its members, byte for byte, with bytes read elsewhere, such as
// another input's verified copy of the same blob: the member is then read
// once for both.
type Comparison struct {
	Member string
	Open   func() (io.ReadCloser, error) // the other bytes
	Size   int64                         // how many other bytes there are

	done chan struct{}
	same bool
}

// Same waits until the member was compared and reports whether it holds
// exactly the other bytes. It is false when they differ, when they could
// not be read or the member not reached, when ctx ends first, and at once
// when no hash took the comparison (StartHash was false).
func (c *Comparison) Same(ctx context.Context) bool {
	if c.done == nil {
		return false
	}
	select {
	case <-c.done:
		return c.same
	case <-ctx.Done():
		return false
	}
}

func decideAll(cs []*Comparison) {
	for _, c := range cs {
		select {
		case <-c.done:
		default:
			close(c.done) // not reached, or given up on: not the same
		}
	}
}

// region is a Comparison placed in the input file.
type region struct {
	c          *Comparison
	start, end int64
	other      io.ReadCloser
	failed     bool
}

// regions places the comparisons in the file, in order, leaving out those
// whose member is missing, of another size, or overlapping the one before.
func (a *Archive) regions(cs []*Comparison) []*region {
	var out []*region
	for _, c := range cs {
		m, ok := a.members[cleanName(c.Member)]
		if !ok || m.Size != c.Size || c.Open == nil {
			continue
		}
		out = append(out, &region{c: c, start: m.Offset, end: m.Offset + m.Size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	kept := out[:0]
	for _, r := range out {
		if len(kept) > 0 && r.start < kept[len(kept)-1].end {
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// compare checks the member's next bytes b against as many other bytes.
func (r *region) compare(b, other []byte) {
	if r.failed {
		return
	}
	if r.other == nil {
		rc, err := r.c.Open()
		if err != nil {
			r.failed = true
			return
		}
		r.other = rc
	}
	for len(b) > 0 {
		n := min(len(b), len(other))
		if _, err := io.ReadFull(r.other, other[:n]); err != nil || !bytes.Equal(b[:n], other[:n]) {
			r.failed = true
			return
		}
		b = b[n:]
	}
}

// finish decides the comparison once the member ended: the same when every
// byte matched and the other bytes end there too.
func (r *region) finish() {
	if !r.failed && r.other == nil {
		r.compare(nil, nil)
	}
	same := !r.failed
	if same {
		var probe [1]byte
		n, _ := io.ReadFull(r.other, probe[:])
		same = n == 0
	}
	if r.other != nil {
		r.other.Close()
	}
	r.c.same = same
	close(r.c.done)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// offsetReader counts what the tar reader consumed, which is where the
// current member's content starts after Next.
type offsetReader struct {
	r     io.Reader
	n     int64
	head  [512]byte // the first block, to tell a broken tar from a file that is none
	headN int
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if o.n < int64(len(o.head)) {
		o.headN += copy(o.head[o.n:], p[:n])
	}
	o.n += int64(n)
	return n, err
}

// notTar reports whether the input's first bytes rule out a tar: some were
// read, and they are not like a tar header, which has the "ustar" magic, or
// a checksum that matches its bytes (the oldest format has no magic), or
// numbers where a header keeps them. A stray text file in a folder of
// archives is then not an archive at all (ErrUnknownFormat), while a tar
// whose first header took a damaged byte, wherever, is still a broken
// archive: a byte changed in the magic also breaks the checksum, but
// leaves the numeric fields.
func (o *offsetReader) notTar() bool {
	if o.headN == 0 {
		return false
	}
	b := o.head[:o.headN]
	if !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return false // zeros: an empty or wiped archive, reported as such
	}
	if len(b) < len(o.head) {
		return true
	}
	if bytes.HasPrefix(b[257:], []byte("ustar")) {
		return false
	}
	var unsigned, signed int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' ' // the checksum field counts as spaces
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	want, err := strconv.ParseInt(strings.Trim(string(b[148:156]), " \x00"), 8, 64)
	if err == nil && (want == unsigned || want == signed) {
		return false
	}
	// mode, uid, gid, size, mtime, checksum
	for _, f := range [][2]int{{100, 108}, {108, 116}, {116, 124}, {124, 136}, {136, 148}, {148, 156}} {
		if !numberField(b[f[0]:f[1]]) {
			return true
		}
	}
	return false
}

// numberField reports whether a header field holds a number as tar writes
// one: octal digits padded with spaces or NULs, or base-256 (high bit set).
func numberField(f []byte) bool {
	if f[0]&0x80 != 0 {
		return true
	}
	digits := 0
	for _, c := range f {
		switch {
		case c >= '0' && c <= '7':
			digits++
		case c != ' ' && c != 0:
			return false
		}
	}
	return digits > 0
}

func (o *offsetReader) Seek(off int64, whence int) (int64, error) {
	s, ok := o.r.(io.Seeker)
	if !ok || whence != io.SeekCurrent {
		return 0, errors.New("not seekable")
	}
	n, err := s.Seek(off, whence)
	if err == nil {
		o.n += off
	}
	return n, err
}

// indexTar walks tar headers from r. keep, when set, is offered every
// member's bytes (used for a compressed input).
func (a *Archive) indexTar(ctx context.Context, p string, r io.Reader, opts Options, keep func(name string, size int64, r io.Reader) error) error {
	var or io.Reader
	cr := &offsetReader{r: r}
	if _, ok := r.(io.Seeker); ok && keep == nil {
		or = cr
	} else {
		or = struct{ io.Reader }{cr}
	}
	tr := tar.NewReader(or)
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := cr.n
		h, err := tr.Next()
		if err != nil && len(a.members) == 0 && start == 0 && cr.notTar() {
			return &FormatError{File: p, Offset: 0, Err: fmt.Errorf("%w: no tar header at its start", ErrUnknownFormat)}
		}
		if err == io.EOF {
			if len(a.members) == 0 {
				return &FormatError{File: p, Offset: start, Err: errors.New("empty or not a tar archive")}
			}
			return nil
		}
		if err != nil {
			if len(a.members) == 0 {
				return &FormatError{File: p, Offset: start, Err: fmt.Errorf("not a readable tar archive: %w", err)}
			}
			a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Truncated,
				Detail: fmt.Sprintf("archive unreadable from offset %d: %v; members after it are missing", start, err)})
			return nil
		}
		if len(a.members) >= opts.MaxMembers {
			return &FormatError{File: p, Offset: start, Err: fmt.Errorf("more than %d members (raise with --max-members)", opts.MaxMembers)}
		}
		if h.Typeflag != tar.TypeReg {
			if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
				a.link(h)
			}
			continue
		}
		a.add(h.Name, cr.n, h.Size)
		if keep != nil {
			if err := keep(cleanName(h.Name), h.Size, tr); err != nil {
				a.Problems = append(a.Problems, integrity.Problem{Blob: cleanName(h.Name), Kind: integrity.Truncated,
					Detail: fmt.Sprintf("member at offset %d of %s: %v", cr.n, p, err)})
				delete(a.members, cleanName(h.Name))
				return nil
			}
		}
	}
}

// link notes a symlinked or hardlinked member (docker save links the
// folders of layers stored once); resolveLinks makes it an alias of its
// target once every member is known, whatever their order in the tar.
func (a *Archive) link(h *tar.Header) {
	target := h.Linkname
	if h.Typeflag == tar.TypeSymlink {
		target = path.Join(path.Dir(cleanName(h.Name)), h.Linkname)
	}
	if a.links == nil {
		a.links = map[string]string{}
	}
	a.links[cleanName(h.Name)] = cleanName(target)
}

func (a *Archive) resolveLinks() {
	for name, target := range a.links {
		for hops := 0; hops < 8; hops++ {
			if next, ok := a.links[target]; ok {
				target = next
				continue
			}
			break
		}
		if m, ok := a.members[target]; ok && a.members[name] == nil {
			a.add(name, m.Offset, m.Size)
		}
	}
	a.links = nil
}

func (a *Archive) indexCompressed(ctx context.Context, p string, opts Options) error {
	h := sha256.New()
	read := &progressReader{r: ctxReader{ctx, a.file}, total: a.Info.Size, report: opts.Progress}
	raw := &offsetReader{r: io.TeeReader(read, h)}
	dec, err := compress.Open(raw, a.Info.Compression)
	if err != nil {
		return &FormatError{File: p, Offset: 0, Err: err}
	}
	defer dec.Close()
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = 1000
	}
	bound := &ratioReader{r: dec, compressed: raw, max: opts.MaxRatio}
	var src io.Reader = bound
	if opts.TmpDir != "" {
		tf, err := os.CreateTemp(opts.TmpDir, "strata-*.tar")
		if err != nil {
			return err
		}
		a.tmp = tf.Name()
		src = io.TeeReader(bound, tf)
		defer func() {
			a.file.Close()
			a.file = tf
		}()
	} else {
		a.compressed = true
		a.small = map[string][]byte{}
	}
	budget := int64(smallBudget)
	small := opts.SmallMember
	if small == 0 {
		small = smallMember
	}
	keep := func(name string, size int64, r io.Reader) error {
		if a.small != nil && size <= small && size <= budget {
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			a.small[name] = b
			budget -= size
			return nil
		}
		var read int64
		if opts.Early != nil {
			cr := &offsetReader{r: r}
			opts.Early(name, a.members[name].Offset, size, cr)
			read, r = cr.n, cr
		}
		n, err := io.Copy(io.Discard, r)
		n += read
		if err == nil && n != size {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := a.indexTar(ctx, p, src, opts, keep); err != nil {
		return err
	}
	if bound.err != nil {
		// The rest is not decompressed: the members past the limit are
		// missing, and the digest below still covers the whole file.
		a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Limit,
			Detail: fmt.Sprintf("%s stream: %v; members past it are not indexed", a.Info.Compression, bound.err)})
	} else if _, err := io.Copy(io.Discard, src); err != nil {
		// Read to the end so the digest covers the whole file.
		a.Problems = append(a.Problems, integrity.Problem{Blob: p, Kind: integrity.Truncated,
			Detail: fmt.Sprintf("%s stream: %v", a.Info.Compression, err)})
	}
	read.r = a.file // the rest is hashed, even past a cancelled index
	if _, err := io.Copy(h, read); err != nil {
		return err
	}
	a.Info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// Close releases the input and removes a temporary copy.
func (a *Archive) Close() error {
	if a.hashing != nil {
		a.stopHash()
		a.hashOnce.Do(func() { close(a.hashing) }) // never started: nothing to wait for
		<-a.hashing
	}
	if a.dir != nil {
		a.dir.Close()
	}
	if a.file != nil {
		a.file.Close()
	}
	if a.tmp != "" {
		os.Remove(a.tmp)
	}
	return nil
}

// Members lists every member in archive order.
func (a *Archive) Members() []Member {
	out := make([]Member, 0, len(a.order))
	for _, n := range a.order {
		if m, ok := a.members[n]; ok {
			out = append(out, *m)
		}
	}
	return out
}

// Stat returns a member by name.
func (a *Archive) Stat(name string) (Member, bool) {
	m, ok := a.members[cleanName(name)]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// InPlace reports whether members are read in place (a folder, an
// uncompressed tar, or the temporary copy of a compressed one), so that
// opening a member again costs no decompression pass.
func (a *Archive) InPlace() bool { return !a.compressed }

// ErrNotExist is returned for a member the input lacks.
var ErrNotExist = fs.ErrNotExist

// Open returns a reader of one member. For a compressed input without a
// temporary copy, a member not kept in memory costs a decompression pass up
// to it: use Visit to read many.
func (a *Archive) Open(name string) (io.ReadCloser, error) {
	name = cleanName(name)
	m, ok := a.members[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	switch {
	case a.dir != nil:
		return a.dir.Open(name)
	case a.compressed:
		if b, ok := a.small[name]; ok {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		return a.openCompressed(m)
	default:
		return io.NopCloser(&exactReader{r: io.NewSectionReader(a.file, m.Offset, m.Size), left: m.Size, name: name}), nil
	}
}

// exactReader turns an early end of a member into io.ErrUnexpectedEOF: when
// the archive ends inside a member, its header still announces the full
// size, and the member must not read as a shorter, complete one.
type exactReader struct {
	r    io.Reader
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("%s: the archive ends %d bytes before the member does: %w", e.name, e.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

func openReadOnly(p string) (io.ReadCloser, error) { return os.Open(p) }
