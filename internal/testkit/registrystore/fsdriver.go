package registrystore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// fsDriver is distribution v3.0.0's registry/storage/driver/filesystem
// driver, as its driver.go has it, without the base wrapper (which checks
// paths and traces calls) and without fsync (a test's folder needs no
// durability): a path of the storage package is a file below root.
type fsDriver struct{ root string }

var _ storagedriver.StorageDriver = (*fsDriver)(nil)

func (d *fsDriver) Name() string { return "filesystem" }

func (d *fsDriver) fullPath(p string) string { return path.Join(d.root, p) }

func (d *fsDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	rc, err := d.Reader(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (d *fsDriver) PutContent(ctx context.Context, p string, content []byte) error {
	w, err := d.Writer(ctx, p, false)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := io.Copy(w, bytes.NewReader(content)); err != nil {
		return errors.Join(err, w.Cancel(ctx))
	}
	return w.Commit(ctx)
}

func (d *fsDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	f, err := os.Open(d.fullPath(p))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: p}
		}
		return nil, err
	}
	pos, err := f.Seek(offset, io.SeekStart)
	if err != nil {
		f.Close()
		return nil, err
	}
	if pos < offset {
		f.Close()
		return nil, storagedriver.InvalidOffsetError{Path: p, Offset: offset}
	}
	return f, nil
}

func (d *fsDriver) Writer(ctx context.Context, p string, appending bool) (storagedriver.FileWriter, error) {
	full := d.fullPath(p)
	if err := os.MkdirAll(path.Dir(full), 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	var offset int64
	if !appending {
		err = f.Truncate(0)
	} else {
		offset, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileWriter{file: f, size: offset, bw: bufio.NewWriter(f)}, nil
}

func (d *fsDriver) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	fi, err := os.Stat(d.fullPath(p))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: p}
		}
		return nil, err
	}
	return fileInfo{FileInfo: fi, path: p}, nil
}

func (d *fsDriver) List(ctx context.Context, p string) ([]string, error) {
	dir, err := os.Open(d.fullPath(p))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, storagedriver.PathNotFoundError{Path: p}
		}
		return nil, err
	}
	defer dir.Close()
	names, err := dir.Readdirnames(0)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(names))
	for _, n := range names {
		keys = append(keys, path.Join(p, n))
	}
	return keys, nil
}

func (d *fsDriver) Move(ctx context.Context, from, to string) error {
	src, dst := d.fullPath(from), d.fullPath(to)
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return storagedriver.PathNotFoundError{Path: from}
	}
	if err := os.MkdirAll(path.Dir(dst), 0o777); err != nil {
		return err
	}
	return os.Rename(src, dst)
}

func (d *fsDriver) Delete(ctx context.Context, p string) error {
	full := d.fullPath(p)
	if _, err := os.Stat(full); err != nil {
		if os.IsNotExist(err) {
			return storagedriver.PathNotFoundError{Path: p}
		}
		return err
	}
	return os.RemoveAll(full)
}

func (d *fsDriver) RedirectURL(*http.Request, string) (string, error) { return "", nil }

func (d *fsDriver) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return storagedriver.WalkFallback(ctx, d, p, f, options...)
}

type fileInfo struct {
	os.FileInfo
	path string
}

func (fi fileInfo) Path() string { return fi.path }

func (fi fileInfo) Size() int64 {
	if fi.IsDir() {
		return 0
	}
	return fi.FileInfo.Size()
}

type fileWriter struct {
	file                         *os.File
	size                         int64
	bw                           *bufio.Writer
	closed, committed, cancelled bool
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	switch {
	case fw.closed:
		return 0, errors.New("already closed")
	case fw.committed:
		return 0, errors.New("already committed")
	case fw.cancelled:
		return 0, errors.New("already cancelled")
	}
	n, err := fw.bw.Write(p)
	fw.size += int64(n)
	return n, err
}

func (fw *fileWriter) Size() int64 { return fw.size }

func (fw *fileWriter) Close() error {
	if fw.closed {
		return errors.New("already closed")
	}
	if err := fw.bw.Flush(); err != nil {
		return err
	}
	if err := fw.file.Close(); err != nil {
		return err
	}
	fw.closed = true
	return nil
}

func (fw *fileWriter) Cancel(ctx context.Context) error {
	if fw.closed {
		return errors.New("already closed")
	}
	fw.cancelled = true
	fw.file.Close()
	return os.Remove(fw.file.Name())
}

func (fw *fileWriter) Commit(ctx context.Context) error {
	switch {
	case fw.closed:
		return errors.New("already closed")
	case fw.committed:
		return errors.New("already committed")
	case fw.cancelled:
		return errors.New("already cancelled")
	}
	if err := fw.bw.Flush(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	fw.committed = true
	return nil
}
