//go:build !linux

package engine

import (
	"io"
	"io/fs"
	"os"

	"github.com/strata-forensics/strata/forensics/archive"
)

// Open opens the regular file name to read it, with its size.
func (b *Beneath) Open(name string) (io.ReadCloser, int64, error) {
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

// OpenFile opens the regular file name as an os.File, for a caller that
// needs one (archive.OpenedIdentity reads the file it opened).
func (b *Beneath) OpenFile(name string) (*os.File, error) { return archive.OpenRegular(b.root, name) }

// Lstat describes name, a link as a link.
func (b *Beneath) Lstat(name string) (fs.FileInfo, error) { return b.root.Lstat(name) }

// ReadDir lists the folder name, unsorted; a link, or anything else that
// is not a folder, is an error saying what it is.
func (b *Beneath) ReadDir(name string) ([]fs.DirEntry, error) { return readDirRoot(b.root, name) }
