package engine

import (
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// A Beneath opens, looks at and lists what lies below one evidence folder
// by name, never through a link and never out of it. os.Root resolves a
// name one component at a time (an openat and a close for each folder on
// the way), which costs more than reading a layer's small files or
// listing a registry's thousands of folders; on Linux, openat2 resolves
// it in one call with the same guarantees (open_linux.go). Safe for
// concurrent use.
type Beneath struct {
	root *os.Root

	once sync.Once
	dir  *os.File // the folder, for its descriptor; nil when it cannot be had
}

// NewBeneath reads below root, which its caller keeps open and closes.
func NewBeneath(root *os.Root) *Beneath { return &Beneath{root: root} }

// folder is the folder's own descriptor, opened on first use.
func (b *Beneath) folder() *os.File {
	b.once.Do(func() {
		if d, err := b.root.Open("."); err == nil {
			b.dir = d
		}
	})
	return b.dir
}

// Close releases the folder's descriptor (not the root).
func (b *Beneath) Close() {
	b.once.Do(func() {}) // none is opened after Close
	if b.dir != nil {
		b.dir.Close()
	}
}

// readDirRoot lists the folder name through os.Root, which follows a link
// that stays below it: name is looked at first, and the folder listed
// must be the one looked at, so a link is never taken for the folder it
// points to.
func readDirRoot(root *os.Root, name string) ([]fs.DirEntry, error) {
	li, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !li.IsDir() {
		return nil, fmt.Errorf("%s: a %v, not a folder", name, li.Mode().Type())
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(li, fi) {
		return nil, fmt.Errorf("%s: replaced while it was opened", name)
	}
	return f.ReadDir(-1)
}
