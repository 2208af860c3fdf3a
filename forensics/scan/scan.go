// Package scan ties the pipeline together: it opens an input, resolves its
// images, streams every distinct layer blob exactly once (concurrently,
// verifying its digest and diff_id, walking its tar and feeding the
// detectors on the same pass), merges each image's layers into a tree with
// provenance, and collects findings and integrity problems.
package scan

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/tree"
)

// Options configure a scan.
type Options struct {
	Images   []string // --image filters (names or digests); empty for all
	Platform string   // --platform filter
	Limits   layer.Limits
	// MaxImageBytes bounds the uncompressed bytes of all of one image's
	// layers (--max-image-bytes); zero is DefaultMaxImageBytes.
	MaxImageBytes int64
	// MaxInputEntries bounds the tar entries read from all the layers of
	// one input (--max-input-entries), and with them the memory a scan
	// holds; zero is DefaultMaxInputEntries.
	MaxInputEntries int64
	Image           image.Options
	Archive         archive.Options
	// Engine runs the detectors; nil reads, verifies and rebuilds only.
	Engine *detect.Engine
	// Parallel is the number of layers read at once (default: GOMAXPROCS).
	Parallel int
	// Progress, when set, is called after each layer blob is read, and
	// every few MiB while an input compressed as a whole is indexed.
	Progress func(Progress)
	Logger   *slog.Logger
	// Now stamps the scan's start and end (for SOURCE_DATE_EPOCH); nil is
	// time.Now.
	Now func() time.Time
	// Memo, shared by the runs of a fleet scan, lets a layer blob seen in
	// an earlier input be verified without being decompressed and walked
	// again; with a folder it persists across runs.
	Memo *Memo

	cpu   *gate       // shared by the runs of RunAll
	fleet bool        // RunAll scans more than one input
	early *earlyWalks // made while the input was indexed
}

// gate bounds the CPU-heavy work (walking, verifying or comparing a blob,
// hashing an input) running at once to the number of cores. Without it a
// fleet's inputs all hash and verify together, and the biggest layer's
// walk, which every input holding it waits for, gets a sliver of a core;
// with it that walk keeps a core while the rest share the others. Work
// that waits (for another input's walk) holds no place. A place nobody
// wants is lent to a walk, which then decompresses on one core and walks
// on another (readahead), until some work asks for it.
type gate struct {
	places  chan struct{}
	waiting atomic.Int64 // goroutines blocked in enter
}

func newGate() *gate { return &gate{places: make(chan struct{}, runtime.GOMAXPROCS(0))} }

// enter takes a place, and returns the function that gives it back. When
// ctx ends first, it returns at once: the work then fails on ctx itself. A
// nil gate bounds nothing.
func (g *gate) enter(ctx context.Context) (leave func()) {
	if g == nil {
		return func() {}
	}
	if leave, ok := g.TryEnter(); ok {
		return leave
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case g.places <- struct{}{}:
		return g.leave
	case <-ctx.Done():
		return func() {}
	}
}

func (g *gate) leave() { <-g.places }

// TryEnter takes a free place at once, if there is one.
func (g *gate) TryEnter() (leave func(), ok bool) {
	if g == nil {
		return nil, false
	}
	select {
	case g.places <- struct{}{}:
		return g.leave, true
	default:
		return nil, false
	}
}

// Wanted reports that some work waits for a place.
func (g *gate) Wanted() bool { return g != nil && g.waiting.Load() > 0 }

// do runs f in a place.
func (g *gate) do(ctx context.Context, f func()) {
	defer g.enter(ctx)()
	f()
}

// DefaultMaxImageBytes is the default bound on an image's uncompressed
// layers: four layers at the per-layer default.
const DefaultMaxImageBytes = 256 << 30

// DefaultMaxInputEntries is the default bound on the entries read from one
// input: four layers at the per-layer default, some 550 MB of records and
// tree.
const DefaultMaxInputEntries = 2_000_000

func (o Options) maxImageBytes() int64 {
	if o.MaxImageBytes <= 0 {
		return DefaultMaxImageBytes
	}
	return o.MaxImageBytes
}

// imageBudget counts the uncompressed bytes read for one image's layers.
type imageBudget struct {
	n   atomic.Int64
	max int64
}

func (b *imageBudget) errOver() error {
	return &layer.LimitError{Limit: "uncompressed bytes per image", Flag: "--max-image-bytes", Value: fmt.Sprint(b.max)}
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

// Result is everything one input revealed. Close releases the input.
type Result struct {
	Input    archive.Info        `json:"input"`
	Images   []*ImageResult      `json:"images"`
	Problems []integrity.Problem `json:"problems"`
	Findings []finding.Finding   `json:"findings"`
	Ruleset  *rules.Info         `json:"ruleset,omitempty"`
	Started  time.Time           `json:"started"`
	Finished time.Time           `json:"finished"`

	archive *archive.Archive
}

// ImageResult is one image with its rebuilt tree.
type ImageResult struct {
	Image    *image.Image
	Tree     *tree.Tree
	Layers   []*LayerResult // index = layer index
	Findings []finding.Finding
	// LayerProblems holds, by layer index, the problems of this image's
	// view of a layer, besides the blob's own (LayerResult.Problems,
	// shared by every image of the blob): a diff_id its config disagrees
	// with.
	LayerProblems [][]integrity.Problem
}

// LayerIntegrity is every problem of layer i as this image sees it: the
// blob's own and the image's (a diff_id its config disagrees with).
func (ir *ImageResult) LayerIntegrity(i int) []integrity.Problem {
	ps := slices.Clone(ir.Layers[i].Problems)
	if i < len(ir.LayerProblems) {
		ps = append(ps, ir.LayerProblems[i]...)
	}
	return ps
}

// LayerResult is what reading one layer blob gave. Layers shared by several
// images share one LayerResult.
type LayerResult struct {
	Blob     string // member name in the archive
	Digest   digest.Digest
	Summary  *layer.Summary // nil when the blob was absent
	Detect   *detect.LayerResult
	Problems []integrity.Problem
}

// Integrity is the verdict over every problem found.
func (r *Result) Integrity() integrity.Report { return integrity.Verdict(r.Problems) }

// Archive gives access to the input, for extracting and viewing content.
func (r *Result) Archive() *archive.Archive { return r.archive }

// Close releases the input.
func (r *Result) Close() error {
	if r.archive == nil {
		return nil
	}
	return r.archive.Close()
}

// Run scans the input at path.
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := &Result{Started: now().UTC()}
	if opts.cpu == nil {
		opts.cpu = newGate()
	}
	opts.Archive.Throttle = opts.cpu.enter
	if opts.Archive.TmpDir == "" && opts.Archive.Early == nil {
		opts.early = &earlyWalks{byOffset: map[int64]*LayerResult{}, entries: entryCounter(opts.MaxInputEntries)}
		opts.Archive.Early = opts.early.hook(ctx, opts)
	}
	if opts.Progress != nil && opts.Archive.Progress == nil {
		opts.Archive.Progress = func(read, total int64) {
			opts.Progress(Progress{Input: path, Bytes: read, TotalBytes: total, Indexing: true})
		}
	}
	a, err := archive.Open(ctx, path, opts.Archive)
	if err != nil {
		return nil, err
	}
	res.archive = a
	res.Problems = append(res.Problems, a.Problems...)
	if opts.Engine != nil {
		info := opts.Engine.Ruleset()
		res.Ruleset = &info
	}

	imgs, problems, err := image.Load(ctx, a, opts.Image)
	res.Problems = append(res.Problems, problems...)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(imgs) == 0 && len(res.Problems) > 0 {
		// Nothing readable is left: the input is unusable, and the
		// problems, not a filter that matched nothing, say why.
		a.Close()
		if integrity.Failing(res.Problems) == 0 {
			// An index whose images were all left out by design
			// (skopeo copy --multi-arch index-only writes one): not
			// damage, and nothing to examine.
			return nil, fmt.Errorf("%s: carries no image, only names of images absent by design: %s", path, problemList(res.Problems))
		}
		return nil, fmt.Errorf("%s: no image could be read: %s", path, problemList(res.Problems))
	}
	imgs, err = image.Filter(imgs, opts.Images, opts.Platform)
	if err != nil {
		a.Close()
		return nil, err
	}
	log.Debug("images resolved", "input", path, "images", len(imgs))

	lost := orphans(a, res.Problems)
	layers, err := readLayers(ctx, a, append(slices.Clone(imgs), lost...), opts)
	if err == nil {
		// The input's own sha256 was computed while its layers were read.
		err = a.Wait()
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	res.Input = a.Info
	// One image alone has nothing to share its base with, and a fork costs
	// a copy of every node its top layer changes.
	var bases *baseTrees
	switch {
	case opts.fleet && opts.Memo != nil:
		bases = &opts.Memo.bases
	case len(imgs) > 1:
		bases = &baseTrees{}
	}
	for _, img := range imgs {
		ir, problems := buildImage(img, layers, opts.Engine, bases)
		problems = append(problems, imageBytesProblem(ir, opts.maxImageBytes())...)
		res.Images = append(res.Images, ir)
		res.Findings = append(res.Findings, ir.Findings...)
		res.Problems = append(res.Problems, problems...)
	}
	var lostFindings []finding.Finding
	lostFindings, res.Problems = orphanResults(lost, layers, opts.Engine, res.Problems)
	res.Findings = append(res.Findings, lostFindings...)
	lostBlob := map[string]bool{}
	for _, img := range lost {
		lostBlob[img.Layers[0].Blob] = true
	}
	// Layer problems once per blob, however many images share it; an
	// orphan's are in its unreferenced record.
	for _, name := range sortedKeys(layers) {
		if !lostBlob[name] {
			res.Problems = append(res.Problems, layers[name].Problems...)
		}
	}
	res.Problems = dedupeProblems(res.Problems)
	finding.Sort(res.Findings)
	res.Finished = now().UTC()
	return res, nil
}

// Outcome is one input of RunAll: its result or why it could not be read.
type Outcome struct {
	Path   string
	Result *Result
	Err    error
}

// RunAll scans several inputs as a fleet: several at a time, sharing one
// memo (opts.Memo, or a new one), so that a layer they share is walked once
// while every input still verifies its own copy of it (see Memo), and
// images on one base fork its tree. A gate keeps CPU-heavy work to one
// piece per core across all the inputs: while one input walks a big shared
// base layer on one core, others hash their own bytes and walk their own
// layers on the rest. Outcomes are in the order of paths.
func RunAll(ctx context.Context, paths []string, opts Options) []Outcome {
	if opts.Memo == nil {
		opts.Memo = NewMemo("")
	}
	opts.cpu = newGate()
	opts.fleet = len(paths) > 1
	out := make([]Outcome, len(paths))
	// Inputs waiting for a shared layer or for the gate use no CPU, hence
	// more inputs than cores: while the walk of a shared base holds one
	// core, the others hash inputs and walk their own layers.
	sem := make(chan struct{}, 8*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, p := range paths {
		out[i].Path = p
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i].Err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Result, out[i].Err = Run(ctx, p, opts)
		}()
	}
	wg.Wait()
	return out
}

// imageBytesProblem reports an image whose layers add up to more than
// --max-image-bytes when no walk stopped on it already (layers taken from
// the memo were not read again, so nothing counted them).
func imageBytesProblem(ir *ImageResult, limit int64) []integrity.Problem {
	b := &imageBudget{max: limit}
	var total int64
	for _, lr := range ir.Layers {
		if lr == nil || lr.Summary == nil {
			continue
		}
		for _, p := range lr.Problems {
			if p.Kind == integrity.Limit && strings.Contains(p.Detail, "--max-image-bytes") {
				return nil
			}
		}
		total += lr.Summary.UncompressedSize
	}
	if total <= b.max {
		return nil
	}
	return []integrity.Problem{{Blob: ir.Image.ManifestDigest.String(), Kind: integrity.Limit, Detail: b.errOver().Error()}}
}

// problemList renders the first few problems on one line.
func problemList(ps []integrity.Problem) string {
	const most = 4
	var parts []string
	for i, p := range ps {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-most))
			break
		}
		parts = append(parts, string(p.Kind)+" "+p.Blob+": "+p.Detail)
	}
	return strings.Join(parts, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupeProblems(ps []integrity.Problem) []integrity.Problem {
	seen := map[integrity.Problem]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// readLayers streams every distinct layer blob once and returns the results
// by blob name.
func readLayers(ctx context.Context, a *archive.Archive, imgs []*image.Image, opts Options) (map[string]*LayerResult, error) {
	wanted := map[string]want{}
	var names []string
	var total int64
	maxImage := opts.maxImageBytes()
	entryBudget := entryCounter(opts.MaxInputEntries)
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
			if _, ok := wanted[l.Blob]; ok {
				continue
			}
			size := l.Size
			if size == 0 || l.Digest == "" {
				if m, ok := a.Stat(l.Blob); ok {
					size = m.Size
				}
			}
			w := want{l.Digest, l.DiffID, size, size}
			if l.Digest == "" {
				w.size = -1 // a legacy layer.tar has no descriptor to check a size against
			}
			wanted[l.Blob] = w
			names = append(names, l.Blob)
			total += max(w.bytes, 0)
		}
	}
	parallel := opts.Parallel
	if parallel < 1 {
		parallel = runtime.GOMAXPROCS(0)
	}
	var mu sync.Mutex
	results := map[string]*LayerResult{}
	prog := Progress{Input: a.Info.Path, Layers: len(names), TotalBytes: total}
	fp := fingerprint(opts.Engine)
	if opts.Progress != nil {
		opts.Progress(prog) // nothing read yet: the input's clock starts
	}
	cpu := opts.cpu
	if cpu == nil {
		cpu = newGate()
		opts.cpu = cpu
	}
	var rest []string // the blobs still to read
	for _, name := range names {
		lr := opts.early.adopt(a, name, wanted[name], budgets[name], entryBudget)
		if lr == nil {
			rest = append(rest, name)
			continue
		}
		opts.Memo.put(lr, fp, inPlaceCopy(a, name))
		results[name] = lr
		prog.LayersDone++
		prog.Bytes += max(wanted[name].bytes, 0)
	}
	if len(rest) < len(names) && opts.Progress != nil {
		opts.Progress(prog)
	}
	names = rest
	opts.early.release() // walks of members no image wants (another platform, not a layer)
	mine, cmps, against := offerCopies(a, names, wanted, opts.Memo, fp)
	defer func() {
		for _, o := range mine {
			o.resolve(false) // not reached: those comparing with it read their own
		}
	}()
	err := a.Visit(ctx, names, parallel, func(name string, r io.Reader) error {
		w := wanted[name]
		key := claimKey(w.digest, w.diffID, fp)
		var lr *LayerResult
		defer func() {
			if o := mine[name]; o != nil {
				o.resolve(lr != nil && lr.Summary != nil && len(lr.Problems) == 0)
			}
		}()
		if c := cmps[name]; c != nil {
			// This input's own hash compares the blob with an earlier
			// input's copy: no need to read it here.
			lr = opts.Memo.takeCompared(ctx, name, c, against[name], w.digest, w.diffID, fp)
		}
		var consumed bool
		if lr == nil {
			lr, consumed = opts.Memo.reuse(ctx, cpu, name, r, w.digest, w.diffID, w.size, fp)
		}
		if lr == nil && !consumed {
			if busy, claimed := opts.Memo.claim(key, a.InPlace()); claimed {
				defer opts.Memo.release(key)
				// A walk may have finished between the lookup and the claim.
				lr, consumed = opts.Memo.reuse(ctx, cpu, name, r, w.digest, w.diffID, w.size, fp)
			} else if busy != nil {
				// Another input is walking this layer: take that walk's
				// result once this copy is verified.
				lr, consumed = opts.Memo.await(ctx, name, r, w.digest, w.diffID, w.size, fp, busy, cpu)
			}
		}
		if lr == nil {
			if consumed {
				// The blob did not verify against the remembered digest:
				// read it again, in full, to report what it holds.
				r = reopen(a, name)
			}
			cpu.do(ctx, func() { lr = readLayer(ctx, name, r, w.digest, w.size, spend(budgets[name]), entryBudget.next, opts) })
			opts.Memo.put(lr, fp, inPlaceCopy(a, name))
		}
		mu.Lock()
		results[name] = lr
		prog.LayersDone++
		if lr.Summary != nil {
			prog.Bytes += max(w.bytes, 0)
		}
		p := prog
		mu.Unlock()
		if opts.Progress != nil {
			opts.Progress(p)
		}
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

// want is a layer blob an input needs read.
type want struct {
	digest digest.Digest
	diffID digest.Digest // from the config, to find a digest-less blob in the memo
	size   int64         // to check the blob against; -1 when there is no descriptor
	bytes  int64         // the blob's size for progress: the descriptor's or the member's
}

// offerCopies offers the input's blobs to the inputs after it, so that
// they compare their own copies with them (see Memo), asks the input's own
// hash to compare its copies of the blobs earlier inputs offered, and
// starts that hash. mine are the offers the input must resolve; cmps and
// against are the comparisons and the offers they compare with. All three
// are by member name; a blob the input holds twice is offered once.
func offerCopies(a *archive.Archive, names []string, wanted map[string]want, m *Memo, fp string) (mine map[string]*offer, cmps map[string]*archive.Comparison, against map[string]*offer) {
	copies, names1 := map[string]blobCopy{}, map[string]string{}
	if m != nil {
		for _, name := range names {
			w := wanted[name]
			key := claimKey(w.digest, w.diffID, fp)
			if _, dup := copies[key]; dup || key == "" {
				continue
			}
			if c := inPlaceCopy(a, name); c.open != nil {
				copies[key], names1[key] = c, name
			}
		}
	}
	ours, earlier := m.offerAll(copies)
	mine, cmps, against = map[string]*offer{}, map[string]*archive.Comparison{}, map[string]*offer{}
	for key, o := range ours {
		mine[names1[key]] = o
	}
	var cs []*archive.Comparison
	for key, o := range earlier {
		name := names1[key]
		if w := wanted[name]; w.size >= 0 && w.size != o.copy.size {
			continue // the descriptor says another size: verified on its own
		}
		c := &archive.Comparison{Member: name, Open: o.copy.open, Size: o.copy.size}
		cmps[name], against[name] = c, o
		cs = append(cs, c)
	}
	if !a.StartHash(cs) {
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

func readLayer(ctx context.Context, name string, r io.Reader, d digest.Digest, size int64, budget func(int64) error, entryBudget func() error, opts Options) *LayerResult {
	lr := &LayerResult{Blob: name, Digest: d}
	var src io.Reader
	var hr *hashingReader
	wopts := layer.Options{Limits: opts.Limits, Budget: budget, EntryBudget: entryBudget}
	if opts.cpu != nil {
		wopts.Cores = opts.cpu
	}
	if d != "" {
		src = blob.NewVerifier(r, d, size)
		if d.Algorithm() == digest.SHA256 {
			// Walk asks only after the blob was read to its end, when the
			// verifier has checked that it hashes to d.
			wopts.RawSHA256 = func() digest.Digest { return d }
		}
	} else {
		hr = &hashingReader{r: r, h: sha256.New()}
		src = hr
		wopts.RawSHA256 = func() digest.Digest { return digest.NewDigestFromBytes(digest.SHA256, hr.h.Sum(nil)) }
	}
	var ls *detect.LayerScan
	if opts.Engine != nil {
		ls = opts.Engine.NewLayerScan()
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

// buildImage merges an image's layers bottom-up and runs image-level
// detection. The tree grows from a fork of the tree of the longest chain
// of its lower layers that another image had (see baseTrees).
func buildImage(img *image.Image, layers map[string]*LayerResult, eng *detect.Engine, bases *baseTrees) (*ImageResult, []integrity.Problem) {
	var problems []integrity.Problem
	ir := &ImageResult{Image: img, Layers: make([]*LayerResult, len(img.Layers)), LayerProblems: make([][]integrity.Problem, len(img.Layers))}
	var dets []*detect.LayerResult
	sums := make([]*layer.Summary, len(img.Layers))
	for i, l := range img.Layers {
		lr := layers[l.Blob]
		if lr == nil {
			lr = &LayerResult{Blob: l.Blob, Digest: l.Digest}
		}
		ir.Layers[i] = lr
		sums[i] = lr.Summary
		if l.Digest == "" {
			l.Digest = lr.Digest
		}
		if lr.Summary != nil {
			l.UncompressedSize = lr.Summary.UncompressedSize
			l.Entries = countEntries(lr.Summary.Entries)
			if l.DiffID != "" && lr.Summary.DiffID != "" && l.DiffID != lr.Summary.DiffID {
				cfg := "config"
				if img.ConfigBlob != "" {
					cfg = "config " + img.ConfigBlob + " (its name claims no digest: nothing verified it)"
				}
				p := integrity.Problem{Blob: l.Digest.String(), Kind: integrity.DiffIDMismatch,
					Detail: fmt.Sprintf("layer %d of %s: uncompressed content hashes to %s, %s rootfs.diff_ids says %s", i, img.Ref(), lr.Summary.DiffID, cfg, l.DiffID)}
				problems = append(problems, p)
				ir.LayerProblems[i] = append(ir.LayerProblems[i], p)
			}
		}
		dets = append(dets, lr.Detect)
	}
	ir.Tree = bases.build(sums)
	if eng != nil {
		ir.Findings = eng.Image(detect.ImageInput{Image: img, Tree: ir.Tree, Layers: dets})
		ir.Findings = append(ir.Findings, anomalyFindings(img, ir.Tree, ir.Layers)...)
		finding.Sort(ir.Findings)
	}
	return ir, problems
}

func countEntries(es []*layer.Entry) int { return len(es) }

// baseTrees keeps the tree of each image's lower layers (all but its top
// one), so that another image on the same base forks it instead of
// merging the base's paths again: a fleet of images on one base holds the
// base's nodes once and spends on each image what its own layers change.
// A chain is its layers' summaries, the very ones the walks gave; a layer
// with none (its blob absent) is nil.
type baseTrees struct {
	mu     sync.Mutex
	chains map[string]*baseTree
}

type baseTree struct {
	sums []*layer.Summary // holding them keeps their addresses from reuse
	tree *tree.Tree       // frozen: only ever forked
}

func chainKey(sums []*layer.Summary) string {
	var b strings.Builder
	for _, s := range sums {
		fmt.Fprintf(&b, "%p/", s)
	}
	return b.String()
}

// fork returns a fork of the tree kept for the chain sums, or nil.
func (b *baseTrees) fork(sums []*layer.Summary) *tree.Tree {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if bt := b.chains[chainKey(sums)]; bt != nil {
		return bt.tree.Fork()
	}
	return nil
}

// keep freezes t as the tree of the chain sums and returns a fork of it.
func (b *baseTrees) keep(sums []*layer.Summary, t *tree.Tree) *tree.Tree {
	if b == nil {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chains == nil {
		b.chains = map[string]*baseTree{}
	}
	b.chains[chainKey(sums)] = &baseTree{sums: slices.Clone(sums), tree: t}
	return t.Fork()
}

// build merges the layers with summaries sums into a tree, from the
// longest chain of lower layers kept, and keeps its own lower layers'. A
// nil baseTrees keeps nothing.
func (b *baseTrees) build(sums []*layer.Summary) *tree.Tree {
	n := len(sums)
	t, from := (*tree.Tree)(nil), 0
	for i := n - 1; i > 0 && t == nil; i-- {
		if t = b.fork(sums[:i]); t != nil {
			from = i
		}
	}
	if t == nil {
		t = tree.New()
	}
	for i := from; i < n; i++ {
		if i == n-1 && i > from {
			t = b.keep(sums[:i], t)
		}
		var es []*layer.Entry
		if sums[i] != nil {
			es = sums[i].Entries
		}
		t.Apply(i, es)
	}
	return t
}
