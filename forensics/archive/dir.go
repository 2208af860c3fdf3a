package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// openDir indexes the regular files below the folder p (links are never
// followed) and hashes them for Info.SHA256; a folder holding a root
// filesystem rather than an image is listed as one (openRootfsDir).
func (a *Archive) openDir(ctx context.Context, p string, opts Options) error {
	root, err := os.OpenRoot(p)
	if err != nil {
		return err
	}
	a.dir, a.park.path = root, p
	if isRootfsDir(root) {
		return a.openRootfsDir(ctx, p, opts)
	}
	a.Info.Format = OCILayout
	var listing []string
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // folders; links are never followed
		}
		if len(a.members) >= opts.MaxMembers {
			return fmt.Errorf("more than %d files", opts.MaxMembers)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		a.add(name, 0, fi.Size())
		total += fi.Size()
		listing = append(listing, name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	// A folder has no single byte stream; its digest is that of a listing
	// of every file's sha256 and name, sorted, as sha256sum prints it.
	sort.Strings(listing)
	h := sha256.New()
	for _, name := range listing {
		fh, err := hashMember(root, name)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(p, name), err)
		}
		fmt.Fprintf(h, "%s  %s\n", fh, name)
	}
	a.Info.SHA256 = hex.EncodeToString(h.Sum(nil))
	a.Info.Size = total
	return nil
}

func hashMember(root *os.Root, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
