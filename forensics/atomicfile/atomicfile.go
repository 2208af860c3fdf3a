// Package atomicfile writes files and folders all or nothing: a report, an
// evidence folder or a cache entry is either complete under its name or
// not there at all. A full disk, a crash or a kill part-way leaves at most
// a temporary whose name says it is incomplete, never a zero-byte report
// or an evidence folder without its SHA256SUMS that looks finished.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what fill writes. The bytes go to a
// temporary file beside path (same folder, so the rename cannot cross file
// systems), are synced, and only then renamed over path; on any error the
// temporary is removed and path is left as it was.
func Write(path string, perm fs.FileMode, fill func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".incomplete-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("%s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// Without the sync a crash after the rename can leave the new name
	// pointing at a file whose data never reached the disk.
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrExists is returned by Dir for a destination that exists and is not
// an empty folder.
var ErrExists = errors.New("exists and is not an empty folder")

// Dir builds the folder dest all or nothing: fill writes into a new
// temporary folder beside dest, named "<dest>.incomplete-*", which is
// renamed to dest once fill returns without error. On an error the
// temporary folder is removed; if the process dies first, it is left
// under that name, which says what it is. dest must not exist, or be an
// empty folder (which is replaced).
func Dir(dest string, fill func(tmp string) error) (err error) {
	if err := absentOrEmpty(dest); err != nil {
		return err
	}
	parent, base := filepath.Split(filepath.Clean(dest))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	tmp, err := os.MkdirTemp(parent, base+".incomplete-*")
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	// An empty folder in the way was accepted above; it gives its place.
	if err := os.Remove(dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	return nil
}

func absentOrEmpty(dest string) error {
	st, err := os.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", dest, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %w", dest, ErrExists)
	}
	ents, err := os.ReadDir(dest)
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s: %w (%d entries)", dest, ErrExists, len(ents))
	}
	return nil
}

// syncDir syncs a folder's entries, so the names written in it survive a
// crash along with their data. Where a folder cannot be synced (Windows)
// it is not an error.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !os.IsPermission(err) {
		var pe *fs.PathError
		if errors.As(err, &pe) && isSyncUnsupported(pe.Err) {
			return nil
		}
		return err
	}
	return nil
}
