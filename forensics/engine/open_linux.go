package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/strata-forensics/strata/forensics/archive"
)

// A beneath opens the files of one folder by name, never through a link
// and never out of it. os.Root resolves a name one component at a time
// (an openat and a close for each folder on the way), which costs more
// than reading a layer's small files; Linux's openat2 resolves it in one
// call with the same guarantees (RESOLVE_BENEATH, no links at all, no
// magic links). A name openat2 refuses for a link on the way (ELOOP) or
// that the kernel cannot resolve this way (ENOSYS, EXDEV, EAGAIN) is
// opened through os.Root, which follows links that stay inside.
type beneath struct {
	root *os.Root

	once sync.Once
	dir  *os.File // the folder, for its descriptor; nil when it cannot be had
}

func (b *beneath) open(name string) (io.ReadCloser, int64, error) {
	b.once.Do(func() {
		if d, err := b.root.Open("."); err == nil {
			b.dir = d
		}
	})
	if b.dir != nil {
		fd, err := unix.Openat2(int(b.dir.Fd()), name, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		switch {
		case err == nil:
			return regularFd(fd, name)
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOTDIR):
			return nil, 0, &os.PathError{Op: "open", Path: name, Err: err}
		}
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
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("%s: a %v, not a regular file", name, statInfo(name, &st).Mode().Type())
	}
	return &fdReader{fd: fd, name: name}, st.Size, nil
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

func (b *beneath) close() {
	if b.dir != nil {
		b.dir.Close()
	}
}
