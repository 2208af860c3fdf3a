// Package scan ties the pipeline together: it opens an input, resolves its
// images, streams every distinct layer blob exactly once (concurrently,
// verifying its digest and diff_id, walking its tar and feeding the
// detectors on the same pass), merges each image's layers into a tree with
// provenance, and collects findings and integrity problems.
package scan

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/report"
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
	// holds (an input built image by image gives back the entries of the
	// listings it lets go: see streamBuild); zero is
	// DefaultMaxInputEntries.
	MaxInputEntries int64
	Image           image.Options
	Archive         archive.Options
	// Engine runs the detectors; nil reads, verifies and rebuilds only.
	Engine *detect.Engine
	// Parallel is the number of layers read, or images built, at once
	// (default: GOMAXPROCS).
	Parallel int
	// Progress, when set, is called after each layer blob is read, and
	// every few MiB while an input compressed as a whole is indexed.
	Progress func(Progress)
	// Now stamps the scan's start and end (for SOURCE_DATE_EPOCH); nil is
	// time.Now.
	Now func() time.Time
	// AllRevisions reads every manifest a registry's storage holds as an
	// image (--all-revisions): each tag's earlier targets and the
	// revisions no tag names, besides each tag's current one.
	AllRevisions bool
	// Memo, shared by the runs of a fleet scan, lets a layer blob seen in
	// an earlier input be verified without being decompressed and walked
	// again; with a folder it persists across runs.
	Memo *Memo
	// Shard, when set, makes the scan read only its share of the input's
	// distinct layers into the Memo's cache folder, and build no image:
	// Result.Shard says what it did.
	Shard *Shard
	// DropTrees lets each image's tree go as soon as the image's
	// detection ran and its inventory was taken, for a caller that only
	// reports (strata scan): an input of thousands of images (a
	// registry's storage) then holds a tree per core being built, not one
	// per image. The result's images have no Tree.
	DropTrees bool
	// DropListings, with DropTrees, lets each layer's file listing go once
	// the last image built on it is judged, for a caller whose report
	// copies no file out (strata scan without --evidence); the images of
	// an input of many (a registry's storage) are then built as their
	// layers are ready, those on one base one after another. See
	// streamBuild.
	DropListings bool
}

// DefaultMaxImageBytes is the default bound on an image's uncompressed
// layers: four layers at the per-layer default.
const DefaultMaxImageBytes = 256 << 30

// DefaultMaxInputEntries is the default bound on the entries read from one
// input: four layers at the per-layer default, some 550 MB of records and
// tree.
const DefaultMaxInputEntries = 2_000_000

func (o Options) parallel() int {
	if o.Parallel < 1 {
		return runtime.GOMAXPROCS(0)
	}
	return o.Parallel
}

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

// limitImageBytes names the bound an image's layers reached.
const limitImageBytes = "uncompressed bytes per image"

func (b *imageBudget) errOver() error {
	return &layer.LimitError{Limit: limitImageBytes, Flag: "--max-image-bytes", Value: fmt.Sprint(b.max)}
}

// Result is everything one input revealed. Close releases the input.
type Result struct {
	Input    archive.Info
	Images   []*ImageResult
	Problems []integrity.Problem
	// Shard is what a shard's scan did (Options.Shard); it then has no
	// Images and no Findings.
	Shard    *ShardResult
	Findings []finding.Finding
	Ruleset  *rules.Info
	Started  time.Time
	Finished time.Time
	Cache    *CacheUse // the cache folder the layers were looked up in; nil when none

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

	// inventory is the image's inventory, taken before its tree was let
	// go (Options.DropTrees); nil when the tree is kept.
	inventory *report.Inventory
}

// LayerDigest is layer i's digest: the one its image declares, else, for
// a legacy docker save's layer (whose digest is only known once read), the
// digest of the blob as read; "" when neither is known.
func (ir *ImageResult) LayerDigest(i int) digest.Digest {
	if ir.Image != nil && i >= 0 && i < len(ir.Image.Layers) && ir.Image.Layers[i] != nil && ir.Image.Layers[i].Digest != "" {
		return ir.Image.Layers[i].Digest
	}
	if i >= 0 && i < len(ir.Layers) && ir.Layers[i] != nil {
		return ir.Layers[i].Digest
	}
	return ""
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
	// Cache is the authenticated cache entry the results were taken
	// from; nil when they were computed by this process.
	Cache *layercache.Origin
	// Verified is the verification record the blob was taken as
	// verified by, unread (see trusted); nil when this scan read it.
	Verified *layercache.Verification

	overImage bool  // the walk stopped at --max-image-bytes
	entries   int   // the listing's length, once it was let go (Options.DropListings)
	charged   int64 // the entries its walk counted against the input's --max-input-entries
}

// Integrity is the verdict over every problem found.
func (r *Result) Integrity() integrity.Report { return integrity.Verdict(r.Problems) }

// Release drops the result's trees and layer listings, the bulk of its
// memory, once a report has taken what it shows (report.Document.Add),
// and parks its input (archive.Park): the input stays readable, so that
// the report's openers can still copy files out of it until Close, but
// holds no file descriptor.
func (r *Result) Release() {
	for _, ir := range r.Images {
		ir.Tree = nil
		ir.Layers = nil
		ir.LayerProblems = nil
	}
	if r.archive != nil {
		// Its file descriptor too: a fleet of more tarballs than the
		// process may open files keeps them all to its end.
		r.archive.Park()
	}
}

// Close releases the input.
func (r *Result) Close() error {
	if r.archive == nil {
		return nil
	}
	return r.archive.Close()
}

// run is the scan of one input: its options and what it shares with the
// other runs of a fleet.
type run struct {
	opts  Options
	cpu   *sched.Gate // one place per core, across the fleet
	share *share      // the memo's view for this run's rules
	fleet bool        // the run is one of several (RunAll)
	early *earlyWalks // walks made while the input was indexed
	// skipped are the layers another shard reads (Options.Shard).
	skipped map[string]bool
	// stream builds the images while their layers are read; nil when
	// they are built after (see streamBuild).
	stream *streamBuild
}

func newRun(opts Options, cpu *sched.Gate, fleet bool) *run {
	return &run{opts: opts, cpu: cpu, share: opts.Memo.share(opts.Engine, cpu), fleet: fleet, skipped: map[string]bool{}}
}

// Run scans the input at path.
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	return newRun(opts, sched.New(), false).scan(ctx, path)
}

// scan reads the input at path: archive, images, layers, trees, findings.
func (r *run) scan(ctx context.Context, path string) (*Result, error) {
	opts := r.opts
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	res := &Result{Started: now().UTC()}
	opts.Archive.Throttle = r.cpu.Enter
	if opts.Archive.TmpDir == "" && opts.Archive.Early == nil && opts.Shard == nil {
		// (A shard reads only its own layers: walking every big one
		// while the input is indexed would read the others' too.)
		r.early = &earlyWalks{byOffset: map[int64]*LayerResult{}, entries: entryCounter(opts.MaxInputEntries)}
		opts.Archive.Early = r.early.hook(ctx, r)
	}
	if opts.Progress != nil && opts.Archive.Progress == nil {
		opts.Archive.Progress = func(read, total int64) {
			opts.Progress(Progress{Input: path, Bytes: read, TotalBytes: total, Indexing: true})
		}
	}
	if opts.Archive.Stores == nil {
		opts.Archive.Stores = Stores(opts)
	}
	if opts.Shard != nil {
		dir := ""
		if opts.Memo != nil && opts.Memo.cache != nil {
			dir = opts.Memo.cache.Dir()
		}
		if err := opts.Shard.claimCache(dir); err != nil {
			return nil, err
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

	lost := orphans(a, res.Problems)
	// One image alone has nothing to share its base with, and a fork costs
	// a copy of every node its top layer changes.
	var bases *baseTrees
	switch {
	case r.fleet && opts.Memo != nil:
		bases = &opts.Memo.bases
	case len(imgs) > 1:
		bases = &baseTrees{}
	}
	st := r.streamBuild(a, imgs, lost, bases, res)
	layers, err := r.readLayers(ctx, a, append(st.order(imgs), lost...))
	if err == nil {
		// The input's own sha256 was computed while its layers were read.
		err = a.Wait()
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	res.Input = a.Info
	if opts.Shard != nil {
		return r.shardResult(res, layers, now), nil
	}
	buildImages(a, imgs, layers, opts, bases, res, st)
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
	res.Cache = r.share.use()
	res.Finished = now().UTC()
	return res, nil
}

// RunEach scans several inputs as a fleet: several at a time, sharing one
// memo (opts.Memo, or a new one), so that a layer they share is walked once
// while every input still verifies its own copy of it (see Memo), and
// images on one base fork its tree. A gate keeps CPU-heavy work to one
// piece per core across all the inputs: while one input walks a big shared
// base layer on one core, others hash their own bytes and walk their own
// layers on the rest. each is called with every outcome in the order of
// paths, as soon as it and the ones before it are done, from the calling
// goroutine: the caller can write an input's report and release its result
// before later inputs finish, so a fleet's memory is not every tree at once.
func RunEach(ctx context.Context, paths []string, opts Options, each func(Outcome)) {
	if opts.Memo == nil {
		opts.Memo = NewMemo("")
	}
	cpu := sched.New()
	fleet := len(paths) > 1
	// Inputs waiting for a shared layer or for the gate use no CPU, hence
	// more inputs than cores: while the walk of a shared base holds one
	// core, the others hash inputs and walk their own layers. An input's
	// place is given back once each has taken its outcome, so results
	// waiting their turn are bounded too.
	sem := make(chan struct{}, 8*runtime.GOMAXPROCS(0))
	type slot struct {
		o      Outcome
		placed bool // holds a place in sem
	}
	done := make([]chan slot, len(paths))
	for i := range paths {
		done[i] = make(chan slot, 1)
	}
	// The runs that start at once are enlisted before any starts, so
	// that none of them misses a layer's result another of them walked
	// (see Memo.own); the later ones as they start.
	first := min(len(paths), cap(sem))
	opts.Memo.enlist(first)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, p := range paths {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				if i < first {
					opts.Memo.enlist(-1)
				}
				done[i] <- slot{o: Outcome{Path: p, Err: ctx.Err()}}
				continue
			}
			if i >= first {
				opts.Memo.enlist(1)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := newRun(opts, cpu, fleet)
				r.share.enlisted = true
				res, err := r.scan(ctx, p)
				r.share.leave()
				done[i] <- slot{o: Outcome{Path: p, Result: res, Err: err}, placed: true}
			}()
		}
	}()
	for i := range paths {
		s := <-done[i]
		each(s.o)
		if s.placed {
			<-sem
		}
	}
	wg.Wait()
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
		if lr.overImage {
			return nil // a walk stopped on the bound and said so
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
