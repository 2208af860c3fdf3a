package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/extract"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/styles"
)

type exploreFlags struct {
	in          inputFlags
	detectFlags // --rules, --deep
}

func newExploreCmd(b Build) *cobra.Command {
	var f exploreFlags
	cmd := &cobra.Command{
		Use:     "explore [flags] ARCHIVE",
		Aliases: []string{"tui"},
		Short:   "Explore an image interactively: layers, merged tree, findings, history, content",
		Long: `explore opens ARCHIVE in a terminal UI: its layers bottom-up, the merged
filesystem as it stands after the selected layer (or only what that layer
changed), every finding (Enter jumps to the file and the layer that brought
it), each path's whole history across layers, and a read-only viewer that
streams a file's bytes from its layer blob (text, hex, or a diff between two
layers). Press ? for every key.

The archive is read and verified in the background while the UI shows
progress. Nothing from the image is executed or written unless you ask to
extract a file (x), which takes the same safe path as strata extract.
NO_COLOR gives a monochrome view.`,
		Example: `  strata explore image.tar
  strata tui --image example/xz:5.6.1 --platform linux/amd64 image.oci.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExplore(cmd, &f, args[0]) },
	}
	f.in.register(cmd, b)
	f.detectFlags.register(cmd, "search every ELF file for the byte signatures, not only liblzma (slower)")
	return cmd
}

func runExplore(cmd *cobra.Command, f *exploreFlags, input string) error {
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return &exitError{code: exitUsage, err: errors.New("explore needs a terminal; use strata scan or strata ls for scripts")}
	}
	_, eng, err := f.detectFlags.load()
	if err != nil {
		return err
	}
	st := styles.Mono()
	if _, set := os.LookupEnv("NO_COLOR"); !set {
		st = styles.New(lipgloss.HasDarkBackground(os.Stdin, os.Stdout))
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	var res *scan.Result
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		opts, err := f.in.options(eng)
		if err != nil {
			return nil, err
		}
		opts.Progress = func(p scan.Progress) {
			progress(app.Progress{LayersDone: p.LayersDone, Layers: p.Layers, Bytes: p.Bytes, TotalBytes: p.TotalBytes, Indexing: p.Indexing})
		}
		r, err := scan.Run(ctx, input, opts)
		if err != nil {
			return nil, err
		}
		res = r
		return session(r), nil
	}
	m := app.New(ctx, load, app.Options{Styles: st, Keys: keys.Default()})
	// The explorer owns the screen: what the cache rejected is said
	// once it is left.
	f.in.notes.hold()
	defer f.in.notes.release()
	_, err = tea.NewProgram(m, tea.WithContext(ctx)).Run()
	cancel()
	if res != nil {
		res.Close()
	}
	if note := otherStorage(input); note != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), note)
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("explore: %w", err)
	}
	return nil
}

// session adapts a scan result to what the explorer shows. File bytes
// come from the input's layer blobs through scan.Content, valid until r is
// closed.
func session(r *scan.Result) *app.Session {
	s := &app.Session{Input: r.Input.Path, Problems: r.Problems, Coverage: report.NewInspection(r).Coverage}
	for _, ir := range r.Images {
		content := r.Content(ir)
		img := app.Image{
			Image:    ir.Image,
			Tree:     ir.Tree,
			Findings: ir.Findings,
			Content:  content,
			Extract:  extractor{ir.Tree, content},
		}
		for i, lr := range ir.Layers {
			img.LayerProblems = append(img.LayerProblems, ir.LayerIntegrity(i))
			f := layers.Facts{Digest: ir.LayerDigest(i)}
			if lr != nil && lr.Summary != nil {
				f.UncompressedSize, f.Entries = lr.Summary.UncompressedSize, len(lr.Summary.Entries)
			}
			img.Layers = append(img.Layers, f)
		}
		s.Images = append(s.Images, img)
	}
	return s
}

// extractor writes a file out through extract.File, never overwriting.
type extractor struct {
	tree    *tree.Tree
	content scan.Content
}

func (x extractor) Extract(ctx context.Context, p string, layerIdx int, destDir string) (string, string, error) {
	return extract.File(ctx, x.tree, x.content, p, layerIdx, destDir, false)
}
