package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Resolve finds the entry at path p as it stands after layer idx (a
// negative idx means the final filesystem) and the layer whose blob holds
// its bytes, following a hardlink to its target: tree.Tree.Resolve without
// symbolic links. ok is false when the path does not exist then.
func (ir *ImageResult) Resolve(p string, idx int) (e *layer.Entry, from int, ok bool) {
	r, _ := ir.Tree.Resolve(p, idx, false) // only following symbolic links fails
	return r.Entry, r.From, r.Entry != nil
}

// Content reads one image's file bytes from the input's layer blobs: the
// opener extract.File, report.Source and the explorer take. It holds the
// input and the image, not the image's tree.
type Content struct {
	archive *archive.Archive
	image   *image.Image
}

// Content returns the opener of ir's file bytes, valid until r is closed.
func (r *Result) Content(ir *ImageResult) Content {
	return Content{archive: r.archive, image: ir.Image}
}

// Open returns the bytes of entry e of img as stored in layer layerIdx's
// blob (see Content.Open).
func (r *Result) Open(img *ImageResult, layerIdx int, e *layer.Entry) (io.ReadCloser, error) {
	return r.Content(img).Open(layerIdx, e)
}

// Open returns the bytes of entry e as stored in layer layerIdx's blob. The
// bytes are checked against e.SHA256 as they are read: a mismatch is an
// error at EOF, never silently different evidence.
func (c Content) Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error) {
	if layerIdx < 0 || layerIdx >= len(c.image.Layers) {
		return nil, fmt.Errorf("layer %d: out of range (image has %d layers)", layerIdx, len(c.image.Layers))
	}
	if e.Type != layer.File {
		return nil, fmt.Errorf("%s: a %s has no content of its own", e.Path, e.Type)
	}
	l := c.image.Layers[layerIdx]
	if l.Blob == "" {
		return nil, fmt.Errorf("layer %d (%s): blob absent from the archive", layerIdx, l.Digest)
	}
	if c.archive == nil {
		return nil, fmt.Errorf("layer %d: the input is not open", layerIdx)
	}
	raw, err := c.archive.Open(l.Blob)
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
// tree.Tree.Changes.
func (ir *ImageResult) Changes(idx int) []PathChange { return ir.Tree.Changes(idx) }

// PathChange is one change a layer made to one path.
type PathChange = tree.PathChange
