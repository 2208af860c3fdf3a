package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/rules"
)

// versionInfo is `strata version --json`.
type versionInfo struct {
	Version   string      `json:"version"`
	Commit    string      `json:"commit"`
	Date      string      `json:"date"`
	GoVersion string      `json:"go_version"`
	Platform  string      `json:"platform"`
	Ruleset   *rules.Info `json:"ruleset,omitempty"`
}

func newVersionCmd(b Build) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and embedded ruleset",
		Example: "  strata version\n  strata version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := versionInfo{Version: b.Version, Commit: b.Commit, Date: b.Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if rs, err := rules.Builtin(); err == nil {
				info := rs.Info()
				v.Ruleset = &info
			}
			w := stdout(cmd)
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			fmt.Fprintf(w, "strata %s (commit %s", v.Version, v.Commit)
			if v.Date != "" {
				fmt.Fprintf(w, ", %s", v.Date)
			}
			fmt.Fprintf(w, ") %s %s\n", v.GoVersion, v.Platform)
			if v.Ruleset != nil {
				fmt.Fprintf(w, "ruleset %s: %d rules, sha256 %s\n", v.Ruleset.Version, v.Ruleset.Rules, v.Ruleset.SHA256)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
