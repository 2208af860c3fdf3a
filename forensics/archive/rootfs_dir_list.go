package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// openListed opens a regular file while a folder is listed, to check it
// is readable and read its extended attributes: openFile, which tests
// make fail as a file without read permission does for anyone but root.
var openListed = openFile

// maxRootfsDepth bounds how many folders deep a listing goes.
const maxRootfsDepth = 1024

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
	e := fsEntry{name: p, mode: TarMode(m), mtime: fi.ModTime().Unix(), uid: st.uid, gid: st.gid}
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

// TarMode is the mode tar keeps of m: its permission bits with setuid,
// setgid and sticky.
func TarMode(m fs.FileMode) int64 {
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
