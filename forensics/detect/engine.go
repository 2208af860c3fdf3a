// Package detect finds CVE-2024-3094 (xz backdoor) artefacts, and whatever
// else a rule file describes, in the single pass that reads each layer: it
// hands layer.Walk sinks for every regular file (digests, byte signatures,
// markers, package databases, archives nested to any depth, sshd's
// ELF facts), keeps a per-layer result that can be cached, and turns the
// layer results of an image into findings with context and severity.
package detect

import (
	"fmt"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/rules"
)

// Options configure an Engine.
type Options struct {
	// Deep searches every ELF file for the liblzma signatures, not only
	// files named or linked as liblzma: a static link carries the backdoor
	// too.
	Deep bool
	// MaxDBBytes bounds one package database (pkgdb.DefaultMaxBytes when 0).
	MaxDBBytes int64
	// The bounds of the archives nested in a layer (nested_limits.go), the
	// defaults when 0: how many archives deep a member may lie
	// (DefaultMaxNestedDepth), the bytes read from a layer's nested
	// members, every level counted (DefaultMaxNestedBytes), the memory
	// their decoders and zip buffers may hold at once
	// (DefaultMaxNestedMemory), and how far a nested stream may expand
	// past iox.RatioGrace, or a layer file's members together past four
	// times that (DefaultMaxNestedRatio). Reaching one is a finding.
	MaxNestedDepth  int
	MaxNestedBytes  int64
	MaxNestedMemory int64
	MaxNestedRatio  float64
}

// Engine holds the compiled rules. It is read-only once built, so layer
// scans running concurrently share it.
type Engine struct {
	rs   *rules.Set
	opts Options

	digests     map[string][]digestRef
	sigs        *matcher // nil without signature rules
	sigRules    []patRule
	markers     *matcher
	markerRules []patRule
	markerGlobs []glob
	pathRules   []pathRule
	pkgRules    []*rules.Rule
	imageRules  []*rules.Rule
	scopeAny    bool // a signature rule searches every file
	scopeELF    bool // a signature rule searches every ELF file
}

type digestRef struct {
	rule *rules.Rule
	i    int
}

// pathRule is a path rule with its globs.
type pathRule struct {
	rule  *rules.Rule
	globs []glob
}

// glob is a path.Match pattern with the literal text it starts with: a
// name without that prefix cannot match, and most file names fail there,
// before path.Match (which a scan would otherwise call for every rule's
// every glob on every file).
type glob struct{ pattern, prefix string }

func newGlob(p string) glob {
	i := strings.IndexAny(p, `*?[\`)
	if i < 0 {
		i = len(p)
	}
	return glob{pattern: p, prefix: p[:i]}
}

func (g glob) match(name string) bool {
	if !strings.HasPrefix(name, g.prefix) {
		return false
	}
	ok, _ := path.Match(g.pattern, name)
	return ok
}

// patRule is a rule with its patterns' indexes in a matcher.
type patRule struct {
	rule *rules.Rule
	pats []int
}

// New compiles the rule set once.
func New(rs *rules.Set, opts Options) (*Engine, error) {
	if rs == nil {
		return nil, fmt.Errorf("detect: no rule set")
	}
	e := &Engine{rs: rs, opts: opts, digests: map[string][]digestRef{}}
	var sigPats, markPats []rules.Pattern
	sigIdx, markIdx := map[string]int{}, map[string]int{}
	intern := func(pats *[]rules.Pattern, idx map[string]int, key string, p rules.Pattern) int {
		if i, ok := idx[key]; ok {
			return i
		}
		*pats = append(*pats, p)
		idx[key] = len(*pats) - 1
		return len(*pats) - 1
	}
	for _, r := range rs.Rules() {
		switch r.Kind() {
		case rules.KindDigest:
			for i, d := range r.Digests {
				e.digests[d.SHA256] = append(e.digests[d.SHA256], digestRef{rule: r, i: i})
			}
		case rules.KindSignature:
			pr := patRule{rule: r}
			for _, src := range r.Signature.Patterns {
				p, err := rules.ParsePattern(src)
				if err != nil {
					return nil, fmt.Errorf("detect: rule %s: %w", r.ID, err)
				}
				pr.pats = append(pr.pats, intern(&sigPats, sigIdx, string(p.Bytes)+"\x00"+fixedMask(p), p))
			}
			e.sigRules = append(e.sigRules, pr)
			switch r.Signature.Scope {
			case rules.ScopeAny:
				e.scopeAny = true
			case rules.ScopeELF:
				e.scopeELF = true
			}
		case rules.KindMarker:
			pr := patRule{rule: r}
			for _, s := range r.Marker.Strings {
				p := rules.Pattern{Source: s, Bytes: []byte(s), Fixed: make([]bool, len(s))}
				for i := range p.Fixed {
					p.Fixed[i] = true
				}
				pr.pats = append(pr.pats, intern(&markPats, markIdx, s, p))
			}
			e.markerRules = append(e.markerRules, pr)
			for _, g := range r.Marker.MarkerFiles() {
				e.markerGlobs = append(e.markerGlobs, newGlob(g))
			}
		case rules.KindPath:
			pr := pathRule{rule: r}
			for _, g := range r.Path {
				pr.globs = append(pr.globs, newGlob(g))
			}
			e.pathRules = append(e.pathRules, pr)
		case rules.KindPackage:
			e.pkgRules = append(e.pkgRules, r)
		case rules.KindImage:
			e.imageRules = append(e.imageRules, r)
		}
	}
	if len(sigPats) > 0 {
		e.sigs = newMatcher(sigPats)
	}
	if len(markPats) > 0 {
		e.markers = newMatcher(markPats)
	}
	return e, nil
}

func fixedMask(p rules.Pattern) string {
	var b strings.Builder
	for _, f := range p.Fixed {
		if f {
			b.WriteByte('x')
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Ruleset identifies the rules the engine runs.
func (e *Engine) Ruleset() rules.Info { return e.rs.Info() }

func (e *Engine) markerApplies(base string) bool {
	for _, g := range e.markerGlobs {
		if g.match(base) {
			return true
		}
	}
	return false
}

func (e *Engine) maxDB() int64 {
	if e.opts.MaxDBBytes > 0 {
		return e.opts.MaxDBBytes
	}
	return pkgdb.DefaultMaxBytes
}

// LayerResult is what one layer's scan found. It is plain data so that it
// can be cached on disk, keyed by layer digest and ruleset sha256.
type LayerResult struct {
	// Findings have Path, SHA256, Rule, Kind, Severity, Evidence and Message
	// set; Image, Layer, LayerDigest and Present are filled by Image.
	Findings []finding.Finding `json:"findings"`
	// Packages lists, for every package database file this layer wrote,
	// the packages in it, keyed by the file; and for every package store
	// folder it wrote into (a Homebrew keg, a Nix store path, a
	// /var/db/pkg entry), the package installed there, keyed by the folder.
	Packages map[string][]pkgdb.Package `json:"packages"`
	// Facts are what Image needs for context, e.g.
	// "elf-needed:/usr/sbin/sshd" -> its DT_NEEDED list.
	Facts map[string][]string `json:"facts"`
	// Errors are per-file problems (a broken nested package, an unreadable
	// database); never fatal.
	Errors []string `json:"errors"`
	// UnreadWAL are the package databases whose write-ahead log this
	// layer wrote without the database (which lies in a lower layer): an
	// image-level reader that has both reads them together.
	UnreadWAL []string `json:"unread_wal,omitempty"`
}

// LayerScan collects one layer's results. Sinks and Done are called on the
// walking goroutine; nested archives are parsed on goroutines of their own
// that each sink waits for in Done.
type LayerScan struct {
	e   *Engine
	res LayerResult
	// file, check and sinks serve one file after another, without an
	// allocation per file: a walk is done with a file's sinks before it
	// asks for the next file's (layer.Options.Sinks).
	file   fileSink
	check  check
	nested nestedSink
	sinks  [4]layer.Sink
	// nest is what the layer's nested archives have cost so far.
	nest layerNest
	// stage holds the rpm sqlite databases and write-ahead logs the layer
	// writes until Result reads them together (see stores.go).
	stage *pkgdb.Staging
}

// NewLayerScan starts the scan of one layer blob.
func (e *Engine) NewLayerScan() *LayerScan {
	return &LayerScan{e: e, res: LayerResult{Packages: map[string][]pkgdb.Package{}, Facts: map[string][]string{}}, nest: layerNest{budgetAt: -1}}
}

// Result returns what the scan found; call it after the walk. The result
// is a copy: a pointer into s would keep the whole scan, its 64 KiB file
// head among it, alive as long as the layer's results, which a registry
// of thousands of layers keeps to its report.
func (s *LayerScan) Result() *LayerResult {
	s.readStaged()
	s.finishNested()
	finding.Sort(s.res.Findings)
	res := s.res
	return &res
}

// Sinks returns the sinks that want ent's bytes: the digest check and the
// nested-archive sniffer always, the rest by name.
func (s *LayerScan) Sinks(ent *layer.Entry) []layer.Sink {
	if ent.Type != layer.File {
		return nil
	}
	base := path.Base(ent.Path)
	s.e.resetCheck(&s.check, base)
	s.file = fileSink{s: s, c: &s.check, base: base}
	sinks := append(s.sinks[:0], &s.file)
	sinks = s.storeSinks(ent, sinks)
	s.nested.reset(s, ent, base)
	sinks = append(sinks, &s.nested)
	if ent.Path == sshdPath {
		sinks = append(sinks, &elfFactsSink{s: s, path: ent.Path})
	}
	return sinks
}

func (s *LayerScan) errorf(format string, a ...any) {
	if len(s.res.Errors) < maxErrors {
		s.res.Errors = append(s.res.Errors, fmt.Sprintf(format, a...))
	}
}

// maxErrors bounds the per-layer error list a hostile layer could inflate.
const maxErrors = 1000

// maxFindingsPerLayer bounds what one layer can report.
const maxFindingsPerLayer = 10000

func (s *LayerScan) add(f finding.Finding) {
	if len(s.res.Findings) < maxFindingsPerLayer {
		s.res.Findings = append(s.res.Findings, f)
	}
}

// fileSink runs the digest, path, signature and marker detectors on one
// regular file.
type fileSink struct {
	s    *LayerScan
	c    *check
	base string
}

func (f *fileSink) Write(p []byte) (int, error) {
	if f.c.wanted() {
		f.c.Write(p)
	}
	return len(p), nil
}

func (f *fileSink) Done(e *layer.Entry, err error) {
	if err != nil {
		return // the walk reports the broken stream
	}
	hits := f.s.e.digestHits(e.SHA256)
	hits = append(hits, f.s.e.pathHits(f.base)...)
	hits = append(hits, f.c.finish(e.Size)...)
	for _, h := range hits {
		f.s.add(finding.Finding{
			Rule: h.rule.ID, Kind: h.kind, Severity: h.rule.Severity,
			Path: e.Path, SHA256: e.SHA256, Evidence: h.evidence, Message: h.message,
		})
	}
}
