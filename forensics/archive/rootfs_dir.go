package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
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
