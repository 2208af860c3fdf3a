//go:build !linux

package engine

import (
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/archive"
)

// A beneath opens the files of one folder by name, never through a link
// and never out of it (os.Root).
type beneath struct{ root *os.Root }

func (b *beneath) open(name string) (io.ReadCloser, int64, error) {
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

func (b *beneath) close() {}
