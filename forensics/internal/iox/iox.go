// Package iox holds the small readers that several packages need, once: a
// reader that stops when its context ends, one that only fails, and one
// that stops a decompression bomb.
package iox

import (
	"context"
	"io"
)

// A ContextReader reads R until Ctx ends, and from then on returns Ctx's
// error, so that a long copy stops soon after a cancel.
type ContextReader struct {
	Ctx context.Context
	R   io.Reader
}

func (c ContextReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.R.Read(p)
}

// An ErrReader returns Err from every Read: it stands for a stream that
// could not be opened where a reader is expected.
type ErrReader struct{ Err error }

func (e ErrReader) Read([]byte) (int, error) { return 0, e.Err }

// RatioGrace is how many bytes a RatioReader gives before it checks the
// ratio: a small stream may expand as much as it likes.
const RatioGrace = 64 << 20

// A RatioReader reads a decompressed stream and fails, for good, once it
// has given more than RatioGrace bytes and more than max times the
// compressed bytes read so far: a bomb of zeros is stopped early rather
// than expanded to its end.
type RatioReader struct {
	r          io.Reader
	compressed func() int64
	max        float64
	fail       func(n, compressed int64) error
	n          int64
	err        error
}

// NewRatioReader returns a RatioReader of r, the decompression of a stream
// of which compressed tells how many bytes were read so far. fail makes
// the error returned once the ratio is passed, from the bytes given and
// the compressed bytes read by then.
func NewRatioReader(r io.Reader, compressed func() int64, max float64, fail func(n, compressed int64) error) *RatioReader {
	return &RatioReader{r: r, compressed: compressed, max: max, fail: fail}
}

func (q *RatioReader) Read(p []byte) (int, error) {
	if q.err != nil {
		return 0, q.err
	}
	n, err := q.r.Read(p)
	q.n += int64(n)
	if q.n > RatioGrace {
		if c := q.compressed(); c > 0 && float64(q.n)/float64(c) > q.max {
			q.err = q.fail(q.n, c)
			return n, q.err
		}
	}
	return n, err
}

// Err returns the error the ratio caused, or nil while it holds.
func (q *RatioReader) Err() error { return q.err }
