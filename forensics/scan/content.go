package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Resolve finds the entry at path p as it stands after layer idx (a
// negative idx means the final filesystem) and the layer whose blob holds
// its bytes, following a hardlink to its target. ok is false when the path
// does not exist then.
func (ir *ImageResult) Resolve(p string, idx int) (e *layer.Entry, from int, ok bool) {
	if idx < 0 || idx >= len(ir.Layers) {
		idx = len(ir.Layers) - 1
	}
	n := ir.Tree.Node(p)
	if n == nil {
		return nil, -1, false
	}
	e, from, ok = n.At(idx)
	for hops := 0; ok && e.Type == layer.Hardlink && hops < 8; hops++ {
		t := ir.Tree.Node(e.Link)
		if t == nil {
			return e, from, true
		}
		var te *layer.Entry
		var tfrom int
		te, tfrom, ok = t.At(idx)
		if !ok {
			return e, from, true // a hardlink to nothing: no bytes to show
		}
		e, from = te, tfrom
	}
	return e, from, ok
}

// Open returns the bytes of entry e as stored in layer layerIdx's blob. The
// bytes are checked against e.SHA256 as they are read: a mismatch is an
// error at EOF, never silently different evidence.
func (r *Result) Open(img *ImageResult, layerIdx int, e *layer.Entry) (io.ReadCloser, error) {
	if layerIdx < 0 || layerIdx >= len(img.Image.Layers) {
		return nil, fmt.Errorf("layer %d: out of range (image has %d layers)", layerIdx, len(img.Image.Layers))
	}
	if e.Type != layer.File {
		return nil, fmt.Errorf("%s: a %s has no content of its own", e.Path, e.Type)
	}
	l := img.Image.Layers[layerIdx]
	if l.Blob == "" {
		return nil, fmt.Errorf("layer %d (%s): blob absent from the archive", layerIdx, l.Digest)
	}
	raw, err := r.archive.Open(l.Blob)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", layerIdx, err)
	}
	dec, _, err := compress.Reader(raw)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("layer %d: %w", layerIdx, err)
	}
	if _, err := io.CopyN(io.Discard, dec, e.Offset); err != nil {
		dec.Close()
		raw.Close()
		return nil, fmt.Errorf("layer %d: seeking to %s at offset %d: %w", layerIdx, e.Path, e.Offset, err)
	}
	return &contentReader{r: io.LimitReader(dec, e.Size), h: sha256.New(), want: e.SHA256, path: e.Path, closers: []io.Closer{dec, raw}}, nil
}

type contentReader struct {
	r       io.Reader
	h       hash.Hash
	want    string
	path    string
	closers []io.Closer
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF && c.want != "" {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want {
			return n, fmt.Errorf("%s: content hashes to %s, the layer walk recorded %s", c.path, got, c.want)
		}
	}
	return n, err
}

func (c *contentReader) Close() error {
	for _, cl := range c.closers {
		cl.Close()
	}
	return nil
}

// Changes lists what layer idx's own tar did, path by path, in path order:
// each path with the change the layer made to it.
func (ir *ImageResult) Changes(idx int) []PathChange {
	var out []PathChange
	ir.Tree.Walk("/", func(n *tree.Node) bool {
		for _, c := range n.History {
			if c.Layer == idx && c.Op != tree.Same && !c.Implied {
				out = append(out, PathChange{Node: n, Change: c})
			}
		}
		return true
	})
	return out
}

// PathChange is one change a layer made to one path.
type PathChange struct {
	Node   *tree.Node
	Change tree.Change
}
