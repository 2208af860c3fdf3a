package scan

import (
	"slices"
	"strings"
	"sync"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// A streamBuild builds an input's images while its layers are read, each
// as soon as its last layer is ready, and lets a layer's listing go once
// the last image on it is judged (Options.DropListings). An input built
// after all its layers were read held every layer's listing, and every
// chain's tree, at once: a registry's storage of thousands of images
// held them all, and an assembling scan, whose layers come from the
// cache folder one after another, touched every one of them afresh,
// which was most of its work. The layers are asked for image after image,
// those on one base together (order), so the listings held at once are
// those of the bases being built on.
//
// Only the images of one input read in place, with their trees dropped,
// are built so: a fleet's inputs share their bases' trees and results
// (Memo), a shard builds no image, an input decompressed as a whole has
// its members read once in order, and a report that copies files out of
// the layers (--evidence) needs their listings to the end.
type streamBuild struct {
	r     *run
	a     *archive.Archive
	imgs  []*image.Image
	bases *baseTrees
	res   *Result

	budget *entryCount // the input's --max-input-entries, given back what is let go

	mu      sync.Mutex
	ready   map[string]*LayerResult // the layers ready so far, by blob
	missing []int                   // by image: its distinct layers not ready yet
	waiting map[string][]int        // blob -> the images waiting for it
	users   map[string]int          // blob -> the images on it not built yet
	out     []built                 // by image, once built
	done    []bool
}

// built is an image built, with the problems its build found.
type built struct {
	ir       *ImageResult
	problems []integrity.Problem
}

// streamBuild returns the streamBuild of the input a's images imgs, or nil
// when they are built once every layer is read (see streamBuild). The
// layers of lost (unreferenced blobs read as layers) are never let go:
// their records are made once every layer is read.
func (r *run) streamBuild(a *archive.Archive, imgs, lost []*image.Image, bases *baseTrees, res *Result) *streamBuild {
	o := r.opts
	if !o.DropTrees || !o.DropListings || r.fleet || o.Shard != nil || !a.InPlace() || len(imgs) < 2 {
		return nil
	}
	s := &streamBuild{r: r, a: a, imgs: imgs, bases: bases, res: res,
		ready: map[string]*LayerResult{}, missing: make([]int, len(imgs)), waiting: map[string][]int{},
		users: map[string]int{}, out: make([]built, len(imgs)), done: make([]bool, len(imgs))}
	for i, img := range imgs {
		for _, blob := range distinctBlobs(img) {
			s.missing[i]++
			s.waiting[blob] = append(s.waiting[blob], i)
			s.users[blob]++
		}
	}
	for _, img := range lost {
		for _, blob := range distinctBlobs(img) {
			s.users[blob]++ // never down to 0
		}
	}
	r.stream = s
	return s
}

// distinctBlobs are the blobs of img's layers, each once.
func distinctBlobs(img *image.Image) []string {
	var out []string
	for _, l := range img.Layers {
		if l.Blob != "" && !slices.Contains(out, l.Blob) {
			out = append(out, l.Blob)
		}
	}
	return out
}

// order is the order the input's layers are asked for in: image after
// image, those whose layers begin alike (on one base) together, so that a
// base's listing and tree can go once its images are built. Without a
// streamBuild, the input's own order.
func (s *streamBuild) order(imgs []*image.Image) []*image.Image {
	out := slices.Clone(imgs)
	if s == nil {
		return out
	}
	slices.SortStableFunc(out, func(a, b *image.Image) int {
		for i := 0; i < len(a.Layers) && i < len(b.Layers); i++ {
			if c := strings.Compare(a.Layers[i].Blob, b.Layers[i].Blob); c != 0 {
				return c
			}
		}
		return len(a.Layers) - len(b.Layers)
	})
	return out
}

// countsAgainst makes the entries of the listings let go count no longer
// against the input's budget c: what --max-input-entries bounds is what
// a scan holds, and a streamed input holds only the listings of the
// layers images are still to be built on, so a registry's storage of any
// size is read in one process within it.
func (s *streamBuild) countsAgainst(c *entryCount) {
	if s != nil {
		s.budget = c
	}
}

// layerReady takes a layer's final result, read or looked up, and builds
// the images it was the last missing layer of, in the calling goroutine.
func (s *streamBuild) layerReady(name string, lr *LayerResult) {
	if s == nil || lr == nil {
		return
	}
	s.mu.Lock()
	if _, dup := s.ready[name]; dup {
		s.mu.Unlock()
		return
	}
	s.ready[name] = lr
	var now []int
	for _, i := range s.waiting[name] {
		if s.missing[i]--; s.missing[i] == 0 {
			now = append(now, i)
		}
	}
	delete(s.waiting, name)
	s.mu.Unlock()
	for _, i := range now {
		s.build(i)
	}
}

// build builds image i from the layers ready, then lets go the listings
// of its layers no image still to be built is on.
func (s *streamBuild) build(i int) {
	img := s.imgs[i]
	s.mu.Lock()
	layers := make(map[string]*LayerResult, len(img.Layers))
	for _, l := range img.Layers {
		if lr := s.ready[l.Blob]; lr != nil {
			layers[l.Blob] = lr
		}
	}
	s.mu.Unlock()
	b := buildOne(s.a, img, layers, s.r.opts, s.bases, s.res)
	var gone []*LayerResult
	s.mu.Lock()
	s.out[i], s.done[i] = b, true
	for _, blob := range distinctBlobs(img) {
		if s.users[blob]--; s.users[blob] == 0 && layers[blob] != nil {
			gone = append(gone, layers[blob])
		}
	}
	s.mu.Unlock()
	for _, lr := range gone {
		s.letGo(lr)
	}
}

// letGo drops a layer's listing once no image to be built is on it: from
// its result (which keeps the listing's length for the report), from the
// trees of the chains of layers it is in, and from the cache's memory (a
// folder keeps its entry).
func (s *streamBuild) letGo(lr *LayerResult) {
	if lr.Summary == nil {
		return
	}
	sum := *lr.Summary
	lr.entries = len(sum.Entries)
	sum.Entries, sum.FormatEntries = nil, nil
	lr.Summary = &sum
	s.bases.forget(sum.DiffID)
	if s.budget != nil && lr.charged > 0 {
		s.budget.n.Add(-lr.charged)
		lr.charged = 0
	}
	if sh := s.r.share; sh.m != nil && lr.Digest != "" {
		sh.m.cache.Forget(lr.Digest, sh.fp)
	}
}

// built returns image i if it was built while its layers were read.
func (s *streamBuild) built(i int) (built, bool) {
	if s == nil {
		return built{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out[i], s.done[i]
}

// EntryCount is the number of entries of the layer's listing, whether or
// not the listing was let go (Options.DropListings).
func (lr *LayerResult) EntryCount() int {
	if lr.Summary == nil {
		return 0
	}
	if lr.Summary.Entries == nil && lr.entries > 0 {
		return lr.entries
	}
	return len(lr.Summary.Entries)
}
