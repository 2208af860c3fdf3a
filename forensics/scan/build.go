package scan

import (
	"fmt"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/tree"
)

// buildImage merges an image's layers bottom-up and runs image-level
// detection. The tree grows from a fork of the tree of the longest chain
// of its lower layers that another image had (see baseTrees).
func buildImage(img *image.Image, layers map[string]*LayerResult, eng *detect.Engine, bases *baseTrees, wal walReader) (*ImageResult, []integrity.Problem) {
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
		d := l.Digest
		if d == "" {
			d = lr.Digest // a legacy docker save's layer: known once read
		}
		if lr.Summary != nil && img.ManifestDigest != "" {
			// A legacy docker save declares no media type: strata's own
			// guess is nothing to disagree with.
			if p, ok := mislabelled(l, d, lr.Summary.Compression); ok {
				problems = append(problems, p)
				ir.LayerProblems[i] = append(ir.LayerProblems[i], p)
			}
		}
		if lr.Summary != nil {
			if l.DiffID != "" && lr.Summary.DiffID != "" && l.DiffID != lr.Summary.DiffID {
				cfg := "config"
				if img.ConfigBlob != "" {
					cfg = "config " + img.ConfigBlob + " (its name claims no digest: nothing verified it)"
				}
				p := integrity.Problem{Blob: d.String(), Kind: integrity.DiffIDMismatch,
					Detail: fmt.Sprintf("layer %d of %s: uncompressed content hashes to %s, %s rootfs.diff_ids says %s", i, img.Ref(), lr.Summary.DiffID, cfg, l.DiffID)}
				problems = append(problems, p)
				ir.LayerProblems[i] = append(ir.LayerProblems[i], p)
			}
		}
		dets = append(dets, lr.Detect)
	}
	ir.Tree = bases.build(sums)
	if eng != nil {
		readWALs(ir, dets, wal)
		anomalies := make([][]layer.Anomaly, len(sums))
		for i, s := range sums {
			if s != nil {
				anomalies[i] = s.Anomalies
			}
		}
		digests := make([]digest.Digest, len(img.Layers))
		for i := range img.Layers {
			digests[i] = ir.LayerDigest(i)
		}
		dr := eng.Image(detect.ImageInput{Image: img, Tree: ir.Tree, Layers: dets, Digests: digests, Anomalies: anomalies})
		ir.Findings = dr.Findings
		problems = append(problems, dr.Unread...)
		for i := range ir.Findings {
			if l := ir.Findings[i].Layer; l >= 0 && l < len(img.Layers) && img.Layers[l].Writable {
				ir.Findings[i].Writable = true
			}
		}
	}
	return ir, problems
}

// buildImages builds each image of the input a and adds it, its findings
// and its problems to res, in the input's order. Each image's tree and
// image-level detection are its own (a base is shared through bases,
// where one image builds a chain while the others on it wait): they run
// on every core. The images st built while the layers were read are
// taken as built.
func buildImages(a *archive.Archive, imgs []*image.Image, layers map[string]*LayerResult, opts Options, bases *baseTrees, res *Result, st *streamBuild) {
	out := make([]built, len(imgs))
	var todo []int
	for i := range imgs {
		if b, ok := st.built(i); ok {
			out[i] = b
		} else {
			todo = append(todo, i)
		}
	}
	forEach(len(todo), opts.parallel(), func(k int) {
		out[todo[k]] = buildOne(a, imgs[todo[k]], layers, opts, bases, res)
	})
	for _, b := range out {
		res.Images = append(res.Images, b.ir)
		res.Findings = append(res.Findings, b.ir.Findings...)
		res.Problems = append(res.Problems, b.problems...)
	}
}

// buildOne builds the image img of the input a (buildImage), and takes
// what the report reads of its tree before letting the tree go
// (Options.DropTrees).
func buildOne(a *archive.Archive, img *image.Image, layers map[string]*LayerResult, opts Options, bases *baseTrees, res *Result) built {
	ir, problems := buildImage(img, layers, opts.Engine, bases, contentWAL(res, 0))
	describeRootFS(a, ir)
	if opts.DropTrees {
		// What the report reads from the tree, taken now.
		if opts.Engine != nil {
			ir.inventory = inventory(ir, res.Content(ir))
		}
		ir.Tree = nil
	}
	return built{ir, append(problems, imageBytesProblem(ir, opts.maxImageBytes())...)}
}

// mislabelled notes a layer whose media type declares a compression its
// bytes do not have (archive-quirks §11.7): read by its magic bytes, a
// producer defect, not tampering: the digest decides integrity.
func mislabelled(l *image.Layer, d digest.Digest, got compress.Format) (integrity.Problem, bool) {
	declared, known := declaredCompression(l.MediaType)
	if !known || declared == got {
		return integrity.Problem{}, false
	}
	say := func(f compress.Format) string {
		if f == compress.None {
			return "no compression"
		}
		return string(f)
	}
	return integrity.Problem{Blob: d.String(), Kind: integrity.Defect, Reason: integrity.CompressionMislabelled,
		Detail: fmt.Sprintf("layer %d: media type %s declares %s, its bytes are %s; read as its bytes are", l.Index, l.MediaType, say(declared), say(got))}, true
}

// declaredCompression is the compression a layer media type declares;
// known is false for a type that declares none strata knows.
func declaredCompression(mt string) (f compress.Format, known bool) {
	switch {
	case strings.HasSuffix(mt, "+gzip"), strings.HasSuffix(mt, ".tar.gzip"):
		return compress.Gzip, true
	case strings.HasSuffix(mt, "+zstd"):
		return compress.Zstd, true
	case mt == "application/vnd.oci.image.layer.v1.tar", mt == "application/vnd.oci.image.layer.nondistributable.v1.tar",
		mt == "application/vnd.docker.image.rootfs.diff.tar":
		return compress.None, true
	}
	return compress.None, false
}

// baseTrees keeps the tree of each image's lower layers (all but its top
// one), so that another image on the same base forks it instead of
// merging the base's paths again: a fleet of images on one base holds the
// base's nodes once and spends on each image what its own layers change.
// A chain is named by its layers' diff_ids: the same uncompressed bytes
// give the same entries, whichever input's copy was walked.
//
// A chain is built by one image at a time: the inputs of a fleet that
// waited for the same shared base layer to be walked are let go together
// once it is, and each building its own copy of the base would hold as
// many full trees at once (in the 20-image bench fleet, a dozen: most of
// its peak memory) and merge the same paths again on every core.
type baseTrees struct {
	mu       sync.Mutex
	chains   map[string]*tree.Tree    // frozen: only ever forked
	building map[string]chan struct{} // closed once the chain is kept, or its build gave up
}

// chainKey names a chain of layers by their diff_ids ("-" for a layer
// whose blob is absent); ok is false when a layer was not read whole, so
// that its tree is never shared.
func chainKey(sums []*layer.Summary) (key string, ok bool) {
	var b strings.Builder
	for _, s := range sums {
		switch {
		case s == nil:
			b.WriteString("-/")
		case s.DiffID == "":
			return "", false
		default:
			b.WriteString(s.DiffID.String() + "/")
		}
	}
	return b.String(), true
}

// fork returns a fork of the tree kept for the chain sums, or nil.
func (b *baseTrees) fork(sums []*layer.Summary) *tree.Tree {
	key, ok := chainKey(sums)
	if b == nil || !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.chains[key]; t != nil {
		return t.Fork()
	}
	return nil
}

// claim returns a fork of the tree kept for the chain sums, waiting while
// another image builds it; or, when no tree is kept or being built, makes
// the caller its builder (claimed: it must call done once it kept the
// tree, or gave up).
func (b *baseTrees) claim(sums []*layer.Summary) (t *tree.Tree, claimed bool) {
	key, ok := chainKey(sums)
	if b == nil || !ok {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if t := b.chains[key]; t != nil {
			return t.Fork(), false
		}
		wait := b.building[key]
		if wait == nil {
			break
		}
		b.mu.Unlock()
		<-wait
		b.mu.Lock()
	}
	if b.building == nil {
		b.building = map[string]chan struct{}{}
	}
	b.building[key] = make(chan struct{})
	return nil, true
}

// done lets go the images waiting for the chain sums (claim).
func (b *baseTrees) done(sums []*layer.Summary) {
	key, _ := chainKey(sums)
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.building[key])
	delete(b.building, key)
}

// keep freezes t as the tree of the chain sums and returns a fork of it.
func (b *baseTrees) keep(sums []*layer.Summary, t *tree.Tree) *tree.Tree {
	key, ok := chainKey(sums)
	if b == nil || !ok {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chains == nil {
		b.chains = map[string]*tree.Tree{}
	}
	b.chains[key] = t
	return t.Fork()
}

// forget drops the trees of the chains that the layer whose
// uncompressed content hashes to diffID is in: no image still to be built
// is on it (streamBuild). A nil baseTrees keeps nothing.
func (b *baseTrees) forget(diffID digest.Digest) {
	if b == nil || diffID == "" {
		return
	}
	part := diffID.String() + "/"
	b.mu.Lock()
	defer b.mu.Unlock()
	for key := range b.chains {
		if strings.HasPrefix(key, part) || strings.Contains(key, "/"+part) {
			delete(b.chains, key)
		}
	}
}

// build merges the layers with summaries sums into a tree, from the
// longest chain of lower layers kept, and keeps its own lower layers'. A
// nil baseTrees keeps nothing. Only the chain of its own lower layers is
// waited for (claim); a shorter one is taken when it is there.
func (b *baseTrees) build(sums []*layer.Summary) *tree.Tree {
	n := len(sums)
	t, from := (*tree.Tree)(nil), 0
	if n > 1 {
		var claimed bool
		if t, claimed = b.claim(sums[:n-1]); claimed {
			defer b.done(sums[:n-1])
		}
		if t != nil {
			from = n - 1
		}
	}
	for i := n - 2; i > 0 && t == nil; i-- {
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
