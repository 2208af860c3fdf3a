package scan

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/internal/readahead"
	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/forensics/layercache"
)

// Memo is what the runs of a fleet scan share: the layer cache (see
// layercache; with a folder, its entries authenticated), the trees of the
// images' lower layers (baseTrees), and the coordination that lets a layer
// held by several inputs be walked once while every input still verifies
// its own copy:
//
//   - claim and await: a layer being walked for one input is claimed, and
//     another input holding it takes that walk's result once its own copy
//     is verified, instead of walking it again;
//   - offer and compare: the first input read in place that holds a blob
//     offers its copy, and the inputs after it compare their copies with
//     it byte for byte while their own sha256 is computed (a comparison
//     costs a fraction of a hash). A copy found the same is verified once
//     the offering input verified its own; one that differs is read and
//     verified on its own. An input waits only for inputs that offered
//     before it, so waits never go round in a circle.
//
// In a fleet (RunEach) with no cache folder, the memo keeps in memory the
// results of the layers images build on, which other inputs are likely to
// share, for the whole scan; the result of a layer no image builds on (an
// image's top layer, its own) only while an input in flight may still
// take it: see ownEntry.
//
// A Memo is safe for concurrent use.
type Memo struct {
	cache *layercache.Cache
	bases baseTrees

	mu       sync.Mutex
	walking  map[string]*walk           // claim key -> the walk under way
	copies   map[digest.Digest]blobCopy // where a verified blob can be read again
	offers   map[string]*offer          // claim key -> the first copy offered
	Hits     int                        // layers reused instead of read (for tests and progress)
	compared int                        // of those, copies verified by their input's own hash

	// The fleet's runs in flight and the layers they read, by interest
	// key (interestKeys), which decide how long own results are kept.
	enlisted   int                 // runs of RunEach started and not yet ended
	undeclared int                 // of those, the runs that have not yet said what they read
	wanted     map[string]int      // interest key -> runs in flight that read the layer
	lower      map[string]bool     // interest keys of layers an image of some run builds on
	own        map[string]ownEntry // cache key -> a result kept only while wanted
}

// ownEntry is a result remembered in memory for the runs in flight only:
// that of a layer no image of the run that walked it builds on. A fleet's
// images each have such a layer of their own (their top one), which no
// later input shares: kept for the whole scan, their entries grew with the
// fleet, long after each image's report was written and its tree released
// (in the 20-image bench fleet, 1,500 entries an image: 9 MB of the 35 MB
// live at its end). A later input holding the layer after all (the same
// image again, past the inputs in flight) walks it again; a layer some
// image builds on is kept for good.
type ownEntry struct {
	digest, diffID digest.Digest
	fp             string
}

// interestKeys names a layer as the runs of a fleet declare it: by its blob
// digest and by its diff_id, the two a result is found by.
func interestKeys(d, diffID digest.Digest, fp string) []string {
	var keys []string
	if d != "" && blob.Validate(d) == nil {
		keys = append(keys, layercache.Name(d, fp))
	}
	if diffID != "" && blob.Validate(diffID) == nil {
		keys = append(keys, "diff_id:"+layercache.Name(diffID, fp))
	}
	return keys
}

// NewMemo returns a Memo; dir, when not empty, is a cache folder, created
// when the first result is stored, whose entries are authenticated with
// the default key (layercache.DefaultKeyPath, created on first use). When
// that key cannot be had, or does not suit the folder, the memo keeps its
// results in memory only: OpenMemo says why.
func NewMemo(dir string) *Memo {
	cfg := layercache.Config{Dir: dir}
	if dir != "" {
		p, err := layercache.DefaultKeyPath()
		if err == nil {
			cfg.Key, err = layercache.LoadOrCreateKey(p)
		}
		if err != nil {
			cfg.Dir = ""
		}
	}
	m, err := OpenMemo(cfg)
	if err != nil {
		m, _ = OpenMemo(layercache.Config{})
	}
	return m
}

// OpenMemo returns a Memo over the cache cfg describes (layercache.New):
// an error when a folder is given with no key, or one kept inside it.
func OpenMemo(cfg layercache.Config) (*Memo, error) {
	c, err := layercache.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Memo{cache: c, walking: map[string]*walk{}, copies: map[digest.Digest]blobCopy{}, offers: map[string]*offer{},
		wanted: map[string]int{}, lower: map[string]bool{}, own: map[string]ownEntry{}}, nil
}

// enlist counts n runs of a fleet about to start (or, negative, enlisted
// runs that will not start): until each has declared what it reads, or
// ended, no own result is forgotten, since it may be one they read.
func (m *Memo) enlist(n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enlisted += n
	m.undeclared += n
	m.sweep()
}

// sweep forgets, from memory, the own results no run in flight reads,
// once every run in flight has declared what it reads; m.mu is held.
func (m *Memo) sweep() {
	if m.undeclared > 0 {
		return
	}
	for key, o := range m.own {
		keys := interestKeys(o.digest, o.diffID, o.fp)
		if slices.ContainsFunc(keys, func(k string) bool { return m.lower[k] }) {
			delete(m.own, key) // another image builds on it: kept for good
			continue
		}
		if slices.ContainsFunc(keys, func(k string) bool { return m.wanted[k] > 0 }) {
			continue
		}
		m.cache.Forget(o.digest, o.fp)
		delete(m.own, key)
	}
}

// blobRef is a blob an input reads: its member name and what its
// descriptor and config say of it.
type blobRef struct {
	name   string
	digest digest.Digest // "" for a docker save layer.tar, which has no descriptor
	diffID digest.Digest // from the config: finds a blob with no digest
	size   int64         // to check the blob against; -1 with no descriptor
}

// key names the layer for claims and offers: its blob digest, or for a
// blob with none the diff_id its config gives; "" when neither is usable.
func (b blobRef) key(fp string) string {
	switch {
	case b.digest != "" && blob.Validate(b.digest) == nil:
		return layercache.Name(b.digest, fp)
	case b.diffID != "" && blob.Validate(b.diffID) == nil:
		return "diff_id:" + layercache.Name(b.diffID, fp)
	}
	return ""
}

// share is one run's handle on the memo: the rules fingerprint its results
// are keyed by, the gate its CPU work takes places at, and the cache
// entries its lookups rejected. A nil memo shares nothing.
type share struct {
	m   *Memo
	fp  string
	cpu *sched.Gate

	mu       sync.Mutex
	rejected []layercache.Rejection

	// For a run of a fleet (enlisted): what it declared it reads, and
	// the blobs (by member name) an image of it builds on; guarded by
	// m.mu.
	enlisted bool
	declared []string
	lower    map[string]bool
	state    int // 0 before declare, 1 declared, 2 left
}

func (m *Memo) share(eng *detect.Engine, cpu *sched.Gate) *share {
	return &share{m: m, fp: fingerprint(eng), cpu: cpu}
}

func fingerprint(eng *detect.Engine) string {
	if eng == nil {
		return "0000000000000000-rebuild-only"
	}
	return eng.Fingerprint()
}

// get returns a remembered result for blob digest d. A cache entry that
// cannot be taken is a miss, and noted.
func (s *share) get(d digest.Digest) *LayerResult {
	if s.m == nil {
		return nil
	}
	e, ok, rej := s.m.cache.Get(d, s.fp)
	s.note(rej)
	if !ok {
		return nil
	}
	return &LayerResult{Digest: e.Digest, Summary: e.Summary, Detect: e.Detect, Cache: e.Origin}
}

// blobDigest is the digest a layer's blob is remembered by: its
// descriptor's; for a blob with none (a docker save layer.tar, a layer
// rebuilt from an engine's storage), its diff_id when an uncompressed copy
// was remembered, for its bytes then hash to it; else the blob remembered
// for that diff_id, which may be a compressed copy of it that another
// input carried, and which its bytes then do not match. Looking the
// diff_id up first keeps a legacy layer a hit whatever copy of it was
// cached last, so that what a report says was computed does not depend on
// the order earlier scans filled the cache in.
func (s *share) blobDigest(ref blobRef) digest.Digest {
	if ref.digest != "" {
		return ref.digest
	}
	if ref.diffID != "" && blob.Validate(ref.diffID) == nil && s.get(ref.diffID) != nil {
		return ref.diffID
	}
	return s.digestFor(ref.diffID)
}

// digestFor is the blob digest remembered for a layer with no descriptor.
func (s *share) digestFor(diffID digest.Digest) digest.Digest {
	if s.m == nil {
		return ""
	}
	d, rej := s.m.cache.DigestFor(diffID, s.fp)
	s.note(rej)
	return d
}

// note keeps a rejected cache entry for the run's result, once.
func (s *share) note(rej *layercache.Rejection) {
	if rej == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.rejected, *rej) {
		s.rejected = append(s.rejected, *rej)
	}
}

// declare says, for an enlisted run, which layers it reads (refs) and which
// of them, by member name, an image of it builds on (lower): a layer one
// run builds on is kept in memory for good, another only while a run in
// flight reads it (Memo.own).
func (s *share) declare(refs []blobRef, lower map[string]bool) {
	if s.m == nil || !s.enlisted {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.state != 0 {
		return
	}
	s.state = 1
	s.lower = lower
	for _, ref := range refs {
		for _, k := range interestKeys(ref.digest, ref.diffID, s.fp) {
			s.declared = append(s.declared, k)
			s.m.wanted[k]++
			if lower[ref.name] {
				s.m.lower[k] = true
			}
		}
	}
	s.m.undeclared--
	s.m.sweep()
}

// leave ends an enlisted run's interest in what it declared: the own
// results no other run in flight reads are forgotten then. The run's
// result still holds its own layers' results until it is released.
func (s *share) leave() {
	if s.m == nil || !s.enlisted {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	switch s.state {
	case 2:
		return
	case 0:
		s.m.undeclared--
	}
	s.state = 2
	for _, k := range s.declared {
		if s.m.wanted[k]--; s.m.wanted[k] <= 0 {
			delete(s.m.wanted, k)
		}
	}
	s.declared = nil
	s.m.enlisted--
	s.m.sweep()
}

// put remembers a complete, problem-free result, and where its verified
// blob can be read again when c.open is set. In memory only, an enlisted
// run's result of a layer none of its images builds on is own (see
// Memo.own); with a cache folder every result is kept, as a later input
// taking it from the folder would name the entry as its source.
func (s *share) put(lr *LayerResult, c blobCopy) {
	if s.m == nil || lr.Digest == "" || lr.Summary == nil || len(lr.Problems) > 0 {
		return
	}
	s.m.mu.Lock()
	if _, ok := s.m.copies[lr.Digest]; !ok && c.open != nil {
		s.m.copies[lr.Digest] = c
	}
	s.m.mu.Unlock()
	s.m.cache.Put(layercache.Entry{Digest: lr.Digest, Summary: lr.Summary, Detect: lr.Detect}, s.fp)
	if !s.enlisted || s.m.cache.Dir() != "" {
		return
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	// The run declared the layer (state 1), so no sweep forgets it
	// before the run leaves.
	if s.state == 1 && !s.lower[lr.Blob] {
		s.m.own[layercache.Name(lr.Digest, s.fp)] = ownEntry{digest: lr.Digest, diffID: lr.Summary.DiffID, fp: s.fp}
	}
}

// hit counts a layer reused and returns it as ref's result.
func (s *share) hit(ref blobRef, prev *LayerResult, d digest.Digest) *LayerResult {
	s.m.mu.Lock()
	s.m.Hits++
	s.m.mu.Unlock()
	return &LayerResult{Blob: ref.name, Digest: d, Summary: prev.Summary, Detect: prev.Detect, Cache: prev.Cache}
}

// reuse returns the remembered result for a blob after verifying the
// blob's own bytes: against a verified copy when one can be read again,
// otherwise against its digest. A blob with no digest is looked up by the
// diff_id its config gives, and must then be the blob remembered for that
// diff_id. consumed says whether r was read: when the blob then failed, it
// must be opened again and read in full, so that what it holds is
// reported. The verification takes a place at the gate; a lookup that
// finds nothing takes none.
func (s *share) reuse(ctx context.Context, ref blobRef, r io.Reader) (lr *LayerResult, consumed bool) {
	d := s.blobDigest(ref)
	prev := s.get(d)
	if prev == nil {
		return nil, false
	}
	defer s.cpu.Enter(ctx)()
	s.m.mu.Lock()
	c, ok := s.m.copies[d]
	s.m.mu.Unlock()
	same, compared := false, false
	if ok && (ref.size < 0 || ref.size == c.size) {
		same, compared = sameBytes(r, c)
	}
	if compared && !same {
		return nil, true
	}
	if !compared {
		// Reading (decompressing an input compressed as a whole) and
		// hashing go on two cores when one is free.
		ahead := readahead.New(r, s.cpu)
		_, err := io.Copy(io.Discard, blob.NewVerifier(ahead, d, ref.size))
		ahead.Close()
		if err != nil {
			return nil, true
		}
	}
	return s.hit(ref, prev, d), true
}

// Outcome is one input of RunAll: its result or why it could not be read.
type Outcome struct {
	Path   string
	Result *Result
	Err    error
}

// RunAll scans several inputs as a fleet and returns their outcomes in the
// order of paths; see RunEach.
func RunAll(ctx context.Context, paths []string, opts Options) []Outcome {
	out := make([]Outcome, 0, len(paths))
	RunEach(ctx, paths, opts, func(o Outcome) { out = append(out, o) })
	return out
}
