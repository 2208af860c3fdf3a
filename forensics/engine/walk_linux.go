package engine

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// walkFolder calls fn for every entry below dir, as fs.WalkDir does over
// dir.FS() (lexical order, the root "." first, fs.SkipDir honoured, a
// folder that cannot be listed given to fn a second time with the error),
// with one fstatat per entry relative to its folder's descriptor. os.Root's
// FS resolves every name from the root, one component at a time, which
// for a layer of 150,000 files cost more than the rest of the drift walk.
// No link is followed: a folder is opened by its single name with
// O_NOFOLLOW below a descriptor already inside dir.
func walkFolder(dir *os.Root, fn fs.WalkDirFunc) error {
	top, err := dir.Open(".")
	if err != nil {
		return fn(".", nil, err)
	}
	defer top.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(top.Fd()), &st); err != nil {
		return fn(".", nil, err)
	}
	root := statEntry{info: statInfo(".", &st)}
	if err := fn(".", root, nil); err != nil {
		if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
			return nil
		}
		return err
	}
	err = walkFd(top, ".", fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// walkFd lists the folder d (at p) and walks what it holds; d is closed
// by its caller.
func walkFd(d *os.File, p string, fn fs.WalkDirFunc) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		if err := fn(p, nil, err); err != nil && !errors.Is(err, fs.SkipDir) {
			return err
		}
		if len(names) == 0 {
			return nil
		}
	}
	slices.Sort(names)
	fd := int(d.Fd())
	for _, name := range names {
		cp := name
		if p != "." {
			cp = p + "/" + name
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err := fn(cp, nil, &fs.PathError{Op: "lstat", Path: cp, Err: err}); err != nil {
				if errors.Is(err, fs.SkipDir) {
					continue
				}
				return err
			}
			continue
		}
		e := statEntry{info: statInfo(name, &st)}
		err := fn(cp, e, nil)
		if err != nil {
			if errors.Is(err, fs.SkipDir) {
				if e.IsDir() {
					continue
				}
				return nil // the rest of this folder, as fs.WalkDir does
			}
			return err
		}
		if !e.IsDir() {
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err := fn(cp, e, &fs.PathError{Op: "open", Path: cp, Err: err}); err != nil && !errors.Is(err, fs.SkipDir) {
				return err
			}
			continue
		}
		child := os.NewFile(uintptr(cfd), cp)
		err = walkFd(child, cp, fn)
		child.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// statEntry is an fs.DirEntry whose Info is the fstatat already made.
type statEntry struct{ info *statFileInfo }

func (e statEntry) Name() string               { return e.info.name }
func (e statEntry) IsDir() bool                { return e.info.mode.IsDir() }
func (e statEntry) Type() fs.FileMode          { return e.info.mode.Type() }
func (e statEntry) Info() (fs.FileInfo, error) { return e.info, nil }

type statFileInfo struct {
	name string
	mode fs.FileMode
	st   syscall.Stat_t
}

func (fi *statFileInfo) Name() string       { return fi.name }
func (fi *statFileInfo) Size() int64        { return fi.st.Size }
func (fi *statFileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *statFileInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statFileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *statFileInfo) Sys() any           { return &fi.st }

// statInfo is what os.Lstat would say of st (os's fillFileStatFromSys).
func statInfo(name string, st *unix.Stat_t) *statFileInfo {
	fi := &statFileInfo{name: path.Base(name), mode: fs.FileMode(st.Mode & 0o777)}
	fi.st = syscall.Stat_t{Dev: st.Dev, Ino: st.Ino, Nlink: st.Nlink, Mode: st.Mode, Uid: st.Uid, Gid: st.Gid,
		Rdev: st.Rdev, Size: st.Size, Blksize: st.Blksize, Blocks: st.Blocks,
		Atim: syscall.Timespec(st.Atim), Mtim: syscall.Timespec(st.Mtim), Ctim: syscall.Timespec(st.Ctim)}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		fi.mode |= fs.ModeDevice
	case unix.S_IFCHR:
		fi.mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		fi.mode |= fs.ModeDir
	case unix.S_IFIFO:
		fi.mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		fi.mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		fi.mode |= fs.ModeSocket
	}
	if st.Mode&unix.S_ISGID != 0 {
		fi.mode |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISUID != 0 {
		fi.mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		fi.mode |= fs.ModeSticky
	}
	return fi
}
