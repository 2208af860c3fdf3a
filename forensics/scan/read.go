package scan

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
)

// want is a layer blob an input needs read.
type want struct {
	blobRef
	bytes int64 // the blob's size for progress: the descriptor's or the member's
}

// readLayers streams every distinct layer blob once and returns the results
// by blob name. Each blob is taken, in this order, from a walk made while
// the input was indexed, from an earlier input's copy found byte for byte
// the same, from the memo once the blob's own bytes verify, from another
// input walking it now, or else read, verified and walked here.
func (r *run) readLayers(ctx context.Context, a *archive.Archive, imgs []*image.Image) (map[string]*LayerResult, error) {
	opts := r.opts
	wanted := map[string]want{}
	var names []string
	var total int64
	maxImage := opts.maxImageBytes()
	entryBudget := entryCounter(opts.MaxInputEntries)
	r.stream.countsAgainst(entryBudget)
	budgets := map[string][]*imageBudget{} // blob -> the images it counts against
	for _, img := range imgs {
		b := &imageBudget{max: maxImage}
		for _, l := range img.Layers {
			if l.Blob == "" {
				continue
			}
			if bs := budgets[l.Blob]; len(bs) == 0 || bs[len(bs)-1] != b {
				budgets[l.Blob] = append(bs, b)
			}
			if _, ok := wanted[l.Blob]; ok || r.skipped[l.Blob] {
				continue
			}
			size := l.Size
			if size == 0 || l.Digest == "" {
				if m, ok := a.Stat(l.Blob); ok {
					size = m.Size
				}
			}
			w := want{blobRef{name: l.Blob, digest: l.Digest, diffID: l.DiffID, size: size}, size}
			if l.Digest == "" {
				w.size = -1 // a legacy layer.tar has no descriptor to check a size against
			}
			if opts.Shard != nil && !opts.Shard.owns(w.blobRef) {
				// Another shard's: it verifies and scans it.
				r.skipped[l.Blob] = true
				continue
			}
			wanted[l.Blob] = w
			names = append(names, l.Blob)
			total += max(w.bytes, 0)
		}
	}
	lower := map[string]bool{} // blobs an image builds on: a base others may share
	for _, img := range imgs {
		for _, l := range img.Layers[:max(len(img.Layers)-1, 0)] {
			lower[l.Blob] = true
		}
	}
	refs := make([]blobRef, 0, len(names))
	for _, name := range names {
		refs = append(refs, wanted[name].blobRef)
	}
	r.share.declare(refs, lower)
	parallel := opts.parallel()
	var mu sync.Mutex
	results := map[string]*LayerResult{}
	prog := Progress{Input: a.Info.Path, Layers: len(names), TotalBytes: total}
	if opts.Progress != nil {
		opts.Progress(prog) // nothing read yet: the input's clock starts
	}
	var rest []string // the blobs still to read
	var lookup []string
	for _, name := range names {
		if lr := r.early.adopt(a, name, wanted[name], budgets[name], entryBudget); lr != nil {
			r.share.put(lr, inPlaceCopy(a, name))
			results[name] = lr
			r.stream.layerReady(name, lr)
			prog.LayersDone++
			prog.Bytes += max(wanted[name].bytes, 0)
		} else {
			lookup = append(lookup, name)
		}
	}
	// Reading and decoding the cache entries of layers a verification
	// record vouches for is most of what a scan assembling shards' work
	// does: on every core, each lookup at the gate.
	found := make([]*LayerResult, len(lookup))
	forEach(len(lookup), parallel, func(i int) {
		r.cpu.Do(ctx, func() { found[i] = r.trusted(a, wanted[lookup[i]].blobRef) })
		r.stream.layerReady(lookup[i], found[i])
	})
	for i, name := range lookup {
		if found[i] == nil {
			rest = append(rest, name)
			continue
		}
		results[name] = r.kept(found[i])
		prog.LayersDone++
		prog.Bytes += max(wanted[name].bytes, 0)
	}
	if len(rest) < len(names) && opts.Progress != nil {
		opts.Progress(prog)
	}
	names = rest
	r.early.release() // walks of members no image wants (another platform, not a layer)
	mine, cmps, against := r.offerCopies(a, names, wanted)
	defer func() {
		for _, o := range mine {
			o.resolve(false) // not reached: those comparing with it read their own
		}
	}()
	visit := a.Visit
	if r.stream != nil {
		visit = a.VisitInOrder // image after image: see streamBuild
	}
	err := visit(ctx, names, parallel, func(name string, rd io.Reader) error {
		w := wanted[name]
		was, fileBacked := archive.OpenedIdentity(rd)
		fr := &fullRead{r: rd}
		var lr, ready *LayerResult
		// Last: once ready, the layer's listing may be let go by the
		// image build it completes (streamBuild), so nothing here reads
		// its result after that.
		defer func() { r.stream.layerReady(name, ready) }()
		defer func() {
			if o := mine[name]; o != nil {
				o.resolve(lr != nil && lr.Summary != nil && len(lr.Problems) == 0)
			}
		}()
		lr = r.readShared(ctx, a, w.blobRef, fr, cmps[name], against[name], func(rd io.Reader) *LayerResult {
			var lr *LayerResult
			var charged int64
			next := func() error { charged++; return entryBudget.next() }
			r.cpu.Do(ctx, func() { lr = r.readLayer(ctx, w.blobRef, rd, spend(budgets[name]), next) })
			lr.charged = charged
			return lr
		})
		if fileBacked {
			r.recordVerified(a, w.blobRef, rd, fr, was, lr)
		}
		if ps := a.Checked(name, verified(lr, w.blobRef)); len(ps) > 0 {
			// What this input's copy showed beyond its bytes (an
			// engine's layer folder changed since the pull) is its own,
			// not the shared result's.
			own := *lr
			own.Problems = append(slices.Clip(lr.Problems), ps...)
			lr = &own
		}
		lr = r.withDrift(ctx, lr, name, a.Drifted(name))
		read := lr.Summary != nil
		mu.Lock()
		results[name] = r.kept(lr)
		prog.LayersDone++
		if read {
			prog.Bytes += max(w.bytes, 0)
		}
		p := prog
		mu.Unlock()
		if opts.Progress != nil {
			opts.Progress(p)
		}
		ready = lr
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		// The input broke while streaming; every layer not reached says so.
		for _, name := range names {
			if results[name] == nil {
				results[name] = &LayerResult{Blob: name, Problems: []integrity.Problem{{
					Blob: name, Kind: integrity.Truncated, Detail: err.Error()}}}
			}
		}
	}
	return results, nil
}

// readShared gives the result for one blob the input streams as rd: taken
// from what the fleet shares when this copy verifies (compared with an
// earlier input's copy by the input's own hash, c and o; reused from the
// memo; or awaited from another input walking it), else read by walk and
// remembered.
func (r *run) readShared(ctx context.Context, a *archive.Archive, ref blobRef, rd io.Reader, c *comparison, o *offer, walk func(io.Reader) *LayerResult) *LayerResult {
	var lr *LayerResult
	if c != nil {
		// This input's own hash compares the blob with an earlier
		// input's copy: no need to read it here.
		lr = r.share.takeCompared(ctx, ref, c, o)
	}
	var consumed bool
	if lr == nil {
		lr, consumed = r.share.reuse(ctx, ref, rd)
	}
	if lr == nil && !consumed {
		key := ref.key(r.share.fp)
		if busy, claimed := r.share.claim(key, a.InPlace()); claimed {
			defer r.share.release(key)
			// A walk may have finished between the lookup and the claim.
			lr, consumed = r.share.reuse(ctx, ref, rd)
		} else if busy != nil {
			// Another input is walking this layer: take that walk's
			// result once this copy is verified.
			lr, consumed = r.share.await(ctx, ref, rd, busy)
		}
	}
	if lr == nil {
		if consumed {
			// The blob did not verify against the remembered digest:
			// read it again, in full, to report what it holds.
			rd = reopen(a, ref.name)
		}
		lr = walk(rd)
		r.share.put(lr, inPlaceCopy(a, ref.name))
	}
	return lr
}

// offerCopies offers the input's blobs to the inputs after it, so that
// they compare their own copies with them (see Memo), asks the input's own
// hash to compare its copies of the blobs earlier inputs offered, and
// starts that hash. mine are the offers the input must resolve; cmps and
// against are the comparisons and the offers they compare with. All three
// are by member name; a blob the input holds twice is offered once.
func (r *run) offerCopies(a *archive.Archive, names []string, wanted map[string]want) (mine map[string]*offer, cmps map[string]*comparison, against map[string]*offer) {
	copies, names1 := map[string]blobCopy{}, map[string]string{}
	if r.share.m != nil {
		for _, name := range names {
			key := wanted[name].key(r.share.fp)
			if _, dup := copies[key]; dup || key == "" {
				continue
			}
			if c := inPlaceCopy(a, name); c.open != nil {
				copies[key], names1[key] = c, name
			}
		}
	}
	ours, earlier := r.share.offerAll(copies)
	mine, cmps, against = map[string]*offer{}, map[string]*comparison{}, map[string]*offer{}
	for key, o := range ours {
		mine[names1[key]] = o
	}
	var cs []*comparison
	for key, o := range earlier {
		name := names1[key]
		if w := wanted[name]; w.size >= 0 && w.size != o.copy.size {
			continue // the descriptor says another size: verified on its own
		}
		c := &comparison{Member: name, Open: o.copy.open, Size: o.copy.size}
		cmps[name], against[name] = c, o
		cs = append(cs, c)
	}
	if !a.StartHash(newComparer(a, cs)) {
		// No hash of its own read alongside (a folder, a compressed input).
		cmps, against = nil, nil
	}
	return mine, cmps, against
}

// inPlaceCopy says where a blob can be read again, to compare other
// inputs' copies with (once it is verified): only when its input is read
// in place.
func inPlaceCopy(a *archive.Archive, name string) blobCopy {
	m, ok := a.Stat(name)
	if !ok || !a.InPlace() {
		return blobCopy{}
	}
	return blobCopy{open: func() (io.ReadCloser, error) { return a.Open(name) }, size: m.Size}
}

// hashingReader computes the sha256 of a blob with no descriptor digest
// (a legacy docker save layer.tar) while it is read.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// spend charges a layer's uncompressed bytes to every image that has it.
func spend(bs []*imageBudget) func(int64) error {
	return func(n int64) error {
		for _, b := range bs {
			if b.n.Add(n) > b.max {
				return b.errOver()
			}
		}
		return nil
	}
}

// entryCount is the input's shared entry count for the walks.
type entryCount struct {
	n     atomic.Int64
	limit int64
}

func entryCounter(limit int64) *entryCount {
	if limit <= 0 {
		limit = DefaultMaxInputEntries
	}
	return &entryCount{limit: limit}
}

// next counts one entry.
func (c *entryCount) next() error {
	if c.n.Add(1) > c.limit {
		return &layer.LimitError{Limit: "entries per input", Flag: "--max-input-entries", Value: fmt.Sprint(c.limit)}
	}
	return nil
}

// take counts k entries if they fit, and reports whether they did.
func (c *entryCount) take(k int64) bool {
	if c.n.Add(k) > c.limit {
		c.n.Add(-k)
		return false
	}
	return true
}

// readLayer reads, verifies and walks one layer blob, feeding the
// detectors on the same pass. budget charges its uncompressed bytes to the
// images holding it, entryBudget counts its entries against the input's.
func (r *run) readLayer(ctx context.Context, ref blobRef, rd io.Reader, budget func(int64) error, entryBudget func() error) *LayerResult {
	name, d, size := ref.name, ref.digest, ref.size
	lr := &LayerResult{Blob: name, Digest: d}
	var src io.Reader
	var hr *hashingReader
	wopts := layer.Options{Limits: r.opts.Limits, Budget: budget, EntryBudget: entryBudget}
	if r.cpu != nil {
		wopts.Cores = r.cpu
	}
	if d != "" {
		src = blob.NewVerifier(rd, d, size)
		if d.Algorithm() == digest.SHA256 {
			// Walk asks only after the blob was read to its end, when the
			// verifier has checked that it hashes to d.
			wopts.RawSHA256 = func() digest.Digest { return d }
		}
	} else {
		hr = &hashingReader{r: rd, h: sha256.New()}
		src = hr
		wopts.RawSHA256 = func() digest.Digest { return digest.NewDigestFromBytes(digest.SHA256, hr.h.Sum(nil)) }
	}
	var ls *detect.LayerScan
	if r.opts.Engine != nil {
		ls = r.opts.Engine.NewLayerScan()
		wopts.Sinks = ls.Sinks
	}
	sum, err := layer.Walk(ctx, src, wopts)
	lr.Summary = sum
	if sum != nil {
		for _, le := range sum.Skipped {
			lr.Problems = append(lr.Problems, layerProblem(name, d, le))
		}
	}
	if ls != nil {
		lr.Detect = ls.Result()
	}
	if hr != nil && err == nil {
		lr.Digest = digest.NewDigestFromBytes(digest.SHA256, hr.h.Sum(nil))
	}
	if err != nil {
		var le *layer.LimitError
		lr.overImage = errors.As(err, &le) && le.Limit == limitImageBytes
		lr.Problems = append(lr.Problems, layerProblem(name, d, err))
		if v, ok := src.(*blob.Verifier); ok && ctx.Err() == nil && !isVerifyOrLimit(err) {
			// The walk stopped early (a broken tar or compressed stream):
			// read the blob to its end so its digest is still checked. A
			// blob that no longer matches its digest was changed after it
			// was written, which says more than "unreadable".
			if _, derr := io.Copy(io.Discard, v); isVerifyOrLimit(derr) {
				lr.Problems = append(lr.Problems, layerProblem(name, d, derr))
			}
		}
	}
	return lr
}

// isVerifyOrLimit reports whether err is a blob verification failure or a
// safety limit, after which the blob must not be read further.
func isVerifyOrLimit(err error) bool {
	var le *layer.LimitError
	return errors.Is(err, blob.ErrDigestMismatch) || errors.Is(err, blob.ErrSizeMismatch) || errors.As(err, &le)
}

func layerProblem(name string, d digest.Digest, err error) integrity.Problem {
	id := name
	if d != "" {
		id = d.String()
	}
	var le *layer.LimitError
	var fe *layer.FormatError
	switch {
	case errors.Is(err, archive.ErrNotExist):
		return integrity.Problem{Blob: id, Kind: integrity.MissingBlob, Detail: err.Error()}
	case errors.Is(err, blob.ErrDigestMismatch):
		return integrity.Problem{Blob: id, Kind: integrity.DigestMismatch, Detail: err.Error()}
	case errors.Is(err, blob.ErrSizeMismatch):
		return integrity.Problem{Blob: id, Kind: integrity.SizeMismatch, Detail: err.Error()}
	case errors.As(err, &le):
		return integrity.Problem{Blob: id, Kind: integrity.Limit, Detail: le.Error()}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return integrity.Problem{Blob: id, Kind: integrity.Truncated, Detail: "layer " + err.Error()}
	case errors.As(err, &fe):
		return integrity.Problem{Blob: id, Kind: integrity.BadLayer, Detail: "layer tar " + fe.Error()}
	default:
		return integrity.Problem{Blob: id, Kind: integrity.BadLayer, Detail: err.Error()}
	}
}

// verified reports whether a layer was read to its end and its bytes
// matched their digests: its blob's and its uncompressed tar's (diff_id),
// where the image records them, and no problem says otherwise.
func verified(lr *LayerResult, ref blobRef) bool {
	if lr.Summary == nil ||
		ref.diffID != "" && lr.Summary.DiffID != ref.diffID ||
		ref.digest != "" && lr.Digest != ref.digest {
		return false
	}
	for _, p := range lr.Problems {
		switch p.Kind {
		case integrity.DigestMismatch, integrity.DiffIDMismatch, integrity.SizeMismatch, integrity.Truncated, integrity.BadLayer:
			return false
		}
	}
	return true
}

// forEach calls f(0) … f(n-1) on up to parallel goroutines, and returns
// when every call has.
func forEach(n, parallel int, f func(i int)) {
	if n == 0 {
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Progress reports how far a scan is.
type Progress struct {
	Input      string
	LayersDone int
	Layers     int
	Bytes      int64 // compressed bytes read so far
	TotalBytes int64 // compressed bytes to read in all
	// Indexing is set while an input compressed as a whole is decompressed
	// and indexed, which is also when its big layers are walked: Bytes and
	// TotalBytes then count the input's own bytes, and Layers is not known
	// yet.
	Indexing bool
}
