package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
)

// withDrift gives the detectors the files of an engine's layer folder
// that the layer as pulled does not hold (archive.DriftFiles: planted
// after the pull, or changed since), as a walk gives them a layer's
// files, and returns lr with their findings added to its own, each
// marked as drift: their bytes are in no blob and under no digest, yet
// every container on the layer sees them. lr is shared by every input
// with the layer, and remembered: the copy returned is this input's.
func (r *run) withDrift(ctx context.Context, lr *LayerResult, blob string, files []archive.Drifted) *LayerResult {
	if len(files) == 0 || r.opts.Engine == nil || ctx.Err() != nil {
		return lr
	}
	var res *detect.LayerResult
	var problems []integrity.Problem
	r.cpu.Do(ctx, func() { res, problems = scanDrifted(ctx, r.opts.Engine, blob, files) })
	what := map[string]string{}
	for _, f := range files {
		what[f.Path] = f.What
	}
	own := *lr
	own.Problems = append(slices.Clip(lr.Problems), problems...)
	var d detect.LayerResult
	if lr.Detect != nil {
		d = *lr.Detect
	}
	d.Findings = slices.Clip(d.Findings)
	for _, f := range res.Findings {
		f.Drift = what[f.Path]
		d.Findings = append(d.Findings, f)
	}
	d.Errors = append(slices.Clip(d.Errors), res.Errors...)
	own.Detect = &d
	return &own
}

// scanDrifted runs one layer scan over files, each streamed once through
// the sinks the detectors ask for, with its sha256 had on the way as a
// walk has it. A file that cannot be read is a degraded note: its bytes
// went unread.
func scanDrifted(ctx context.Context, eng *detect.Engine, blob string, files []archive.Drifted) (*detect.LayerResult, []integrity.Problem) {
	ls := eng.NewLayerScan()
	var problems []integrity.Problem
	buf := make([]byte, 256<<10)
	h := sha256.New()
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		if err := feed(ls, f, h, buf); err != nil {
			problems = append(problems, integrity.Problem{Blob: blob, Kind: integrity.Degraded,
				Detail: fmt.Sprintf("drift: %s: %s was not read by the detectors: %v", f.What, f.Path, err)})
		}
	}
	return ls.Result(), problems
}

// feed streams file f's Size bytes to the sinks ls gives its entry, as
// a walk does: a sink's failure is its own to record.
func feed(ls *detect.LayerScan, f archive.Drifted, h hash.Hash, buf []byte) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	e := &layer.Entry{Path: f.Path, Type: layer.File, Size: f.Size}
	sinks := ls.Sinks(e)
	h.Reset()
	r := io.LimitReader(rc, f.Size)
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			for _, s := range sinks {
				s.Write(buf[:k])
			}
			n += int64(k)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err == nil && n < f.Size {
		// Shorter than when the folder was walked: the sinks were
		// promised Size bytes.
		err = fmt.Errorf("%d bytes of %d: %w", n, f.Size, io.ErrUnexpectedEOF)
	}
	if err == nil {
		e.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	for _, s := range sinks {
		s.Done(e, err)
	}
	return err
}
