package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// A fleet keeps every input it read open to its end: later inputs compare
// their copies of shared blobs with an earlier input's bytes, and the
// evidence folder copies files out of them. Kept open, a tar input holds a
// file descriptor, and a fleet of more tarballs than the process may open
// files (1,024 on many systems) failed on every input past that, and an
// image layout folder holds one for its folder. Park closes the
// descriptor of an input read in full; a member read after it is read
// through a descriptor of its own, from the same file, which must still
// be the file read: the same inode, size, modification time and, where
// the system gives it, status change time; or from the same folder, opened
// again by its path, which must still be the folder read (its files are
// each read by name, parked or not, as before).

// parking is what Park keeps of the file it closed.
type parking struct {
	mu      sync.Mutex
	parked  bool
	readers int         // members being read through a.file or a.dir
	stat    fs.FileInfo // the file's or folder's, when it was parked
	path    string      // a folder's, to open it again
}

// Park closes the input's file descriptor, if it has one and nothing
// reads through it still (else the last reader closes it), once the
// input's own hash is done. Members stay readable (Open); it is for an
// input read in full that a fleet keeps to its end.
func (a *Archive) Park() {
	switch {
	case a.dir != nil && a.rootfs == nil && a.store == nil && a.park.path != "":
		a.park.park(func() (fs.FileInfo, error) { return a.dir.Stat(".") }, a.dir.Close)
	case a.file != nil && a.store == nil && a.dir == nil:
		if a.hashing != nil {
			select {
			case <-a.hashing:
			default:
				return // the hash still reads the file
			}
		}
		a.park.park(a.file.Stat, a.file.Close)
	}
}

// park marks the input parked, keeping what stat says of its file or
// folder, and closes it unless a reader still holds it (release).
func (p *parking) park(stat func() (fs.FileInfo, error), close func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked {
		return
	}
	st, err := stat()
	if err != nil {
		return
	}
	p.stat, p.parked = st, true
	if p.readers == 0 {
		close()
	}
}

// closeUnparked closes the input on Close, unless Park has (or its last
// reader will).
func (p *parking) closeUnparked(close func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.parked {
		close()
	}
}

// hold counts a reader of the input's own descriptor; false once parked.
func (p *parking) hold() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked {
		return false
	}
	p.readers++
	return true
}

// release lets go of a hold: the last reader of a parked input closes it.
func (p *parking) release(close func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers--; p.readers == 0 && p.parked {
		return close()
	}
	return nil
}

// readFile returns the file to read a member from and what to call once
// done: the input's own descriptor, or, once parked, one of the reader's
// own.
func (a *Archive) readFile() (*os.File, func() error, error) {
	if a.park.hold() {
		return a.file, func() error { return a.park.release(a.file.Close) }, nil
	}
	f, err := a.reopen()
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// reopen opens the input's file (or its decompressed copy) again, by its
// name, and checks that it is the file read.
func (a *Archive) reopen() (*os.File, error) {
	a.park.mu.Lock()
	want, parked := a.park.stat, a.park.parked
	a.park.mu.Unlock()
	if !parked {
		st, err := a.file.Stat()
		if err != nil {
			return nil, err
		}
		want = st
	}
	name := a.file.Name()
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	got, err := f.Stat()
	if err == nil && !unchanged(want, got) {
		err = fmt.Errorf("%s: %w", name, ErrChanged)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// folder returns the folder to open a member in and what to call once it
// is opened: the input's own, or, once parked, the folder opened again by
// its path, which must be the folder read (not one renamed into its
// place).
func (a *Archive) folder() (*os.Root, func(), error) {
	if a.park.hold() {
		return a.dir, func() { a.park.release(a.dir.Close) }, nil
	}
	a.park.mu.Lock()
	want, p := a.park.stat, a.park.path
	a.park.mu.Unlock()
	root, err := os.OpenRoot(p)
	if err != nil {
		return nil, nil, err
	}
	got, err := root.Stat(".")
	if err == nil && !os.SameFile(want, got) {
		err = fmt.Errorf("%s: %w", p, ErrChanged)
	}
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	return root, func() { root.Close() }, nil
}

// ErrChanged is returned when an input's file, opened again to read a
// member, is no longer the file read: replaced or written since.
var ErrChanged = errors.New("not the one read: replaced or changed since")

// unchanged reports whether a and b describe one file, unchanged between
// them.
func unchanged(a, b fs.FileInfo) bool {
	if !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()) {
		return false
	}
	ia, okA := fileID(a)
	ib, okB := fileID(b)
	return okA == okB && ia == ib
}

// parkedReader is a member read through a descriptor that must be
// released once read.
type parkedReader struct {
	io.Reader
	release func() error
}

func (r *parkedReader) Close() error { return r.release() }
