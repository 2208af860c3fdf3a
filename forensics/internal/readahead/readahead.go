// Package readahead moves the reading of a stream onto a second goroutine
// while a core is free, so that one big layer (the usual shape of an
// image: a big base and a few small layers on top) is decompressed on one
// core while it is walked and hashed on another. The core is given back as
// soon as other work asks for one: the reading then goes on in the
// caller's goroutine, as if there were no Reader.
package readahead

import (
	"io"
)

// Cores lends spare cores.
type Cores interface {
	// TryEnter takes a free core at once, or reports that none is free.
	TryEnter() (leave func(), ok bool)
	// Wanted reports that other work waits for a core.
	Wanted() bool
}

const (
	chunkSize  = 256 << 10 // bytes read ahead at a time
	chunks     = 4         // read ahead at most: chunks × chunkSize
	checkEvery = 1 << 20   // bytes read in the caller's goroutine between two looks for a free core
	maxEmpty   = 100       // reads in a row that return nothing before giving up
)

// spare keeps the buffers of closed Readers for the next ones, up to
// those of four Readers reading ahead at once (4 MiB; a core each, more
// than this machine's kind has). A layer's Reader used to make its own:
// that was a quarter of the pages a sharded scan's process touched for
// the first time, each a page fault, which costs some 13 µs in a virtual
// machine; and as many bytes again for the collector.
var spare = make(chan []byte, 4*chunks)

func newBuffer() []byte {
	select {
	case b := <-spare:
		return b
	default:
		return make([]byte, chunkSize)
	}
}

func putBuffer(b []byte) {
	if cap(b) != chunkSize {
		return
	}
	select {
	case spare <- b[:cap(b)]:
	default:
	}
}

type chunk struct {
	b   []byte
	err error
	// with: src returned err together with the chunk's last bytes, and
	// Read does too, as src would have inline: a tar reader takes a file
	// whose last bytes come with an error for a broken file, and the same
	// bytes then the error apart for a whole file followed by a broken
	// header.
	with bool
	back bool // the reader gave its core back and stopped
}

// Reader reads src, ahead of its caller while a core is free. It is not
// safe for concurrent use, and src must not be read by anyone else until
// Close returns.
type Reader struct {
	src   io.Reader
	cores Cores
	since int // bytes read inline since the last look for a core

	ahead  bool          // a reading goroutine runs
	filled chan chunk    // from the reading goroutine, in order
	free   chan []byte   // empty buffers for it
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when the reading goroutine returns
	cur    []byte        // the unread rest of the chunk being read
	buf    []byte        // cur's buffer, to give back once read
	err    error         // src's error, returned once everything before it was
	with   bool          // err comes with cur's last bytes
	closed bool
}

// New returns a Reader of src that borrows cores from cores. With nil
// cores it only reads src.
func New(src io.Reader, cores Cores) *Reader {
	return &Reader{src: src, cores: cores, since: checkEvery, stop: make(chan struct{})}
}

func (r *Reader) Read(p []byte) (int, error) {
	for {
		if len(r.cur) > 0 {
			n := copy(p, r.cur)
			r.cur = r.cur[n:]
			if len(r.cur) == 0 {
				r.free <- r.buf // never blocks: there are as many places as buffers
				r.buf = nil
				if r.with {
					return n, r.err
				}
			}
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if !r.ahead {
			if r.since >= checkEvery && !r.closed {
				r.since = 0
				if r.start() {
					continue
				}
			}
			n, err := r.src.Read(p)
			r.since += n
			r.err = err
			return n, err
		}
		c := <-r.filled
		if c.back {
			<-r.done
			r.ahead = false
			continue
		}
		r.err, r.with = c.err, c.with
		if len(c.b) == 0 {
			r.free <- c.b
			continue
		}
		r.cur, r.buf = c.b, c.b
	}
}

// start starts the reading goroutine if a core is free.
func (r *Reader) start() bool {
	if r.cores == nil {
		return false
	}
	leave, ok := r.cores.TryEnter()
	if !ok {
		return false
	}
	if r.free == nil {
		r.free = make(chan []byte, chunks)
		r.filled = make(chan chunk, chunks+1)
		for range chunks {
			r.free <- newBuffer()
		}
	}
	r.ahead = true
	r.done = make(chan struct{})
	go r.readAhead(leave)
	return true
}

// readAhead fills buffers from src until src fails or ends, Close is
// called, or another piece of work wants the core back.
func (r *Reader) readAhead(leave func()) {
	defer close(r.done)
	defer leave()
	for {
		var b []byte
		select {
		case b = <-r.free:
		case <-r.stop:
			return
		}
		if r.cores.Wanted() {
			r.free <- b
			r.filled <- chunk{back: true}
			return
		}
		b = b[:cap(b)]
		n, m, empty := 0, 0, 0
		var err error
		for n < len(b) && err == nil {
			m, err = r.src.Read(b[n:])
			n += m
			if m > 0 {
				empty = 0
			} else if empty++; empty >= maxEmpty && err == nil {
				err = io.ErrNoProgress
			}
		}
		r.filled <- chunk{b: b[:n], err: err, with: err != nil && m > 0} // never blocks: one place per buffer, and one for back
		if err != nil {
			return
		}
	}
}

// Close stops reading ahead and waits until src is no longer read, so
// that the caller may read it again; what was read ahead and not returned
// by Read is dropped. Read must not be called after Close.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	close(r.stop)
	if r.ahead {
		<-r.done
		r.ahead = false
	}
	if r.free != nil {
		// No one reads the buffers any more: the reading goroutine has
		// returned, and Read is not called after Close.
		putBuffer(r.buf)
		r.cur, r.buf = nil, nil
		for len(r.filled) > 0 {
			if c := <-r.filled; c.b != nil {
				putBuffer(c.b)
			}
		}
		for len(r.free) > 0 {
			putBuffer(<-r.free)
		}
	}
	return nil
}
