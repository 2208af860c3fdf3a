package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// inputFlags are the flags every command that reads an archive shares.
type inputFlags struct {
	images          []string
	platform        string
	tmpDir          string
	limits          layer.Limits
	maxImageBytes   int64
	maxInputEntries int64
	maxDepth        int
	maxMember       int
	cacheDir        string
	memo            *scan.Memo // shared by every input of one command
}

func (f *inputFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.images, "image", nil, "only the image with this name, tag or (prefix of a) manifest or config digest; repeatable")
	fl.StringVar(&f.platform, "platform", "", "only images for this platform, as os/arch[/variant]")
	fl.StringVar(&f.tmpDir, "tmpdir", "", "for an input compressed as a whole: write one decompressed copy into this folder and read it in place (disk: its uncompressed size; faster for repeated reads of single files, as in extract and explore)")
	fl.IntVar(&f.limits.MaxEntries, "max-entries", layer.DefaultLimits.MaxEntries, "most tar entries read from one layer")
	fl.Int64Var(&f.limits.MaxBytes, "max-layer-bytes", layer.DefaultLimits.MaxBytes, "most uncompressed bytes read from one layer")
	fl.Int64Var(&f.maxImageBytes, "max-image-bytes", scan.DefaultMaxImageBytes, "most uncompressed bytes read for all of one image's layers")
	fl.Int64Var(&f.maxInputEntries, "max-input-entries", scan.DefaultMaxInputEntries, "most tar entries read from all the layers of one input")
	fl.IntVar(&f.limits.MaxPathLen, "max-path", layer.DefaultLimits.MaxPathLen, "longest entry name accepted, in bytes")
	fl.Float64Var(&f.limits.MaxRatio, "max-ratio", layer.DefaultLimits.MaxRatio, "highest decompression ratio accepted for a layer, or an input compressed as a whole (past 64 MiB)")
	fl.IntVar(&f.maxDepth, "max-index-depth", 8, "deepest nesting of OCI indexes followed")
	fl.IntVar(&f.maxMember, "max-members", 1_000_000, "most members indexed in an archive")
	fl.StringVar(&f.cacheDir, "cache", "", "keep layer results in this folder, keyed by layer digest and ruleset, so rescans of shared layers skip decompression (digests are still verified)")
}

func (f *inputFlags) options(eng *detect.Engine) scan.Options {
	o := scan.Options{
		Images:   f.images,
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
	if f.memo == nil {
		f.memo = scan.NewMemo(f.cacheDir)
	}
	o.Memo = f.memo
	return o
}

// open scans one input; an unusable input is exit code 2.
func (f *inputFlags) open(ctx context.Context, path string, eng *detect.Engine) (*scan.Result, error) {
	res, err := scan.Run(ctx, path, f.options(eng))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return res, nil
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
	if rep.OK {
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
