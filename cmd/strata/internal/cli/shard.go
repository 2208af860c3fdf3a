package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/scan"
)

// runShard is `scan --shard I/N`: every input's share of distinct layers
// verified and scanned into the cache folder, one line per input on out,
// the problems of its layers after it. No report: `scan` without --shard
// assembles it from the cache once every shard is done. The exit code is
// 1 when a layer of the shard fails integrity, 2 when an input cannot be
// read. A storage of an evidence root holding none of the images selected
// is skipped as the scan skips it (roots): a shard of a selection made of
// the root must not fail where the assembling scan would not.
func runShard(ctx context.Context, opts scan.Options, spec, cacheDir string, inputs []scanInput, out, errOut io.Writer) error {
	sh, err := scan.ParseShard(spec, os.Getenv)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if cacheDir == "" {
		return &exitError{code: exitUsage, err: errors.New("--shard needs --cache DIR: the folder the shards fill and the assembling scan reads")}
	}
	opts.Shard = &sh
	paths := make([]string, len(inputs))
	for i, in := range inputs {
		paths[i] = in.path
	}
	parts := newRoots(inputs)
	var failures []scan.Outcome
	var failing int
	var setupErr error
	scan.RunEach(ctx, paths, opts, func(o scan.Outcome) {
		if o.Err != nil {
			if errors.Is(o.Err, scan.ErrShardsMix) {
				setupErr = o.Err
				return
			}
			failures = append(failures, o) // said once every input is read: a later storage of its root may hold the selection
			return
		}
		parts.took(o.Path)
		defer o.Result.Close()
		r := o.Result.Shard
		fmt.Fprintf(out, "shard %s  %s  %d of %d layers this shard's: %d scanned, %d from the cache\n",
			r.Shard, printable.String(o.Path), r.Mine, r.Layers, r.Mine-r.Cached, r.Cached)
		for _, p := range o.Result.Problems {
			if !p.Informational() {
				failing++
				fmt.Fprintf(out, "  %s\n", printable.String(p.String()))
			}
		}
	})
	unusable := sayFailures(errOut, failures, parts)
	switch {
	case setupErr != nil:
		return &exitError{code: exitUsage, err: setupErr}
	case unusable > 0:
		return &exitError{code: exitUsage}
	case failing > 0:
		return &exitError{code: exitFindings}
	}
	return nil
}
