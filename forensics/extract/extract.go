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
	"github.com/strata-forensics/strata/forensics/scan"
)

// ErrExists is returned when the destination file exists and force is off.
var ErrExists = errors.New("destination exists (use --force to overwrite)")

// maxLinkHops bounds symlink resolution inside the image, as the kernel's
// MAXSYMLINKS does.
const maxLinkHops = 40

// ResolveInImage follows symlinks in p as a process chrooted into the
// image would, as the filesystem stands after layer idx: absolute targets
// start at the image root and ".." stops there. It returns the final path.
func ResolveInImage(ir *scan.ImageResult, p string, idx int) (string, error) {
	p = path.Clean("/" + p)
	hops := 0
	var walk func(p string, final bool) (string, error)
	walk = func(p string, final bool) (string, error) {
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		for i, part := range parts {
			if part == "" {
				continue
			}
			next := path.Join(cur, part)
			last := i == len(parts)-1
			e, _, ok := entryAt(ir, next, idx)
			if !ok || e.Type != layer.Symlink || (last && !final) {
				cur = next
				continue
			}
			hops++
			if hops > maxLinkHops {
				return "", fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target := e.Link
			if !strings.HasPrefix(target, "/") {
				target = path.Join(cur, target)
			}
			resolved, err := walk(path.Clean("/"+target), true)
			if err != nil {
				return "", err
			}
			cur = resolved
		}
		return cur, nil
	}
	return walk(p, true)
}

func entryAt(ir *scan.ImageResult, p string, idx int) (*layer.Entry, int, bool) {
	n := ir.Tree.Node(p)
	if n == nil {
		return nil, -1, false
	}
	return n.At(idx)
}

// File writes the regular file at p (after layer idx; -1 for the final
// filesystem) to destDir/<p> and returns the path written and the sha256 of
// the bytes written.
func File(ctx context.Context, res *scan.Result, ir *scan.ImageResult, p string, idx int, destDir string, force bool) (string, string, error) {
	if idx < 0 {
		idx = len(ir.Layers) - 1
	}
	if idx >= len(ir.Layers) {
		return "", "", fmt.Errorf("layer %d: the image has %d layers (0-%d)", idx, len(ir.Layers), len(ir.Layers)-1)
	}
	resolved, err := ResolveInImage(ir, p, idx)
	if err != nil {
		return "", "", err
	}
	e, from, ok := ir.Resolve(resolved, idx)
	if !ok {
		return "", "", notThere(ir, resolved, idx)
	}
	if e.Type != layer.File {
		return "", "", fmt.Errorf("%s: is a %s, not a regular file", resolved, e.Type)
	}
	src, err := res.Open(ir, from, e)
	if err != nil {
		return "", "", err
	}
	defer src.Close()
	return write(ctx, src, resolved, destDir, force)
}

// notThere explains a missing path, pointing at layers that hold its bytes.
func notThere(ir *scan.ImageResult, p string, idx int) error {
	n := ir.Tree.Node(p)
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
