package archive

import (
	"io"
	"io/fs"
	"os"
)

// FileID is what the system says of a file that changes whenever its bytes
// may have: its size, its modification and status change times (ns) and
// its inode. A file rewritten in place has a new ctime even when its mtime
// is set back (no call lets a user set ctime); one replaced by another has
// another inode. The device is left out: the same file on a shared
// filesystem has another device number on each machine mounting it, and
// shards and the scan assembling their work may run on different ones.
type FileID struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
	Inode uint64 `json:"inode"`
}

// An Identifier is a Store whose members are files of the evidence, so
// that what verified a member once can be known to still hold while its
// file is unchanged: Identity is the FileID of member name's file as it is
// now, looked at through the store's root and never through a link, or
// false when the member is no regular file or the system gives no FileID.
type Identifier interface {
	Identity(name string) (FileID, bool)
}

// Identity is the FileID of member name's file now, for an input whose
// members are files: a Store that is an Identifier, or an image layout
// folder. Any other input (a tar, a root filesystem) gives false.
func (a *Archive) Identity(name string) (FileID, bool) {
	name = cleanName(name)
	if _, ok := a.members[name]; !ok {
		return FileID{}, false
	}
	switch {
	case a.store != nil:
		if id, ok := a.store.(Identifier); ok {
			return id.Identity(name)
		}
	case a.dir != nil && a.rootfs == nil:
		root, release, err := a.folder()
		if err != nil {
			return FileID{}, false
		}
		defer release()
		return LstatID(root, name)
	}
	return FileID{}, false
}

// IDOf is the FileID in what lstat or fstat said of a regular file, false
// for anything else or where the system gives none.
func IDOf(fi fs.FileInfo) (FileID, bool) {
	if !fi.Mode().IsRegular() {
		return FileID{}, false
	}
	return fileID(fi)
}

// LstatID is the FileID of the regular file name below root, never
// following a link.
func LstatID(root *os.Root, name string) (FileID, bool) {
	fi, err := root.Lstat(name)
	if err != nil {
		return FileID{}, false
	}
	return IDOf(fi)
}

// OpenedIdentity is the FileID of the file a reader that Visit passed
// reads, from the open file itself (fstat): the file read, whatever its
// name points to now. False for a member that is no file of its own.
func OpenedIdentity(r io.Reader) (FileID, bool) {
	l, ok := r.(*lazyBuffer)
	if !ok {
		return FileID{}, false
	}
	f, ok := l.r.(*os.File)
	if !ok {
		return FileID{}, false
	}
	fi, err := f.Stat()
	if err != nil {
		return FileID{}, false
	}
	return IDOf(fi)
}
