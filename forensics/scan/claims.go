package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// The two ways a layer held by several inputs of a fleet is read once
// while each input still verifies its own copy (see Memo): a claim on the
// layer's walk that other inputs await, and an offer of a copy read in
// place that other inputs compare their own copies with.

// walk is a claim: done is closed when the walk is over. inPlace says the
// walker reads its input in place, so the blob's bytes can be compared
// with its copy once it is verified, rather than hashed meanwhile.
type walk struct {
	done    chan struct{}
	inPlace bool
}

// blobCopy is where a verified blob can be read again.
type blobCopy struct {
	open func() (io.ReadCloser, error)
	size int64
}

// offer is a copy of a blob that the input holding it will verify; decided
// is closed once it did, or gave up (verified false).
type offer struct {
	copy     blobCopy
	decided  chan struct{}
	verified bool
	once     sync.Once
}

func (o *offer) resolve(verified bool) {
	o.once.Do(func() {
		o.verified = verified
		close(o.decided)
	})
}

// offerAll registers, in one step, the copies of an input's blobs (by
// claim key) that no input offered before, and returns those offers (the
// input must resolve them) and, by key, the earlier offers of other inputs
// to compare its own copies with.
func (s *share) offerAll(copies map[string]blobCopy) (mine, earlier map[string]*offer) {
	if s.m == nil {
		return nil, nil
	}
	mine, earlier = map[string]*offer{}, map[string]*offer{}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	for key, c := range copies {
		if o := s.m.offers[key]; o != nil {
			earlier[key] = o
			continue
		}
		o := &offer{copy: c, decided: make(chan struct{})}
		s.m.offers[key] = o
		mine[key] = o
	}
	return mine, earlier
}

// takeCompared returns the remembered result for a blob whose copy the
// input's own hash found the same as an earlier input's offered copy, once
// that input verified it; nil when the copies differ, the comparison could
// not be made, or the offered copy did not verify: the caller then reads
// the blob itself.
func (s *share) takeCompared(ctx context.Context, ref blobRef, c *comparison, o *offer) *LayerResult {
	if !c.Same(ctx) {
		return nil
	}
	select {
	case <-o.decided:
	case <-ctx.Done():
		return nil
	}
	if !o.verified {
		return nil
	}
	d := s.blobDigest(ref)
	prev := s.get(d)
	if prev == nil {
		return nil
	}
	s.m.mu.Lock()
	s.m.compared++
	s.m.mu.Unlock()
	return s.hit(ref, prev, d)
}

// claim makes the caller the one walker of the layer named key, or, when
// another input is walking it now, returns that walk. release must follow
// a successful claim; inPlace says whether the caller reads its input in
// place (see walk).
func (s *share) claim(key string, inPlace bool) (busy *walk, claimed bool) {
	if s.m == nil || key == "" {
		return nil, false
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if w, ok := s.m.walking[key]; ok {
		return w, false
	}
	s.m.walking[key] = &walk{done: make(chan struct{}), inPlace: inPlace}
	return nil, true
}

func (s *share) release(key string) {
	s.m.mu.Lock()
	w := s.m.walking[key]
	delete(s.m.walking, key)
	s.m.mu.Unlock()
	if w != nil {
		close(w.done)
	}
}

// await takes the result of another input's walk of the same layer once
// it is done, after verifying this input's copy of the blob. When that walk
// reads its input in place, the copy is compared with the walked blob
// afterwards (see reuse); otherwise it is hashed while the walk goes on: a
// blob with a descriptor digest is checked against it, one without must
// hash to the blob walked for its diff_id. It returns nil when the blob did
// not verify or the other walk left no result: the caller then reads the
// blob itself, again from the start when consumed.
func (s *share) await(ctx context.Context, ref blobRef, r io.Reader, busy *walk) (lr *LayerResult, consumed bool) {
	if busy.inPlace {
		select {
		case <-busy.done:
		case <-ctx.Done():
			return nil, false
		}
		return s.reuse(ctx, ref, r)
	}
	var got digest.Digest
	var err error
	s.cpu.Do(ctx, func() {
		if ref.digest != "" {
			_, err = io.Copy(io.Discard, blob.NewVerifier(r, ref.digest, ref.size))
			got = ref.digest
			return
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		got = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	})
	if err != nil {
		return nil, true
	}
	select {
	case <-busy.done:
	case <-ctx.Done():
		return nil, true
	}
	if ref.digest == "" && s.blobDigest(ref) != got {
		return nil, true
	}
	prev := s.get(got)
	if prev == nil {
		return nil, true
	}
	return s.hit(ref, prev, got), true
}

// compareBuffer is the size of the pieces sameBytes compares.
const compareBuffer = 256 << 10

var comparePool = sync.Pool{New: func() any { b := make([]byte, 2*compareBuffer); return &b }}

// sameBytes reports whether r holds exactly the bytes of c: the same bytes
// and as many. compared is false, with r untouched, when c cannot be read
// again (its input was closed meanwhile).
func sameBytes(r io.Reader, c blobCopy) (same, compared bool) {
	rc, err := c.open()
	if err != nil {
		return false, false
	}
	defer rc.Close()
	bp := comparePool.Get().(*[]byte)
	defer comparePool.Put(bp)
	a, b := (*bp)[:compareBuffer], (*bp)[compareBuffer:]
	var n int64
	for {
		na, erra := io.ReadFull(rc, a)
		nb, errb := io.ReadFull(r, b)
		if na != nb || !bytes.Equal(a[:na], b[:nb]) {
			return false, true
		}
		n += int64(na)
		endA := erra == io.EOF || erra == io.ErrUnexpectedEOF
		endB := errb == io.EOF || errb == io.ErrUnexpectedEOF
		switch {
		case endA && endB:
			return n == c.size, true
		case erra != nil && !endA, errb != nil && !endB, endA != endB:
			return false, true
		}
	}
}

// blobOpener is the part of an archive that reopens a blob.
type blobOpener interface {
	Open(name string) (io.ReadCloser, error)
}

// reopen reads a blob again from the start; the reader closes it at EOF.
func reopen(a blobOpener, name string) io.Reader {
	rc, err := a.Open(name)
	if err != nil {
		return iox.ErrReader{Err: err}
	}
	return closingReader{rc}
}

type closingReader struct{ rc io.ReadCloser }

func (r closingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil {
		r.rc.Close()
	}
	return n, err
}
