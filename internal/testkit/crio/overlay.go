package crio

// The overlay driver's side of a layer: its folder and short link, the
// tar-split containers/storage keeps of it, and its tar unpacked into its
// diff folder. crio.go holds the store and the records that name these.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// layerFolder makes layer id's folder as the overlay driver does.
func (s *Store) layerFolder(t testing.TB, id, parent string) {
	t.Helper()
	dir := filepath.Join(s.Root, "overlay", id)
	for _, d := range []string{"diff", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "diff"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(id))
	link := base32.StdEncoding.EncodeToString(sum[:16])[:26]
	if err := os.Symlink(path.Join("..", id, "diff"), filepath.Join(s.Root, "overlay", "l", link)); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "link"), []byte(link), 0o644)
	if parent != "" {
		pl, err := os.ReadFile(filepath.Join(s.Root, "overlay", parent, "link"))
		if err != nil {
			t.Fatal(err)
		}
		lower := "l/" + string(pl)
		if pp, err := os.ReadFile(filepath.Join(s.Root, "overlay", parent, "lower")); err == nil {
			lower += ":" + string(pp)
		}
		write(t, filepath.Join(dir, "lower"), []byte(lower), 0o666)
	}
}

// tarSplit is the tar-split of layer, as containers/storage records it
// while applying the layer (layers.go: tar-split's JSON packer, gzipped).
func tarSplit(t testing.TB, layer []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	r, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(layer), storage.NewJSONPacker(zw), storage.NewDiscardFilePutter())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return out.Bytes()
}

// untar unpacks a layer into its folder as the overlay driver applies it:
// each entry with its header's mode and owner. Folders, regular files,
// symlinks and hard links only: a whiteout would be a character device,
// which this helper does not make.
func untar(layer []byte, dir string) error {
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rel := path.Clean("/" + h.Name)
		if strings.HasPrefix(path.Base(rel), ".wh.") {
			return fmt.Errorf("%s: whiteouts are not unpacked by this helper", h.Name)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(path.Clean("/"+h.Linkname))), p); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("%s: entry type %q is not unpacked by this helper", h.Name, h.Typeflag)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
				return err
			}
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := os.Chtimes(p, h.ModTime, h.ModTime); err != nil {
				return err
			}
		}
	}
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func write(t testing.TB, name string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}
