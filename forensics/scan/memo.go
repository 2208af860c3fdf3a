package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/atomicfile"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/internal/readahead"
	"github.com/strata-forensics/strata/forensics/layer"
)

// Memo remembers layer results by blob digest, so that a layer shared by
// several inputs (a fleet of images on one base) is decompressed and walked
// once. A memoised layer's blob is still read and hashed in every input that
// holds it: its digest is verified every time, only the decompression, the
// walk and the detectors are saved. With a folder, results also persist on
// disk across runs (--cache). A Memo is safe for concurrent use.
//
// A layer with no descriptor digest (a docker save layer.tar) is found by
// the diff_id its config gives: the memo remembers which blob digest was
// walked for that diff_id, and the blob at hand must hash to that digest,
// byte for byte the blob walked before, for the result to be reused.
//
// Inputs scanned at the same time (RunAll) share the memo too: a layer being
// walked for one input is claimed, and another input holding the same layer
// takes that walk's result instead of walking it a second time.
//
// A blob walked from an input read in place is remembered with where its
// verified bytes lie. Another input's copy of that blob is then verified by
// comparing it with those bytes, byte for byte: equal bytes have the digest
// the walk verified, and a comparison costs a fraction of a sha256 (for a
// fleet on one base, it was a third of all the CPU time). A copy that
// differs, or whose first copy cannot be read again, is read in full and
// verified on its own, as any other blob.
//
// Better still, the first input read in place that holds a blob offers its
// copy before reading any layer, and the inputs after it compare their own
// copies with it while their own sha256 is computed (archive.Comparison):
// their bytes are then read once, for both. A copy found the same is
// verified once the offering input has verified its own (walked it, or
// found it the same as a verified copy). An input waits only for inputs
// that offered before it, so waits never go round in a circle.
type Memo struct {
	mu       sync.Mutex
	mem      map[string]*LayerResult
	byDiff   map[string]digest.Digest // fingerprint/diff_id -> blob digest walked
	walking  map[string]*walk         // claim key -> the walk under way
	copies   map[digest.Digest]blobCopy
	offers   map[string]*offer // claim key -> the first copy offered for comparison
	bases    baseTrees         // trees of the lower layers of the images built so far
	dir      string            // "" for memory only
	Hits     int               // layers reused instead of read (for tests and progress)
	compared int               // of those, copies verified by their input's own hash (for tests)
}

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
func (m *Memo) offerAll(copies map[string]blobCopy) (mine, earlier map[string]*offer) {
	if m == nil {
		return nil, nil
	}
	mine, earlier = map[string]*offer{}, map[string]*offer{}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.offers == nil {
		m.offers = map[string]*offer{}
	}
	for key, c := range copies {
		if o := m.offers[key]; o != nil {
			earlier[key] = o
			continue
		}
		o := &offer{copy: c, decided: make(chan struct{})}
		m.offers[key] = o
		mine[key] = o
	}
	return mine, earlier
}

// takeCompared returns the memoised result for a blob whose copy the
// input's own hash found the same as an earlier input's offered copy, once
// that input verified it; nil when the copies differ, the comparison could
// not be made, or the offered copy did not verify: the caller then reads
// the blob itself.
func (m *Memo) takeCompared(ctx context.Context, name string, c *archive.Comparison, o *offer, d, diffID digest.Digest, fp string) *LayerResult {
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
	if d == "" {
		d = m.digestFor(diffID, fp)
	}
	prev := m.get(d, fp)
	if prev == nil {
		return nil
	}
	m.hit()
	m.mu.Lock()
	m.compared++
	m.mu.Unlock()
	return &LayerResult{Blob: name, Digest: d, Summary: prev.Summary, Detect: prev.Detect}
}

// NewMemo returns a Memo; dir, when not empty, is a cache folder, created
// when the first result is stored. A cache that cannot be read or written
// costs speed, never correctness.
func NewMemo(dir string) *Memo {
	return &Memo{mem: map[string]*LayerResult{}, byDiff: map[string]digest.Digest{}, walking: map[string]*walk{}, copies: map[digest.Digest]blobCopy{}, dir: dir}
}

// cacheFormat is bumped when the on-disk form changes, or what a walk
// records does: 3 since eStargz metadata entries are left out of a layer's
// Entries (layer.Summary.FormatEntries), so a layer cached by format 2
// would show them as files.
const cacheFormat = 3

type cached struct {
	Format  int                 `json:"format"`
	Key     string              `json:"key"`
	Digest  digest.Digest       `json:"digest"`
	Summary *layer.Summary      `json:"summary"`
	Detect  *detect.LayerResult `json:"detect"`
}

func memoKey(d digest.Digest, fingerprint string) string { return fingerprint + "/" + d.String() }

func (m *Memo) path(d digest.Digest, fingerprint string) string {
	return filepath.Join(m.dir, fingerprint[:16], d.Algorithm().String(), d.Encoded()+".json.gz")
}

// diffPath is the cache file naming the blob digest walked for diffID.
func (m *Memo) diffPath(diffID digest.Digest, fingerprint string) string {
	return filepath.Join(m.dir, fingerprint[:16], "diffid", diffID.Algorithm().String(), diffID.Encoded())
}

// digestFor returns the digest of the blob remembered for a layer whose
// uncompressed content hashes to diffID, or "".
func (m *Memo) digestFor(diffID digest.Digest, fingerprint string) digest.Digest {
	if m == nil || diffID == "" || diffID.Validate() != nil {
		return ""
	}
	m.mu.Lock()
	d := m.byDiff[memoKey(diffID, fingerprint)]
	m.mu.Unlock()
	if d != "" || m.dir == "" {
		return d
	}
	f, err := os.Open(m.diffPath(diffID, fingerprint))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return ""
	}
	d = digest.Digest(b)
	if d.Validate() != nil {
		return "" // a damaged cache entry is only a miss
	}
	return d
}

// get returns a remembered result for blob digest d.
func (m *Memo) get(d digest.Digest, fingerprint string) *LayerResult {
	if m == nil || d == "" || d.Validate() != nil {
		return nil
	}
	m.mu.Lock()
	lr := m.mem[memoKey(d, fingerprint)]
	m.mu.Unlock()
	if lr != nil || m.dir == "" {
		return lr
	}
	c, err := m.load(d, fingerprint)
	if err != nil {
		return nil // a missing or unreadable cache entry is only a miss
	}
	lr = &LayerResult{Digest: c.Digest, Summary: c.Summary, Detect: c.Detect}
	m.mu.Lock()
	m.mem[memoKey(d, fingerprint)] = lr
	m.mu.Unlock()
	return lr
}

func (m *Memo) load(d digest.Digest, fingerprint string) (*cached, error) {
	f, err := os.Open(m.path(d, fingerprint))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var c cached
	if err := json.NewDecoder(io.LimitReader(zr, 4<<30)).Decode(&c); err != nil {
		return nil, err
	}
	if c.Format != cacheFormat || c.Key != memoKey(d, fingerprint) || c.Digest != d || c.Summary == nil {
		return nil, errors.New("cache entry does not match")
	}
	return &c, nil
}

// put remembers a complete, problem-free result, and where its verified
// blob can be read again when c.open is set.
func (m *Memo) put(lr *LayerResult, fingerprint string, c blobCopy) {
	if m == nil || lr.Digest == "" || lr.Summary == nil || len(lr.Problems) > 0 {
		return
	}
	m.mu.Lock()
	m.mem[memoKey(lr.Digest, fingerprint)] = lr
	if _, ok := m.copies[lr.Digest]; !ok && c.open != nil {
		m.copies[lr.Digest] = c
	}
	if lr.Summary.DiffID != "" {
		m.byDiff[memoKey(lr.Summary.DiffID, fingerprint)] = lr.Digest
	}
	m.mu.Unlock()
	if m.dir != "" {
		// A cache that cannot be written only costs speed next time.
		_ = m.store(lr, fingerprint)
	}
}

func (m *Memo) store(lr *LayerResult, fingerprint string) error {
	p := m.path(lr.Digest, fingerprint)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	err := atomicfile.Write(p, 0o644, func(w io.Writer) error {
		zw := gzip.NewWriter(w)
		err := json.NewEncoder(zw).Encode(cached{Format: cacheFormat, Key: memoKey(lr.Digest, fingerprint), Digest: lr.Digest, Summary: lr.Summary, Detect: lr.Detect})
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil || lr.Summary.DiffID == "" {
		return err
	}
	p = m.diffPath(lr.Summary.DiffID, fingerprint)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, lr.Digest.String())
		return err
	})
}

func (m *Memo) hit() {
	m.mu.Lock()
	m.Hits++
	m.mu.Unlock()
}

func fingerprint(eng *detect.Engine) string {
	if eng == nil {
		return "0000000000000000-rebuild-only"
	}
	return eng.Fingerprint()
}

// reuse returns the memoised result for a blob after verifying the blob's
// own bytes: against a verified copy when one can be read again, otherwise
// against its digest. A blob with no digest (d empty) is looked up by the
// diff_id its config gives, and must then be the blob remembered for that
// diff_id. consumed says whether r was read: when the blob then failed, it
// must be opened again and read in full, so that what it holds is reported.
// The verification takes a place at the gate cpu; a lookup that finds
// nothing takes none.
func (m *Memo) reuse(ctx context.Context, cpu *gate, name string, r io.Reader, d, diffID digest.Digest, size int64, fp string) (lr *LayerResult, consumed bool) {
	if d == "" {
		d = m.digestFor(diffID, fp)
	}
	prev := m.get(d, fp)
	if prev == nil {
		return nil, false
	}
	defer cpu.enter(ctx)()
	m.mu.Lock()
	c, ok := m.copies[d]
	m.mu.Unlock()
	same, compared := false, false
	if ok && (size < 0 || size == c.size) {
		same, compared = sameBytes(r, c)
	}
	if compared && !same {
		return nil, true
	}
	if !compared {
		// Reading (decompressing an input compressed as a whole) and
		// hashing go on two cores when one is free.
		ahead := readahead.New(r, cpu)
		_, err := io.Copy(io.Discard, blob.NewVerifier(ahead, d, size))
		ahead.Close()
		if err != nil {
			return nil, true
		}
	}
	m.hit()
	return &LayerResult{Blob: name, Digest: d, Summary: prev.Summary, Detect: prev.Detect}, true
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

// claimKey names a layer for claims: its blob digest, or for a blob with
// none the diff_id its config gives. "" when neither is usable.
func claimKey(d, diffID digest.Digest, fp string) string {
	switch {
	case d != "" && d.Validate() == nil:
		return memoKey(d, fp)
	case diffID != "" && diffID.Validate() == nil:
		return "diff_id:" + memoKey(diffID, fp)
	}
	return ""
}

// claim makes the caller the one walker of the layer named key, or, when
// another input is walking it now, returns that walk. release must follow a
// successful claim; inPlace says whether the caller reads its input in
// place (see walk).
func (m *Memo) claim(key string, inPlace bool) (busy *walk, claimed bool) {
	if m == nil || key == "" {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.walking[key]; ok {
		return w, false
	}
	m.walking[key] = &walk{done: make(chan struct{}), inPlace: inPlace}
	return nil, true
}

func (m *Memo) release(key string) {
	m.mu.Lock()
	w := m.walking[key]
	delete(m.walking, key)
	m.mu.Unlock()
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
func (m *Memo) await(ctx context.Context, name string, r io.Reader, d, diffID digest.Digest, size int64, fp string, busy *walk, cpu *gate) (lr *LayerResult, consumed bool) {
	if busy.inPlace {
		select {
		case <-busy.done:
		case <-ctx.Done():
			return nil, false
		}
		return m.reuse(ctx, cpu, name, r, d, diffID, size, fp)
	}
	var got digest.Digest
	var err error
	cpu.do(ctx, func() {
		if d != "" {
			_, err = io.Copy(io.Discard, blob.NewVerifier(r, d, size))
			got = d
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
	if d == "" && m.digestFor(diffID, fp) != got {
		return nil, true
	}
	prev := m.get(got, fp)
	if prev == nil {
		return nil, true
	}
	m.hit()
	return &LayerResult{Blob: name, Digest: got, Summary: prev.Summary, Detect: prev.Detect}, true
}

// blobOpener is the part of an archive that reopens a blob.
type blobOpener interface {
	Open(name string) (io.ReadCloser, error)
}

// reopen reads a blob again from the start; the reader closes it at EOF.
func reopen(a blobOpener, name string) io.Reader {
	rc, err := a.Open(name)
	if err != nil {
		return errReader{err}
	}
	return closingReader{rc}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type closingReader struct{ rc io.ReadCloser }

func (r closingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil {
		r.rc.Close()
	}
	return n, err
}
