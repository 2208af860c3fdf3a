package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// inputFlags are the flags every command that reads an archive shares.
type inputFlags struct {
	images          []string
	containers      []string
	platform        string
	tmpDir          string
	limits          layer.Limits
	maxImageBytes   int64
	maxInputEntries int64
	maxDepth        int
	maxMember       int
	cacheDir        string
	cacheKey        string
	allRevisions    bool
	memo            *scan.Memo // shared by every input of one command

	build Build
	cmd   *cobra.Command
	now   func() time.Time // stamps cache entries; nil is time.Now
	notes notices          // rejected cache entries, on stderr
}

func (f *inputFlags) register(cmd *cobra.Command, b Build) {
	f.build, f.cmd = b, cmd
	fl := cmd.Flags()
	fl.StringArrayVar(&f.images, "image", nil, "only the image with this name, tag or (prefix of a) manifest or config digest; repeatable")
	fl.StringArrayVar(&f.containers, "container", nil, "only the container with this name or (prefix of its) ID, of an engine's storage; repeatable")
	fl.StringVar(&f.platform, "platform", "", "only images for this platform, as os/arch[/variant]")
	fl.StringVar(&f.tmpDir, "tmpdir", "", "for an input compressed as a whole: write one decompressed copy into this folder and read it in place (disk: its uncompressed size; faster for repeated reads of single files, as in extract and explore)")
	fl.IntVar(&f.limits.MaxEntries, "max-entries", layer.DefaultLimits.MaxEntries, "most tar entries read from one layer")
	fl.Int64Var(&f.limits.MaxBytes, "max-layer-bytes", layer.DefaultLimits.MaxBytes, "most uncompressed bytes read from one layer")
	fl.Int64Var(&f.maxImageBytes, "max-image-bytes", scan.DefaultMaxImageBytes, "most uncompressed bytes read for all of one image's layers")
	fl.Int64Var(&f.maxInputEntries, "max-input-entries", scan.DefaultMaxInputEntries, "most tar entries held from the layers of one input (for a storage of many images, those of the layers images are still to be built on; else every one read)")
	fl.IntVar(&f.limits.MaxPathLen, "max-path", layer.DefaultLimits.MaxPathLen, "longest entry name accepted, in bytes")
	fl.Float64Var(&f.limits.MaxRatio, "max-ratio", layer.DefaultLimits.MaxRatio, "highest decompression ratio accepted for a layer, an input compressed as a whole, or an archive nested in a layer (past 64 MiB)")
	fl.IntVar(&f.maxDepth, "max-index-depth", 8, "deepest nesting of OCI indexes followed")
	fl.IntVar(&f.maxMember, "max-members", 1_000_000, "most members indexed in an archive")
	fl.BoolVar(&f.allRevisions, "all-revisions", false, "for a registry's storage: every manifest it holds is an image, not only each tag's current one (each tag's earlier targets, named \"REPO:TAG (earlier)\", and untagged revisions, named REPO@DIGEST)")
	fl.StringVar(&f.cacheDir, "cache", "", "keep layer results in this `DIR`, keyed by layer digest and ruleset and authenticated with a key kept outside it, so rescans of shared layers skip decompression (digests are still verified)")
	fl.StringVar(&f.cacheKey, "cache-key", "", "authenticate the --cache entries with the key in `FILE` (at least 32 bytes, mode 0600, not a link; shards share one), instead of the key created in the user's configuration folder")
}

func (f *inputFlags) options(eng *detect.Engine) (scan.Options, error) {
	o := scan.Options{
		Images:   append(slices.Clone(f.images), f.containers...),
		Platform: f.platform,
		Limits:   f.limits,
		Engine:   eng,
	}
	o.MaxImageBytes = f.maxImageBytes
	o.MaxInputEntries = f.maxInputEntries
	o.Archive.TmpDir = f.tmpDir
	o.Archive.MaxMembers = f.maxMember
	o.Archive.MaxRatio = f.limits.MaxRatio
	o.Image.MaxIndexDepth = f.maxDepth
	o.AllRevisions = f.allRevisions
	if f.memo == nil {
		m, err := f.openMemo()
		if err != nil {
			return o, &exitError{code: exitUsage, err: err}
		}
		f.memo = m
	}
	o.Memo = f.memo
	return o, nil
}

// openMemo opens the memo every input of the command shares: with --cache,
// over the folder, its entries authenticated with the --cache-key key or
// the one kept in the user's configuration folder (created on first use).
func (f *inputFlags) openMemo() (*scan.Memo, error) {
	if f.cacheDir == "" {
		if f.cacheKey != "" {
			return nil, errors.New("--cache-key: only with --cache DIR")
		}
		return scan.NewMemo(""), nil
	}
	var key *layercache.Key
	var err error
	if f.cacheKey != "" {
		key, err = layercache.LoadKey(f.cacheKey)
	} else {
		var p string
		if p, err = layercache.DefaultKeyPath(); err == nil {
			key, err = layercache.LoadOrCreateKey(p)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("--cache %s: %w", f.cacheDir, err)
	}
	f.notes.w = f.cmd.ErrOrStderr()
	m, err := scan.OpenMemo(layercache.Config{Dir: f.cacheDir, Key: key, ToolVersion: toolVersion(f.build), Now: f.now, Rejected: f.notes.rejected})
	if err != nil {
		return nil, fmt.Errorf("--cache %s: %w", f.cacheDir, err)
	}
	return m, nil
}

// toolVersion names the build in cache entries: its version, and its
// commit when known, so that two development builds do not take each
// other's results.
func toolVersion(b Build) string {
	if b.Commit == "" || b.Commit == "unknown" {
		return b.Version
	}
	return b.Version + " (" + b.Commit + ")"
}

// notices writes what the cache rejected on stderr as it happens: above
// the progress line when one is drawn, or, while a full-screen program
// owns the terminal (held), once it is done.
type notices struct {
	mu    sync.Mutex
	w     io.Writer
	prog  *progress // set while a progress line is drawn
	held  bool
	lines []string
}

// rejected is layercache.Config.Rejected.
func (n *notices) rejected(r layercache.Rejection) {
	if r.Kind == layercache.KindVerified {
		// No results hang on a verification record: only the read it
		// would have saved is done.
		n.say("strata: cache: rejected the record of " + printable.String(r.String()) + "; the blob is read and hashed again")
		return
	}
	n.say("strata: cache: rejected the entry of " + printable.String(r.String()) + "; its results are computed again")
}

func (n *notices) say(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.held:
		n.lines = append(n.lines, line)
	case n.prog != nil:
		n.prog.note(line)
	case n.w != nil:
		fmt.Fprintln(n.w, line)
	}
}

// hold keeps the lines until release writes them.
func (n *notices) hold() {
	n.mu.Lock()
	n.held = true
	n.mu.Unlock()
}

func (n *notices) release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.held = false
	for _, l := range n.lines {
		if n.w != nil {
			fmt.Fprintln(n.w, l)
		}
	}
	n.lines = nil
}

// drawOver makes the lines go above the progress line p (nil: straight to
// stderr).
func (n *notices) drawOver(p *progress) {
	n.mu.Lock()
	n.prog = p
	n.mu.Unlock()
}

// open scans one input; an unusable input is exit code 2.
func (f *inputFlags) open(ctx context.Context, path string, eng *detect.Engine) (*scan.Result, error) {
	opts, err := f.options(eng)
	if err != nil {
		return nil, err
	}
	if note := otherStorage(path); note != "" && f.cmd != nil {
		fmt.Fprintln(f.cmd.ErrOrStderr(), note)
	}
	res, err := scan.Run(ctx, path, opts)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return res, nil
}

// otherStorage says, for a command that reads one input, where the
// storages it does not read are when path is an evidence root holding an
// engine's storage and registries' (scan.Inputs): it reads the engines'.
func otherStorage(path string) string {
	parts := scan.Inputs(path)
	switch len(parts) {
	case 0, 1:
		return ""
	case 2:
		return fmt.Sprintf("strata: %s: read as the engines' storage it holds; a registry's storage below it is read when its folder is given: %s (scan reads both)",
			printable.String(path), printable.String(parts[1]))
	}
	dirs := make([]string, len(parts)-1)
	for i, p := range parts[1:] {
		dirs[i] = printable.String(p)
	}
	return fmt.Sprintf("strata: %s: read as the engines' storage it holds; the registries' storages below it are read when their folders are given: %s (scan reads them all)",
		printable.String(path), strings.Join(dirs, ", "))
}

// verdictCode is exit code 1 when the result has integrity problems.
func verdictCode(res *scan.Result) error {
	if !res.Integrity().OK {
		return &exitError{code: exitFindings}
	}
	return nil
}

// openImage scans one input and picks the single image a path-oriented
// command works on; the caller closes the result.
func (f *inputFlags) openImage(ctx context.Context, path string) (*scan.Result, *scan.ImageResult, error) {
	res, err := f.open(ctx, path, nil)
	if err != nil {
		return nil, nil, err
	}
	ir, err := pickImage(res)
	if err != nil {
		res.Close()
		return nil, nil, err
	}
	return res, ir, nil
}

// checkLayer rejects a --layer the image does not have.
func checkLayer(ir *scan.ImageResult, n int) error {
	if n < 0 || n >= len(ir.Layers) {
		return &exitError{code: exitUsage, err: fmt.Errorf("--layer %d: the image has layers 0-%d", n, len(ir.Layers)-1)}
	}
	return nil
}

// pickImage returns the single image a path-oriented command works on.
func pickImage(res *scan.Result) (*scan.ImageResult, error) {
	switch len(res.Images) {
	case 0:
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: no image found", res.Input.Path)}
	case 1:
		return res.Images[0], nil
	}
	var names []string
	for _, ir := range res.Images {
		names = append(names, "  "+ir.Image.Ref()+" ("+ir.Image.Platform+")")
	}
	return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s holds %d images; choose one with --image or --platform:\n%s",
		res.Input.Path, len(res.Images), strings.Join(names, "\n"))}
}

func shortDigest(d fmt.Stringer) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 12 {
		s = s[:12]
	}
	if s == "" {
		return "-"
	}
	return s
}

// problemsText prints the integrity verdict for humans: the verdict with
// what the input carries, the problems, then what is absent by design,
// unreferenced or noted, each on its own line.
func problemsText(w io.Writer, res *scan.Result) {
	rep := res.Integrity()
	words := report.NewInspection(res).Coverage.Words()
	if words != "" {
		words = " — " + words
	}
	if rep.OK && unverifiable(rep) {
		fmt.Fprintf(w, "integrity: ok (nothing carried a digest to verify)%s\n", printable.String(words))
	} else if rep.OK {
		fmt.Fprintf(w, "integrity: ok (every blob carried matches its digest)%s\n", printable.String(words))
	} else {
		fmt.Fprintf(w, "integrity: FAILED (%s)%s\n", plural(len(rep.Problems), "problem"), printable.String(words))
	}
	for _, p := range rep.Records() {
		label := string(p.Kind)
		if class := p.Class(); class != "problem" {
			label = class + " (" + p.Qualifier() + ")"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", printable.String(label), printable.String(p.Blob), printable.String(p.Detail))
	}
}

func stdout(cmd *cobra.Command) io.Writer {
	if w := cmd.OutOrStdout(); w != nil {
		return w
	}
	return os.Stdout
}

// plural is "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// unverifiable reports whether the input carried nothing to verify (a
// docker export, a root-filesystem folder).
func unverifiable(r integrity.Report) bool {
	for _, p := range r.Notes {
		if p.Kind == integrity.Unverifiable && p.Reason == integrity.NoLayerHistory {
			return true
		}
	}
	return false
}
