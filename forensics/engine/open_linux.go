package engine

import (
	"errors"
	"fmt"
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

func (b *beneath) open(name string) (*os.File, int64, error) {
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
			f := os.NewFile(uintptr(fd), name)
			return regular(f, name)
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOTDIR):
			return nil, 0, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	f, err := archive.OpenRegular(b.root, name)
	if err != nil {
		return nil, 0, err
	}
	return regular(f, name)
}

func regular(f *os.File, name string) (*os.File, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: a %v, not a regular file", name, fi.Mode().Type())
	}
	return f, fi.Size(), nil
}

func (b *beneath) close() {
	if b.dir != nil {
		b.dir.Close()
	}
}
