// Package extract writes a file's bytes out of an image, as they stand
// after a chosen layer, into a folder the user chose. It resolves paths
// inside the image's own tree (a symlink never leads out of it), writes only
// below the destination (checked twice: a lexical secure join, then an
// os.Root that refuses to follow links out), never overwrites without being
// told to, and never writes an executable or setuid bit.
package extract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// ErrExists is returned when the destination file exists and force is off.
var ErrExists = errors.New("destination exists (use --force to overwrite)")

// Opener reads the bytes of an entry as stored in a layer's blob;
// scan.Content is one.
type Opener interface {
	Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error)
}

// File writes the regular file at p of image tree t, as it stands after
// layer idx (-1 for the final filesystem), to destDir/<p>, reading its
// bytes through o, and returns the path written and the sha256 of the bytes
// written. Links in p are followed inside the image (tree.Tree.Resolve).
func File(ctx context.Context, t *tree.Tree, o Opener, p string, idx int, destDir string, force bool) (string, string, error) {
	layers := t.Layers()
	if idx < 0 {
		idx = layers - 1
	}
	if idx >= layers {
		return "", "", fmt.Errorf("layer %d: the image has %d layers (0-%d)", idx, layers, layers-1)
	}
	r, err := t.Resolve(p, idx, true)
	if err != nil {
		return "", "", err
	}
	if r.Entry == nil {
		return "", "", notThere(t, r.Path, idx)
	}
	if r.Entry.Type != layer.File {
		return "", "", fmt.Errorf("%s: is a %s, not a regular file", r.Path, r.Entry.Type)
	}
	src, err := o.Open(r.From, r.Entry)
	if err != nil {
		return "", "", err
	}
	defer src.Close()
	return write(ctx, src, r.Path, destDir, force)
}

// notThere explains a missing path, pointing at layers that hold its bytes.
func notThere(t *tree.Tree, p string, idx int) error {
	n := t.Node(p)
	if n == nil {
		return fmt.Errorf("%s: no such path in any layer", p)
	}
	var layers []string
	for _, h := range n.Hidden() {
		if h.Layer <= idx {
			layers = append(layers, fmt.Sprint(h.Layer))
		}
	}
	if len(layers) > 0 {
		return fmt.Errorf("%s: not present after layer %d (deleted or replaced); its earlier bytes ship in layer %s: use --layer", p, idx, strings.Join(layers, ", "))
	}
	return fmt.Errorf("%s: not present after layer %d", p, idx)
}

func write(ctx context.Context, src io.Reader, imagePath, destDir string, force bool) (string, string, error) {
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return "", "", err
	}
	rel := strings.TrimPrefix(path.Clean("/"+imagePath), "/")
	// Lexical check first: the joined path must stay below destDir even if
	// something in destDir is a link.
	full, err := securejoin.SecureJoin(destDir, filepath.FromSlash(rel))
	if err != nil {
		return "", "", err
	}
	relOS, err := filepath.Rel(destDir, full)
	if err != nil || relOS == ".." || strings.HasPrefix(relOS, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%s: would be written outside %s", imagePath, destDir)
	}
	root, err := os.OpenRoot(destDir)
	if err != nil {
		return "", "", err
	}
	defer root.Close()
	if dir := filepath.Dir(relOS); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("creating %s below %s: %w", dir, destDir, err)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := root.OpenFile(relOS, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return "", "", fmt.Errorf("%s: %w", full, ErrExists)
	}
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), ctxReader{ctx, src})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(relOS)
		return "", "", fmt.Errorf("writing %s: %w", full, err)
	}
	return full, hex.EncodeToString(h.Sum(nil)), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
