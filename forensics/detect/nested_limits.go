package detect

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// Defaults of the nested-archive bounds (Options).
const (
	// DefaultMaxNestedDepth bounds how many archives deep a member may lie:
	// a .deb in a tarball in a layer is 3 (the tarball, the .deb, its
	// data.tar.xz); 16 is ClamAV's order of recursion limit.
	DefaultMaxNestedDepth = 16
	// DefaultMaxNestedBytes bounds the bytes read from the members of one
	// layer's nested archives, every level counted: a member two archives
	// deep is read (and hashed) at each level.
	DefaultMaxNestedBytes = 8 << 30
	// DefaultMaxNestedMemory bounds what one layer's nested reading holds
	// at once: the windows and dictionaries of its open decoders (xz -9:
	// 64 MiB) and the zip archives held for random access.
	DefaultMaxNestedMemory = 128 << 20
	// DefaultMaxNestedRatio is layer.DefaultLimits.MaxRatio, applied to
	// each nested stream and to each layer file as a whole, past
	// iox.RatioGrace bytes.
	DefaultMaxNestedRatio = 1000
)

// Other bounds, fixed.
const (
	maxNestedMembers = 100_000  // members read from one layer file, every level counted
	maxRPMHeader     = 64 << 20 // an rpm header's index and data
	maxLimitFindings = 100      // limit findings per layer; more are counted
	maxSkippedNames  = 5        // files named in "not opened" counts
)

// Kinds of nested limits, as rule IDs name them.
const (
	limitDepth   = "depth"
	limitBytes   = "bytes"
	limitMemory  = "memory"
	limitRatio   = "ratio"
	limitMembers = "members"
)

// LimitRulePrefix starts the rule ID of every finding that says a nested
// archive was not read whole.
const LimitRulePrefix = "strata-nested-limit-"

// nestLimits are the engine's bounds with defaults applied.
type nestLimits struct {
	depth  int
	bytes  int64
	memory int64
	ratio  float64
}

func (e *Engine) nestLimits() nestLimits {
	l := nestLimits{depth: e.opts.MaxNestedDepth, bytes: e.opts.MaxNestedBytes, memory: e.opts.MaxNestedMemory, ratio: e.opts.MaxNestedRatio}
	if l.depth <= 0 {
		l.depth = DefaultMaxNestedDepth
	}
	if l.bytes <= 0 {
		l.bytes = DefaultMaxNestedBytes
	}
	if l.memory <= 0 {
		l.memory = DefaultMaxNestedMemory
	}
	if l.ratio <= 0 {
		l.ratio = DefaultMaxNestedRatio
	}
	return l
}

// limitSeverity says how much reaching a limit matters: nothing ordinary
// nests archives 16 deep or expands a stream a thousandfold (low, as
// anomalies are), while a big archive over the byte or memory bound is
// only a part left unread (info).
func limitSeverity(kind string) finding.Severity {
	switch kind {
	case limitDepth, limitRatio:
		return finding.Low
	}
	return finding.Info
}

// unreadNotes takes out of fs the records of nested archives left partly
// unread because a bound was reached that ordinary images reach too (the
// byte budget, the memory bound, the member count: a fat jar, a big
// source tarball: limitSeverity's Info), and makes each a degraded note
// on its layer: what they hold is unknown, and says so, but an image is
// not suspicious for carrying a big archive. Bounds only hostile input
// reaches (depth, a bomb's ratio) stay findings. fs is reused.
func unreadNotes(fs []finding.Finding) ([]finding.Finding, []integrity.Problem) {
	var notes []integrity.Problem
	kept := fs[:0]
	for _, f := range fs {
		if !strings.HasPrefix(f.Rule, LimitRulePrefix) || f.Severity > finding.Info {
			kept = append(kept, f)
			continue
		}
		// A layer's digest names the blob as other records do; a
		// finding with none (no digest known yet) is named by its path.
		notes = append(notes, integrity.Problem{Blob: cmp.Or(f.LayerDigest, f.Path), Kind: integrity.Degraded,
			Detail: fmt.Sprintf("%s: %s (%s)", f.Path, f.Message, f.Evidence)})
	}
	return kept, notes
}

// limitMessage says what a limit left unread.
func limitMessage(kind string) string {
	switch kind {
	case limitDepth:
		return "archives nested deeper than the depth limit were not opened (raise it with --max-nested-depth); their own bytes were hashed and searched, their members were not"
	case limitBytes:
		return "the layer's budget of bytes read from nested archives ran out (raise it with --max-nested-bytes); the rest of this file and the archives after it in the layer were not opened"
	case limitMemory:
		return "an archive needing more memory than is left of the layer's bound (a zip held for random access, or a decoder's window) was not opened (raise it with --max-nested-memory); its own bytes were hashed and searched, its members were not"
	case limitRatio:
		return "a nested stream expanded beyond the decompression ratio bound, as a decompression bomb does, and was not read further (raise it with --max-ratio)"
	case limitMembers:
		return fmt.Sprintf("more than %d members in this file's archives; the rest were not read (a fixed bound)", maxNestedMembers)
	}
	return "a nested archive was not read whole"
}

// finishNested completes the limit findings once the layer was walked: how
// many archives were not opened after the byte budget ran out, and how
// many limit findings were not listed.
func (s *LayerScan) finishNested() {
	ln := &s.nest
	if ln.skipped > 0 && ln.budgetAt >= 0 && ln.budgetAt < len(s.res.Findings) && s.res.Findings[ln.budgetAt].Rule == LimitRulePrefix+limitBytes {
		f := &s.res.Findings[ln.budgetAt]
		f.Evidence += fmt.Sprintf("; after it, %d more archive files of this layer were not opened (%s", ln.skipped, strings.Join(ln.skippedNames, ", "))
		if ln.skipped > len(ln.skippedNames) {
			f.Evidence += ", …"
		}
		f.Evidence += ")"
	}
	if ln.dropped > 0 {
		for i := len(s.res.Findings) - 1; i >= 0; i-- {
			if strings.HasPrefix(s.res.Findings[i].Rule, LimitRulePrefix) {
				s.res.Findings[i].Evidence += fmt.Sprintf("; %d more files of this layer reached nested limits and are not listed", ln.dropped)
				break
			}
		}
	}
	ln.skipped, ln.dropped = 0, 0
}

// limitHit is the first place a limit was reached in one layer file.
type limitHit struct {
	where  string
	detail string
	count  int
}

// stopError ends the reading of a layer file: its budget, or its layer's,
// ran out. It passes up through every level unrecorded, and the top
// records it.
type stopError struct {
	kind   string
	where  string
	detail string
}

func (e *stopError) Error() string { return e.detail }

// ratioStop is a RatioReader's error, one per stream, so that the level
// that opened the stream knows the stop as its own.
type ratioStop struct {
	n, compressed int64
	max           float64
}

func (e *ratioStop) Error() string {
	return fmt.Sprintf("expanded to %d bytes from %d, beyond %g:1", e.n, e.compressed, e.max)
}

func (ns *nestedScan) limit(kind, where, detail string) {
	if l := ns.limits[kind]; l != nil {
		l.count++
		return
	}
	ns.limits[kind] = &limitHit{where: where, detail: detail, count: 1}
	ns.order = append(ns.order, kind)
}

// fileRatioGrace is how many bytes a layer file's members give before the
// file's ratio is checked: more than a single stream's (iox.RatioGrace),
// so that one bomb among a file's members is stopped by its own stream's
// ratio and the members after it are still read, while many streams each
// under the grace (a zip of zips of zips) stop the file.
const fileRatioGrace = 4 * iox.RatioGrace

// charge counts n bytes read from a member against the layer's budget and
// the file's ratio.
func (ns *nestedScan) charge(n int64, where string) error {
	ns.ln.bytes += n
	ns.charged += n
	if ns.ln.bytes > ns.lim.bytes {
		ns.ln.spent = true
		return &stopError{kind: limitBytes, where: where, detail: fmt.Sprintf("nested byte budget %d reached", ns.lim.bytes)}
	}
	if ns.charged > fileRatioGrace {
		if raw := ns.raw.n; raw > 0 && float64(ns.charged) > ns.lim.ratio*float64(raw) {
			return &stopError{kind: limitRatio, where: where, detail: fmt.Sprintf("%d bytes read from the members of a file of which %d bytes were read, beyond %g:1", ns.charged, raw, ns.lim.ratio)}
		}
	}
	return nil
}

// reserve takes n bytes of the layer's memory bound, or reports that
// they are not left.
func (ns *nestedScan) reserve(n int64) bool {
	if ns.ln.held+n > ns.lim.memory {
		return false
	}
	ns.ln.held += n
	return true
}

func (ns *nestedScan) release(n int64) { ns.ln.held -= n }

func isStop(err error) bool {
	var s *stopError
	return errors.As(err, &s)
}
