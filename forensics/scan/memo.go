package scan

import (
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

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
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
// verifies its own copy of the blob while it waits for that walk, instead of
// walking it a second time.
type Memo struct {
	mu      sync.Mutex
	mem     map[string]*LayerResult
	byDiff  map[string]digest.Digest // fingerprint/diff_id -> blob digest walked
	walking map[string]chan struct{} // claim key -> closed when the walk is done
	dir     string                   // "" for memory only
	Hits    int                      // layers reused instead of read (for tests and progress)
}

// NewMemo returns a Memo; dir, when not empty, is a cache folder, created
// when the first result is stored. A cache that cannot be read or written
// costs speed, never correctness.
func NewMemo(dir string) *Memo {
	return &Memo{mem: map[string]*LayerResult{}, byDiff: map[string]digest.Digest{}, walking: map[string]chan struct{}{}, dir: dir}
}

// cacheFormat is bumped when the on-disk form changes.
const cacheFormat = 2

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

// put remembers a complete, problem-free result.
func (m *Memo) put(lr *LayerResult, fingerprint string) {
	if m == nil || lr.Digest == "" || lr.Summary == nil || len(lr.Problems) > 0 {
		return
	}
	m.mu.Lock()
	m.mem[memoKey(lr.Digest, fingerprint)] = lr
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
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	err = json.NewEncoder(zw).Encode(cached{Format: cacheFormat, Key: memoKey(lr.Digest, fingerprint), Digest: lr.Digest, Summary: lr.Summary, Detect: lr.Detect})
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	if lr.Summary.DiffID == "" {
		return nil
	}
	return writeFileAtomic(m.diffPath(lr.Summary.DiffID, fingerprint), []byte(lr.Digest))
}

// writeFileAtomic writes b to p through a temporary file and a rename, so
// a reader never sees half of it.
func writeFileAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
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
// own bytes against its digest. A blob with no digest (d empty) is looked
// up by the diff_id its config gives, and must then hash to the digest of
// the blob remembered for that diff_id. consumed says whether r was read:
// when the digest then failed, the blob must be opened again and read in
// full, so that what it holds is reported.
func (m *Memo) reuse(name string, r io.Reader, d, diffID digest.Digest, size int64, fp string) (lr *LayerResult, consumed bool) {
	if d == "" {
		d = m.digestFor(diffID, fp)
	}
	prev := m.get(d, fp)
	if prev == nil {
		return nil, false
	}
	v := blob.NewVerifier(r, d, size)
	if _, err := io.Copy(io.Discard, v); err != nil {
		return nil, true
	}
	m.hit()
	return &LayerResult{Blob: name, Digest: d, Summary: prev.Summary, Detect: prev.Detect}, true
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
// another input is walking it now, returns a channel closed when that walk
// is done. release must follow a successful claim.
func (m *Memo) claim(key string) (busy <-chan struct{}, claimed bool) {
	if m == nil || key == "" {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.walking[key]; ok {
		return ch, false
	}
	m.walking[key] = make(chan struct{})
	return nil, true
}

func (m *Memo) release(key string) {
	m.mu.Lock()
	ch := m.walking[key]
	delete(m.walking, key)
	m.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// await verifies a blob while another input walks the same layer, then
// takes that walk's result. A blob with a descriptor digest is checked
// against it; one without is hashed and must match the blob walked for its
// diff_id. It returns nil when the blob did not verify or the other walk
// left no result: the caller then reads the blob itself.
func (m *Memo) await(ctx context.Context, name string, r io.Reader, d, diffID digest.Digest, size int64, fp string, busy <-chan struct{}) *LayerResult {
	var got digest.Digest
	if d != "" {
		if _, err := io.Copy(io.Discard, blob.NewVerifier(r, d, size)); err != nil {
			return nil
		}
		got = d
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return nil
		}
		got = digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	}
	select {
	case <-busy:
	case <-ctx.Done():
		return nil
	}
	if d == "" && m.digestFor(diffID, fp) != got {
		return nil
	}
	prev := m.get(got, fp)
	if prev == nil {
		return nil
	}
	m.hit()
	return &LayerResult{Blob: name, Digest: got, Summary: prev.Summary, Detect: prev.Detect}
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
