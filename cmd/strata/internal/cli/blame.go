package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/forensics/tree"
)

// blameRecord is a path's history; part of the documented JSON.
type blameRecord struct {
	Image      string        `json:"image"`
	Path       string        `json:"path"`
	History    []blameChange `json:"history"`
	Introduced *blameLayer   `json:"introduced"`
	Modified   *blameLayer   `json:"modified"`
	Deleted    *blameLayer   `json:"deleted"`
	Present    bool          `json:"present"`
	Found      bool          `json:"found"`
}

type blameLayer struct {
	Index  int    `json:"index"`
	Digest string `json:"digest"`
}

type blameChange struct {
	Layer     int    `json:"layer"`
	Digest    string `json:"layer_digest"`
	Op        string `json:"op"`
	Type      string `json:"type,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Size      int64  `json:"size"`
	Mode      string `json:"mode,omitempty"`
	Link      string `json:"link,omitempty"`
	Implied   bool   `json:"implied,omitempty"`
	Cause     string `json:"cause,omitempty"`
	CreatedBy string `json:"created_by"`
}

func newBlameCmd(b Build) *cobra.Command {
	var in inputFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "blame [flags] ARCHIVE PATH...",
		Short: "Show a path's history across layers: who added, changed and deleted it",
		Example: `  strata blame image.tar /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1
  strata blame --json image.tar /etc/passwd /tmp/payload`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, ir, err := in.openImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer res.Close()
			w := stdout(cmd)
			var missing []string
			for _, p := range args[1:] {
				rec := blame(ir, p)
				if !rec.Found {
					missing = append(missing, rec.Path)
				}
				if asJSON {
					if err := json.NewEncoder(w).Encode(rec); err != nil {
						return err
					}
					continue
				}
				blameText(w, rec)
			}
			if len(missing) > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("never seen in any layer: %v", missing)}
			}
			return verdictCode(res)
		},
	}
	in.register(cmd, b)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per path")
	return cmd
}

func cleanAbs(p string) string { return path.Clean("/" + p) }

func blame(ir *scan.ImageResult, p string) blameRecord {
	p = cleanAbs(p)
	rec := blameRecord{Image: ir.Image.Ref(), Path: p, History: []blameChange{}}
	n := ir.Tree.Node(p)
	if n == nil {
		return rec
	}
	rec.Found, rec.Present = true, n.Present()
	at := func(i int) *blameLayer {
		if i < 0 || i >= len(ir.Image.Layers) {
			return nil
		}
		return &blameLayer{Index: i, Digest: ir.LayerDigest(i).String()}
	}
	rec.Introduced, rec.Modified, rec.Deleted = at(n.Introduced()), at(n.Modified()), at(n.Deleted())
	for _, c := range n.History {
		bc := blameChange{Layer: c.Layer, Op: c.Op.String(), Implied: c.Implied, Cause: c.Cause.String()}
		if c.Layer < len(ir.Image.Layers) {
			l := ir.Image.Layers[c.Layer]
			bc.Digest, bc.CreatedBy = ir.LayerDigest(c.Layer).String(), l.CreatedBy
		}
		if e := c.Entry; e != nil {
			bc.Type, bc.SHA256, bc.Size, bc.Mode, bc.Link = e.Type.String(), e.SHA256, e.Size, modeString(e.Mode), e.Link
		}
		rec.History = append(rec.History, bc)
	}
	return rec
}

func blameText(w io.Writer, rec blameRecord) {
	fmt.Fprintf(w, "%s  (%s)\n", printable.String(rec.Path), printable.String(rec.Image))
	if !rec.Found {
		fmt.Fprintln(w, "  never seen in any layer")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range rec.History {
		if c.Op == tree.Same.String() {
			continue
		}
		what := c.Type
		if c.Implied {
			what = "dir (implied by a path below it)"
		}
		if c.Cause != "" {
			what = c.Cause
		}
		sum := c.SHA256
		if len(sum) > 16 {
			sum = sum[:16]
		}
		fmt.Fprintf(tw, "  L%d %s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Layer, shortHex(c.Digest), c.Op, what, c.Mode, c.Size, orDash(sum), shorten(c.CreatedBy, 50))
	}
	tw.Flush()
	line := "  → introduced by layer " + layerRef(rec.Introduced)
	if rec.Modified != nil && rec.Introduced != nil && rec.Modified.Index != rec.Introduced.Index {
		line += ", last changed by layer " + layerRef(rec.Modified)
	}
	if rec.Deleted != nil {
		line += ", deleted by layer " + layerRef(rec.Deleted)
	} else if rec.Present {
		line += ", present"
	}
	fmt.Fprintln(w, line)
}

func layerRef(l *blameLayer) string {
	if l == nil {
		return "?"
	}
	return fmt.Sprintf("%d (%s)", l.Index, shortHex(l.Digest))
}

func shortHex(d string) string {
	if i := len("sha256:"); len(d) > i && d[:i] == "sha256:" {
		d = d[i:]
	}
	if len(d) > 12 {
		d = d[:12]
	}
	return orDash(d)
}
