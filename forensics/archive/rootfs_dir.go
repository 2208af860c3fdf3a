package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// A folder holding a root filesystem (a host's disk mounted for
// examination, a docker export unpacked) is read as the tar docker export
// would write of it, synthesised on demand: its entries are listed once
// when it is opened, in path order, and each read of its layer streams
// their headers and the bytes of its regular files from the folder.
//
// The listing never leaves the folder and never blocks: every name is
// reached through an os.Root, which refuses any path or link resolving
// outside it; entries are taken with Lstat, so a link is a link entry with
// its target as written ("/etc", "../../outside") and is never followed;
// only regular files are ever opened, without following a link and
// without blocking (O_NONBLOCK), and each is checked to be the very file
// listed (same device and inode, still regular) before a byte is read, so
// a FIFO, a device or a file swapped in since is never read. Folders a
// kernel fills with its live state (proc, sysfs, cgroup …) are not
// descended.

// openListed opens a regular file while a folder is listed, to check it
// is readable and read its extended attributes: openFile, which tests
// make fail as a file without read permission does for anyone but root.
var openListed = openFile

// maxRootfsDepth bounds how many folders deep a listing goes.
const maxRootfsDepth = 1024

// fsEntry is one entry of a root-filesystem folder, as compact as a
// listing of a whole disk needs it to be.
type fsEntry struct {
	name         string // slash-separated, relative to the folder, no trailing slash
	link         string // a symlink's target as written; a hard link's first name
	xattrs       map[string]string
	size         int64
	mtime        int64 // seconds: docker export keeps no finer (go-archive's FileInfoHeader)
	mode         int64 // permission bits with setuid, setgid and sticky, as tar keeps them
	uid, gid     int
	major, minor int64
	dev, ino     uint64 // a regular file's identity, checked again when it is read
	typ          byte   // tar type flag
}

// header is the tar header docker export writes for e (go-archive's
// addTarFile): folders end in a slash, a hard link carries no bytes, no
// user or group names, times to the second, extended attributes as PAX
// records.
func (e *fsEntry) header() *tar.Header {
	h := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid,
		ModTime: time.Unix(e.mtime, 0), Devmajor: e.major, Devminor: e.minor}
	switch e.typ {
	case tar.TypeDir:
		h.Name += "/"
	case tar.TypeReg:
		h.Size = e.size
	}
	if len(e.xattrs) > 0 {
		h.PAXRecords = make(map[string]string, len(e.xattrs))
		for k, v := range e.xattrs {
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	return h
}

// rootfsDir is a root-filesystem folder, listed.
type rootfsDir struct {
	root    *os.Root
	entries []fsEntry
	size    int64 // bytes of the synthesised tar
	leftOut []string
	ctx     context.Context // Open's: bounds a hash Wait has to make itself

	mu  sync.Mutex
	sum string // sha256 of the synthesised tar, once a read went through it whole
}

// rootfsDirSigns gathers the signs of a root filesystem at the top of the
// folder root; ok is false when it holds an image (an OCI layout, a docker
// save unpacked), which is then read as one.
func rootfsDirSigns(root *os.Root) (s rootfsSigns, ok bool) {
	for _, n := range []string{"oci-layout", "index.json", "manifest.json"} {
		if _, err := root.Lstat(n); err == nil {
			return s, false
		}
	}
	for _, n := range append(rootfsTop[:], "proc", "sys") {
		if fi, err := root.Lstat(n); err == nil && (fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0) {
			s.see(n, tar.TypeDir)
		}
	}
	for _, n := range []string{"etc/os-release", "usr/lib/os-release", ".dockerenv"} {
		// Lstat: os-release is often a link (to ../usr/lib/os-release).
		if fi, err := root.Lstat(n); err == nil && fi.Mode().IsRegular() {
			s.see(n, tar.TypeReg)
		} else if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			s.see(n, tar.TypeSymlink)
		}
	}
	return s, s.rootfs()
}

// isRootfsDir reports whether the folder root holds a root filesystem
// rather than an image.
func isRootfsDir(root *os.Root) bool {
	_, ok := rootfsDirSigns(root)
	return ok
}

// IsRootFSDir reports whether the folder at p holds a root filesystem
// rather than an image, as Open reads it (Format RootfsDir): what tells,
// for a command given a folder, one input from a folder of inputs.
func IsRootFSDir(p string) bool {
	root, err := os.OpenRoot(p)
	if err != nil {
		return false
	}
	defer root.Close()
	return isRootfsDir(root)
}

// openRootfsDir lists the root filesystem in the folder p (a.dir), which
// is then one image of one layer: the tar synthesised from it. Its sha256
// (the input's, the layer's digest and diff_id) is the synthesised tar's,
// known once a read went through it (Wait).
func (a *Archive) openRootfsDir(ctx context.Context, p string, opts Options) error {
	a.signs, _ = rootfsDirSigns(a.dir)
	d, problems, err := listRootfs(ctx, a.dir, opts.MaxMembers)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	d.ctx = ctx
	a.Problems = append(a.Problems, problems...)
	a.Info.Format = RootfsDir
	a.Info.Size = d.size
	name := rootfsName(p)
	a.add(name, 0, d.size)
	a.rootfs = &rootfsInput{dir: d, info: RootFS{Layer: *a.members[name], Name: name, Container: a.signs.dockerenv, LeftOut: d.leftOut}}
	return nil
}

// lister lists a root-filesystem folder.
type lister struct {
	ctx      context.Context
	root     *os.Root
	max      int
	entries  []fsEntry
	problems []integrity.Problem
	leftOut  []string
	links    map[[2]uint64]string // a regular file's (device, inode): its first name, for hard links
	n        int
}

// listRootfs lists every entry below root, in path order (each folder's
// names sorted, as docker export's walk gives them), and sizes the tar
// they make. What cannot be read is a problem naming its path, and is not
// in the listing; sockets (tar has no type for them) and the contents of
// kernel filesystems are left out, and said so in leftOut.
func listRootfs(ctx context.Context, root *os.Root, maxEntries int) (*rootfsDir, []integrity.Problem, error) {
	if maxEntries <= 0 {
		maxEntries = 1_000_000
	}
	l := &lister{ctx: ctx, root: root, max: maxEntries, links: map[[2]uint64]string{}}
	if err := l.folder("", 0, -1); err != nil {
		return nil, nil, err
	}
	d := &rootfsDir{root: root, leftOut: l.leftOut}
	// Size the tar: each header as tar.Writer encodes it, each file's
	// bytes padded to a block, and the two blocks that end it.
	kept := l.entries[:0]
	for i := range l.entries {
		e := &l.entries[i]
		n, err := headerSize(e.header())
		if err != nil {
			l.problems = append(l.problems, integrity.Problem{Blob: "/" + e.name, Kind: integrity.Unreadable,
				Detail: fmt.Sprintf("/%s: no tar header can hold it (%v): not in the layer, not examined", e.name, err)})
			continue
		}
		d.size += n
		if e.typ == tar.TypeReg {
			d.size += blockPad(e.size)
		}
		kept = append(kept, *e)
	}
	d.entries = kept
	d.size += 2 * blockSize
	return d, l.problems, nil
}

// folder lists the folder rel ("" for the top) and what it holds. self is
// the index of its own entry, -1 for the top.
func (l *lister) folder(rel string, depth, self int) error {
	name := rel
	if name == "" {
		name = "."
	}
	f, err := l.root.Open(name)
	if err != nil {
		l.unreadable(rel+"/", err)
		return nil
	}
	defer f.Close()
	if self >= 0 {
		e := &l.entries[self]
		fi, err := f.Stat()
		if err != nil || !fi.IsDir() || !sameFile(e, fi) {
			l.changed(rel + "/")
			return nil
		}
		if what := kernelFS(f); what != "" {
			l.leftOut = append(l.leftOut, fmt.Sprintf("/%s/: %s mounted there (a kernel's live state, not files): not read", rel, what))
			return nil
		}
		e.xattrs = xattrs(f)
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		l.unreadable(rel+"/", err) // the names read before it are listed
	}
	sort.Strings(names)
	for _, n := range names {
		if err := l.entry(path.Join(rel, n), depth); err != nil {
			return err
		}
	}
	return nil
}

// entry lists the entry p and, for a folder, what it holds.
func (l *lister) entry(p string, depth int) error {
	if l.n++; l.n%256 == 0 && l.ctx.Err() != nil {
		return l.ctx.Err()
	}
	fi, err := l.root.Lstat(p)
	if err != nil {
		l.unreadable(p, err)
		return nil
	}
	if len(l.entries) >= l.max {
		return fmt.Errorf("more than %d entries (raise with --max-members)", l.max)
	}
	st := statOf(fi)
	m := fi.Mode()
	e := fsEntry{name: p, mode: tarMode(m), mtime: fi.ModTime().Unix(), uid: st.uid, gid: st.gid}
	switch {
	case m.IsDir():
		e.typ = tar.TypeDir
		e.dev, e.ino = st.dev, st.ino
		l.entries = append(l.entries, e)
		if depth >= maxRootfsDepth {
			l.problems = append(l.problems, integrity.Problem{Blob: "/" + p + "/", Kind: integrity.Limit,
				Detail: fmt.Sprintf("/%s/ is %d folders deep: what it holds is not listed", p, depth+1)})
			return nil
		}
		return l.folder(p, depth+1, len(l.entries)-1)
	case m.IsRegular():
		e.typ, e.size, e.dev, e.ino = tar.TypeReg, fi.Size(), st.dev, st.ino
		id := [2]uint64{st.dev, st.ino}
		linked := st.nlink > 1 && st.ino != 0
		if first, ok := l.links[id]; ok && linked {
			// docker export writes every name of a file after the
			// first as a hard link to it (go-archive's SeenFiles).
			e.typ, e.link, e.size = tar.TypeLink, first, 0
			break
		}
		f, err := openListed(l.root, p)
		if err != nil {
			l.unreadable(p, err)
			return nil
		}
		now, err := f.Stat()
		if err != nil || !now.Mode().IsRegular() || !sameFile(&e, now) {
			f.Close()
			l.changed(p)
			return nil
		}
		e.xattrs = xattrs(f)
		f.Close()
		if linked {
			l.links[id] = p
		}
	case m&fs.ModeSymlink != 0:
		target, err := l.root.Readlink(p)
		if err != nil {
			l.unreadable(p, err)
			return nil
		}
		e.typ, e.link = tar.TypeSymlink, target
	case m&fs.ModeNamedPipe != 0:
		e.typ = tar.TypeFifo // never opened: opening one waits for a writer
	case m&fs.ModeDevice != 0:
		e.typ = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			e.typ = tar.TypeChar
		}
		e.major, e.minor = st.major, st.minor
	case m&fs.ModeSocket != 0:
		l.leftOut = append(l.leftOut, "/"+p+": a socket (tar has no type for one; docker export leaves them out too)")
		return nil
	default:
		l.leftOut = append(l.leftOut, fmt.Sprintf("/%s: a %v, which tar has no type for", p, m.Type()))
		return nil
	}
	l.entries = append(l.entries, e)
	return nil
}

func (l *lister) unreadable(p string, err error) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is said once, as the image sees it
	}
	what := "not in the layer, not examined"
	if strings.HasSuffix(p, "/") {
		what = "what it holds is not in the layer, not examined"
	}
	l.problems = append(l.problems, integrity.Problem{Blob: "/" + p, Kind: integrity.Unreadable,
		Detail: fmt.Sprintf("/%s: %v: %s", p, err, what)})
}

func (l *lister) changed(p string) {
	l.unreadable(p, errors.New("changed while the folder was listed (examine a read-only copy)"))
}

// tarMode is the mode tar keeps of m: its permission bits with setuid,
// setgid and sticky.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// sameFile reports whether fi, taken now, is the file e was listed from:
// the same device and inode where the system gives them.
func sameFile(e *fsEntry, fi fs.FileInfo) bool {
	st := statOf(fi)
	return e.ino == 0 || (st.dev == e.dev && st.ino == e.ino)
}

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

// waitRootfsDir puts the sha256 of a root-filesystem folder's tar in
// Info.SHA256.
func (a *Archive) waitRootfsDir() error {
	sum, err := a.rootfs.dir.digest()
	if err != nil {
		return fmt.Errorf("%s: hashing the folder's tar: %w", a.Info.Path, err)
	}
	a.Info.SHA256 = sum
	return nil
}
