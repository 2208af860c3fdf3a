package scan

import (
	"context"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
)

// earlyWalks are the walks made while an input compressed as a whole is
// indexed: that pass decompresses every member anyway, and walking the
// big ones then (as layers, before the manifests say which are) saves a
// second decompression of the whole input. A walk is kept only when it
// read a whole, well-formed layer; readLayers adopts it when it is the
// blob an image wants, and reads everything else again as before.
type earlyWalks struct {
	byOffset map[int64]*LayerResult // by member offset, so that aliases find it
	entries  *entryCount            // bounds what the early walks hold
}

// hook returns the archive's Early option. A member named after a digest
// the memo knows (a blob an earlier input of the fleet walked, or one in
// the --cache folder) is only verified against it, not walked again.
func (e *earlyWalks) hook(ctx context.Context, r *run) func(name string, offset, size int64, rd io.Reader) {
	return func(name string, offset, size int64, rd io.Reader) {
		var lr *LayerResult
		ref := blobRef{name: name, size: size}
		if d := blob.FromPath(name); d != "" && r.share.get(d) != nil {
			ref.digest = d
			lr, _ = r.share.reuse(ctx, ref, rd)
		} else {
			r.cpu.Do(ctx, func() { lr = r.readLayer(ctx, ref, rd, nil, e.entries.next) })
		}
		if lr != nil && lr.Summary != nil && len(lr.Problems) == 0 && lr.Digest != "" {
			e.byOffset[offset] = lr
		}
	}
}

// adopt returns the early walk of the member name when it is the blob w:
// the same digest (when w has one) and size (when w has a descriptor),
// within the budgets of the images that hold it and the input's entry
// count, which it then spends. Otherwise it returns nil, and the blob is
// read again, verified and walked as any other, which reports what is
// wrong with it.
func (e *earlyWalks) adopt(a *archive.Archive, name string, w want, budgets []*imageBudget, entries *entryCount) *LayerResult {
	if e == nil {
		return nil
	}
	m, ok := a.Stat(name)
	if !ok {
		return nil
	}
	lr := e.byOffset[m.Offset]
	if lr == nil || (w.digest != "" && w.digest != lr.Digest) || (w.size >= 0 && w.size != m.Size) {
		return nil
	}
	n := lr.Summary.UncompressedSize
	for _, b := range budgets {
		if b.n.Load()+n > b.max {
			return nil
		}
	}
	if !entries.take(int64(len(lr.Summary.Entries))) {
		return nil
	}
	for _, b := range budgets {
		b.n.Add(n)
	}
	out := *lr
	out.Blob = name
	return &out
}

// release drops the walks not adopted.
func (e *earlyWalks) release() {
	if e != nil {
		e.byOffset = nil
	}
}
