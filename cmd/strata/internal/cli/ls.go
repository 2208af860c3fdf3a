package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/forensics/tree"
)

// lsRecord is one line of `ls --json` (JSON Lines). Field names are part of
// the documented interface: later versions may add fields, never rename.
type lsRecord struct {
	Image      string `json:"image"`
	Path       string `json:"path"`
	Type       string `json:"type"`
	Mode       string `json:"mode"`
	UID        int    `json:"uid"`
	GID        int    `json:"gid"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	Link       string `json:"link"`
	Introduced int    `json:"introduced"`
	Modified   int    `json:"modified"`
	Deleted    *int   `json:"deleted"`
	Present    bool   `json:"present"`
	// With --layer or --all-layers: what that layer did.
	Layer *int   `json:"layer,omitempty"`
	Op    string `json:"op,omitempty"`
}

// modeString prints permissions as four octal digits, special bits first.
func modeString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

func record(img string, n *tree.Node, e *layer.Entry) lsRecord {
	r := lsRecord{Image: img, Path: n.Path(), Introduced: n.Introduced(), Modified: n.Modified(), Present: n.Present()}
	if d := n.Deleted(); d >= 0 {
		r.Deleted = &d
	}
	if e != nil {
		r.Type, r.Mode, r.UID, r.GID, r.Size, r.SHA256, r.Link = e.Type.String(), modeString(e.Mode), e.UID, e.GID, e.Size, e.SHA256, e.Link
	}
	return r
}

func newLsCmd(b Build) *cobra.Command {
	var in inputFlags
	var asJSON, deleted, allLayers bool
	var layerN int
	cmd := &cobra.Command{
		Use:   "ls [flags] ARCHIVE [PATH]",
		Short: "List the merged filesystem with the layer that introduced each path",
		Long: `ls prints the image's final filesystem: mode, owner, size, the layer that
introduced each entry and the last layer that changed it. --layer N shows
what that layer's own tar did (add, modify, delete, opaque); --deleted lists
content that ships in the archive but is absent from the final filesystem.`,
		Example: `  strata ls image.tar /usr/lib
  strata ls --layer 1 image.tar
  strata ls --deleted --json image.tar | jq .path`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := "/"
			if len(args) == 2 {
				prefix = args[1]
			}
			res, ir, err := in.openImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer res.Close()
			w := stdout(cmd)
			var recs []lsRecord
			switch {
			case cmd.Flags().Changed("layer"):
				if err := checkLayer(ir, layerN); err != nil {
					return err
				}
				recs = layerRecords(ir, layerN, prefix)
			case allLayers:
				for i := range ir.Layers {
					recs = append(recs, layerRecords(ir, i, prefix)...)
				}
			default:
				ir.Tree.Walk(prefix, func(n *tree.Node) bool {
					if n.Present() != deleted {
						recs = append(recs, record(ir.Image.Ref(), n, n.Last()))
					}
					return true
				})
			}
			if len(recs) == 0 && len(args) == 2 && !cmd.Flags().Changed("layer") && !allLayers {
				// An empty listing would not say whether PATH is absent
				// or only on the other side of --deleted.
				p := cleanAbs(prefix)
				n := ir.Tree.Node(p)
				switch {
				case n == nil:
					return fmt.Errorf("%s: no such path in any layer", p)
				case deleted:
					fmt.Fprintf(cmd.ErrOrStderr(), "strata: %s is in the final filesystem; drop --deleted to list it\n", p)
				case n.Deleted() >= 0:
					fmt.Fprintf(cmd.ErrOrStderr(), "strata: %s is not in the final filesystem (deleted or replaced by layer %d); --deleted lists it\n", p, n.Deleted())
				default:
					fmt.Fprintf(cmd.ErrOrStderr(), "strata: %s is not in the final filesystem; --deleted lists it\n", p)
				}
			}
			if asJSON {
				enc := json.NewEncoder(w)
				for _, r := range recs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
			} else {
				lsText(w, recs)
			}
			return verdictCode(res)
		},
	}
	in.register(cmd, b)
	fl := cmd.Flags()
	fl.BoolVar(&asJSON, "json", false, "print JSON Lines, one object per path")
	fl.BoolVar(&deleted, "deleted", false, "list paths absent from the final filesystem (deleted or replaced) instead")
	fl.IntVar(&layerN, "layer", 0, "show what layer N's own tar did")
	fl.BoolVar(&allLayers, "all-layers", false, "show what every layer did, bottom-up")
	return cmd
}

func layerRecords(ir *scan.ImageResult, idx int, prefix string) []lsRecord {
	var out []lsRecord
	for _, pc := range ir.Tree.Changes(idx) {
		if !underPrefix(pc.Node.Path(), prefix) {
			continue
		}
		e := pc.Change.Entry
		if e == nil {
			e = pc.Before() // a delete: show what was deleted
		}
		r := record(ir.Image.Ref(), pc.Node, e)
		l := idx
		r.Layer, r.Op = &l, pc.Change.Op.String()
		out = append(out, r)
	}
	return out
}

func underPrefix(p, prefix string) bool {
	prefix = cleanAbs(prefix)
	return prefix == "/" || p == prefix || len(p) > len(prefix) && p[:len(prefix)] == prefix && p[len(prefix)] == '/'
}

func lsText(w io.Writer, recs []lsRecord) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	for _, r := range recs {
		op := ""
		if r.Op != "" {
			op = fmt.Sprintf("%-6s ", r.Op)
		}
		state := fmt.Sprintf("L%d", r.Introduced)
		if r.Modified != r.Introduced {
			state += fmt.Sprintf(">L%d", r.Modified)
		}
		if r.Deleted != nil {
			state += fmt.Sprintf(" del@L%d", *r.Deleted)
		}
		name := printable.String(r.Path)
		if r.Type == "symlink" {
			name += " -> " + printable.String(r.Link)
		} else if r.Type == "hardlink" {
			name += " link to " + printable.String(r.Link)
		} else if r.Type == "dir" {
			name += "/"
		}
		fmt.Fprintf(tw, "%s%s %s\t%d:%d\t%d\t %s\t\t %s\n", op, typeChar(r.Type), r.Mode, r.UID, r.GID, r.Size, state, name)
	}
	tw.Flush()
}

func typeChar(t string) string {
	switch t {
	case "dir":
		return "d"
	case "symlink":
		return "l"
	case "hardlink":
		return "h"
	case "char":
		return "c"
	case "block":
		return "b"
	case "fifo":
		return "p"
	case "":
		return "?"
	}
	return "-"
}
