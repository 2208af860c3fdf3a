package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/extract"
	"github.com/strata-forensics/strata/forensics/printable"
)

func newExtractCmd(b Build) *cobra.Command {
	var in inputFlags
	var dest string
	var layerN int
	var force bool
	cmd := &cobra.Command{
		Use:   "extract [flags] ARCHIVE PATH -o DEST",
		Short: "Write a file's bytes, as they stand after a layer, into a folder",
		Long: `extract writes the regular file at PATH, as it stands after layer N (default:
the final filesystem), to DEST/PATH and prints its sha256. Deleted and
overwritten versions are reached with --layer. Symlinks are resolved inside
the image only; nothing is ever written outside DEST, and an existing file is
never overwritten without --force. Written files are never executable.`,
		Example: `  strata extract image.tar /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 -o evidence/
  strata extract --layer 1 image.tar /tmp/xz-5.6.1.tar.gz -o evidence/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dest == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("-o DEST is required")}
			}
			res, ir, err := in.openImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer res.Close()
			idx := -1
			if cmd.Flags().Changed("layer") {
				if err := checkLayer(ir, layerN); err != nil {
					return err
				}
				idx = layerN
			}
			written, sum, err := extract.File(cmd.Context(), ir.Tree, res.Content(ir), args[1], idx, dest, force)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(stdout(cmd), "%s  %s\n", sum, printable.String(written))
			return verdictCode(res)
		},
	}
	in.register(cmd, b)
	cmd.Flags().StringVarP(&dest, "output", "o", "", "folder to write into (created if missing)")
	cmd.Flags().IntVar(&layerN, "layer", -1, "take the file as it stands after layer N")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}
