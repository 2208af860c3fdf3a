package scan

import (
	"bytes"
	"context"
	"io"
	"sort"

	"github.com/strata-forensics/strata/forensics/archive"
)

// compareBuffer is the size of the other bytes read at a time.
const compareChunk = 256 << 10

// A comparison asks the background hash of an input (archive.StartHash,
// through Compare) to compare one of its members, byte for byte, with bytes read
// elsewhere, such as another input's verified copy of the same blob: the
// member is then read once for both.
type comparison struct {
	Member string
	Open   func() (io.ReadCloser, error) // the other bytes
	Size   int64                         // how many other bytes there are

	done chan struct{}
	same bool
}

// Same waits until the member was compared and reports whether it holds
// exactly the other bytes. It is false when they differ, when they could
// not be read or the member not reached, when ctx ends first, and at once
// when no hash took the comparison (StartHash was false) or it was never
// given to Compare.
func (c *comparison) Same(ctx context.Context) bool {
	if c.done == nil {
		return false
	}
	select {
	case <-c.done:
		return c.same
	case <-ctx.Done():
		return false
	}
}

// A comparer is the RegionWatcher that decides comparisons as the hash
// passes their members.
type comparer struct {
	cs      []*comparison
	regions []*region // in input order, not overlapping; the first is next
	other   []byte    // a buffer for the other bytes
}

// memberStater finds a member's place in the input.
type memberStater interface {
	Stat(name string) (archive.Member, bool)
}

// Compare places cs in the input a and returns the watcher that decides
// them, for a.StartHash. A comparison whose member is missing, of another
// size or overlapping the one before is decided not the same once the
// hash ends.
func newComparer(a memberStater, cs []*comparison) *comparer {
	w := &comparer{cs: cs}
	for _, c := range cs {
		c.done = make(chan struct{})
		m, ok := a.Stat(c.Member)
		if !ok || m.Size != c.Size || c.Open == nil {
			continue
		}
		w.regions = append(w.regions, &region{c: c, start: m.Offset, end: m.Offset + m.Size})
	}
	sort.Slice(w.regions, func(i, j int) bool { return w.regions[i].start < w.regions[j].start })
	kept := w.regions[:0]
	for _, r := range w.regions {
		if len(kept) > 0 && r.start < kept[len(kept)-1].end {
			continue
		}
		kept = append(kept, r)
	}
	w.regions = kept
	return w
}

// Watch compares the bytes of the members b covers with their other bytes,
// decides each member it ends, and at the end of the hash decides the
// rest: not the same.
func (w *comparer) Watch(off int64, b []byte, err error) {
	end := off + int64(len(b))
	for len(w.regions) > 0 {
		r := w.regions[0]
		if lo, hi := max(off, r.start), min(end, r.end); lo < hi {
			if w.other == nil {
				w.other = make([]byte, compareChunk)
			}
			r.compare(b[lo-off:hi-off], w.other)
		}
		if r.end > end {
			break
		}
		r.finish()
		w.regions = w.regions[1:]
	}
	if err == nil {
		return
	}
	for _, r := range w.regions {
		if r.other != nil {
			r.other.Close() // a region the hash did not finish
		}
	}
	w.regions = nil
	for _, c := range w.cs {
		select {
		case <-c.done:
		default:
			close(c.done) // not reached, or given up on: not the same
		}
	}
}

// region is a comparison placed in the input file.
type region struct {
	c          *comparison
	start, end int64
	other      io.ReadCloser
	failed     bool
}

// compare checks the member's next bytes b against as many other bytes.
func (r *region) compare(b, other []byte) {
	if r.failed {
		return
	}
	if r.other == nil {
		rc, err := r.c.Open()
		if err != nil {
			r.failed = true
			return
		}
		r.other = rc
	}
	for len(b) > 0 {
		n := min(len(b), len(other))
		if _, err := io.ReadFull(r.other, other[:n]); err != nil || !bytes.Equal(b[:n], other[:n]) {
			r.failed = true
			return
		}
		b = b[n:]
	}
}

// finish decides the comparison once the member ended: the same when every
// byte matched and the other bytes end there too.
func (r *region) finish() {
	if !r.failed && r.other == nil {
		r.compare(nil, nil)
	}
	same := !r.failed
	if same {
		var probe [1]byte
		n, _ := io.ReadFull(r.other, probe[:])
		same = n == 0
	}
	if r.other != nil {
		r.other.Close()
	}
	r.c.same = same
	close(r.c.done)
}
