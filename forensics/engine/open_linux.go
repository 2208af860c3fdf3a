package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-forensics/strata/forensics/archive"
)

// beneathResolve is how openat2 resolves a name: below the folder, no
// links at all, no magic links. A name it refuses for a link on the way
// (ELOOP) or that the kernel cannot resolve this way (ENOSYS, EXDEV,
// EAGAIN) is taken through os.Root, which follows links that stay inside
// and so says what the link is.
const beneathResolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openat2 opens name below the folder with flags, or says why not: an
// error the kernel gave for the name itself (ENOENT, EACCES, ENOTDIR) is
// final; ok false asks the caller to go through os.Root.
func (b *Beneath) openat2(op, name string, flags uint64) (fd int, ok bool, err error) {
	d := b.folder()
	if d == nil {
		return -1, false, nil
	}
	fd, err = unix.Openat2(int(d.Fd()), name, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: beneathResolve})
	switch {
	case err == nil:
		return fd, true, nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOTDIR):
		return -1, true, &os.PathError{Op: op, Path: name, Err: err}
	}
	return -1, false, nil
}

// Open opens the regular file name to read it, with its size.
func (b *Beneath) Open(name string) (io.ReadCloser, int64, error) {
	fd, ok, err := b.openat2("open", name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if ok {
		if err != nil {
			return nil, 0, err
		}
		return regularFd(fd, name)
	}
	f, err := archive.OpenRegular(b.root, name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// regularFd checks that fd, just opened as name, is a regular file, and
// reads it with plain read calls. An os.File would cost two system calls
// more for each of a layer's files (os.NewFile asks whether the
// descriptor is non-blocking, then tries to add it to the poller, which
// a regular file refuses) and a finalizer; O_NONBLOCK was only asked for
// so that opening a FIFO planted under a file's name cannot hang.
func regularFd(fd int, name string) (io.ReadCloser, int64, error) {
	size, err := checkRegular(fd, name)
	if err != nil {
		return nil, 0, err
	}
	return &fdReader{fd: fd, name: name}, size, nil
}

// checkRegular returns the size of fd, just opened as name, if it is a
// regular file; otherwise it closes fd and says what it is.
func checkRegular(fd int, name string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return 0, fmt.Errorf("%s: a %v, not a regular file", name, statInfo(name, &st).Mode().Type())
	}
	return st.Size, nil
}

// fdReader reads a regular file's descriptor.
type fdReader struct {
	fd   int
	name string
}

func (r *fdReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(r.fd, p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: r.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (r *fdReader) Close() error {
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// OpenFile opens the regular file name as an os.File, for a caller that
// needs one (archive.OpenedIdentity reads the file it opened): two system
// calls more than Open's reader.
func (b *Beneath) OpenFile(name string) (*os.File, error) {
	fd, ok, err := b.openat2("open", name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if !ok {
		return archive.OpenRegular(b.root, name)
	}
	if err != nil {
		return nil, err
	}
	if _, err := checkRegular(fd, name); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Lstat describes name, a link as a link: with O_PATH and O_NOFOLLOW,
// openat2 gives a last component that is a link as the link itself.
func (b *Beneath) Lstat(name string) (fs.FileInfo, error) {
	fd, ok, err := b.openat2("lstat", name, unix.O_PATH|unix.O_NOFOLLOW)
	if !ok {
		return b.root.Lstat(name)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	return statInfo(name, &st), nil
}

// ReadDir lists the folder name, unsorted; a link, or anything else that
// is not a folder, is an error saying what it is.
func (b *Beneath) ReadDir(name string) ([]fs.DirEntry, error) {
	fd, ok, err := b.openat2("open", name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if !ok || errors.Is(err, unix.ENOTDIR) {
		// A link or a file: os.Root's way says which.
		return readDirRoot(b.root, name)
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return f.ReadDir(-1)
}
