package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
)

func newInspectCmd(b Build) *cobra.Command {
	var in inputFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [flags] ARCHIVE",
		Short: "Describe every image in an archive and verify every blob",
		Long: `inspect opens an archive, lists every image (names, platform, manifest and
config digests) with its layers bottom-up, and checks every blob against its
digest and every layer against the config's diff_ids.`,
		Example: `  strata inspect debian-sid.tar
  strata inspect --json --platform linux/arm64 image-index.oci/
  docker save app:1 | gzip > app.tar.gz && strata inspect app.tar.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := in.open(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			defer res.Close()
			w := stdout(cmd)
			if asJSON {
				if err := report.InspectJSON(w, res); err != nil {
					return err
				}
				return verdictCode(res)
			}
			fmt.Fprintf(w, "input: %s\n  format: %s", printable.String(res.Input.Path), res.Input.Format)
			if res.Input.Compression != "" {
				fmt.Fprintf(w, " (compressed as a whole: %s)", res.Input.Compression)
			}
			fmt.Fprintf(w, "\n  sha256: %s\n  size: %d bytes\n", res.Input.SHA256, res.Input.Size)
			for _, ir := range res.Images {
				img := ir.Image
				if c := img.Container; c != nil {
					// A container of an engine's storage, as its records
					// describe it (trusted only).
					fmt.Fprintf(w, "\nimage: %s\n  container: %s (%s, %s)\n  image: %s\n", printable.String(img.Ref()), c.ID, printable.String(c.Engine), printable.String(c.State), printable.String(c.Image))
					if c.Created != nil {
						fmt.Fprintf(w, "  container created: %s\n", c.Created.UTC().Format(time.RFC3339))
					}
					if len(c.Command) > 0 {
						fmt.Fprintf(w, "  command: %q\n", c.Command)
					}
				} else if len(img.Names) > 0 {
					fmt.Fprintf(w, "\nimage: %s\n", printable.String(strings.Join(img.Names, ", ")))
				} else {
					// Untagged: named as every other command names it,
					// by its manifest's digest, else its config's.
					fmt.Fprintf(w, "\nimage: %s\n  (untagged)\n", printable.String(img.Ref()))
				}
				fmt.Fprintf(w, "  platform: %s\n  manifest: %s\n  config: %s\n", printable.String(img.Platform), orDash(img.ManifestDigest.String()), img.ConfigDigest)
				if img.Created != nil {
					fmt.Fprintf(w, "  created: %s\n", img.Created.UTC().Format(time.RFC3339))
				}
				if len(img.Entrypoint) > 0 {
					fmt.Fprintf(w, "  entrypoint: %q\n", img.Entrypoint)
				}
				if len(img.Cmd) > 0 {
					fmt.Fprintf(w, "  cmd: %q\n", img.Cmd)
				}
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "  #\tDIGEST\tDIFF_ID\tMEDIA TYPE\tSIZE\tUNCOMPRESSED\tENTRIES\tCREATED BY")
				for i, l := range img.Layers {
					var usize int64
					var entries int
					if i < len(ir.Layers) && ir.Layers[i] != nil && ir.Layers[i].Summary != nil {
						usize, entries = ir.Layers[i].Summary.UncompressedSize, len(ir.Layers[i].Summary.Entries)
					}
					mt := l.MediaType
					switch {
					case l.Absent:
						mt += " (absent)"
					case l.Opaque:
						mt += " (not a filesystem)"
					}
					idx := fmt.Sprint(l.Index)
					if l.Writable {
						idx = "rw"
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", idx, shortDigest(ir.LayerDigest(i)), shortDigest(l.DiffID), orDash(printable.String(mt)),
						l.Size, usize, entries, shorten(l.CreatedBy, 60))
				}
				tw.Flush()
				attachmentsText(w, img)
			}
			fmt.Fprintln(w)
			problemsText(w, res)
			return verdictCode(res)
		},
	}
	in.register(cmd, b)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (see docs/commands.md, strata inspect)")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shorten cuts s to n runes for a table cell, on one line.
// shorten makes a build command one printable line of at most n runes.
func shorten(s string, n int) string {
	s = printable.String(strings.Join(strings.Fields(s), " "))
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// attachmentsText lists an image's attestations, signatures and other
// artifacts, with what SLSA provenance says of the build.
func attachmentsText(w io.Writer, img *image.Image) {
	if len(img.Attachments) == 0 {
		return
	}
	fmt.Fprintln(w, "  attachments:")
	for _, a := range img.Attachments {
		carried := "carried, not unpacked"
		if !a.Carried {
			carried = "not carried"
		}
		fmt.Fprintf(w, "    %s  %s  %s (%s)\n", a.Kind, shortDigest(a.Digest), printable.String(orDash(a.ArtifactType)), carried)
		if p := a.Provenance; p != nil {
			fmt.Fprintf(w, "      provenance: builder %s, source %s\n", printable.String(orDash(p.Builder)), printable.String(orDash(p.Source)))
		}
	}
}
