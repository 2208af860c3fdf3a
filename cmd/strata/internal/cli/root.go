package cli

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build names the build that runs: what `strata version` prints and what
// a report records as the tool that wrote it.
type Build struct {
	Version string // "dev" when unknown
	Commit  string // "unknown" when unknown
	Date    string // RFC 3339, or empty
}

// Stamp is the Build of this binary: version, commit and date as the
// linker set them in package main (see the Makefile), with what it left
// at "dev", "unknown" and "" filled in from the build's own record.
func Stamp(version, commit, date string) Build {
	v, c, d := stamp(version, commit, date, debug.ReadBuildInfo)
	return Build{Version: v, Commit: c, Date: d}
}

// stamp fills in what the linker did not set, so that a report names the
// build that wrote it however strata was built: `go install …@v1.2.0`
// records the module version, and `go build` in a git checkout records
// the commit, its time and whether the tree had uncommitted changes.
func stamp(v, c, d string, read func() (*debug.BuildInfo, bool)) (string, string, string) {
	bi, ok := read()
	if !ok || bi == nil {
		return v, c, d
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if c == "unknown" && rev != "" {
		c = rev[:min(12, len(rev))]
		if dirty {
			c += "-dirty"
		}
		if d == "" {
			d = at
		}
	}
	return v, c, d
}

// NewRootCmd is the whole command tree of build b, ready to execute or to
// render as man pages and completions.
func NewRootCmd(b Build) *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Offline forensics for container image archives",
		Long: `strata opens container image archives offline (docker save tarballs, OCI
image layouts, OCI archives, optionally gzip/xz/zstd/bzip2 compressed as a
whole), verifies every blob against its digest, rebuilds each layer's
filesystem with provenance and finds CVE-2024-3094 (xz backdoor) artefacts.

Exit codes: 0 read and verified with nothing found; 1 integrity problems or
findings; 2 unusable input or usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// In the order of a case: read and verify, browse, trace, take out,
	// scan, explore; then the rules and the build. --help lists them
	// alphabetically.
	root.AddCommand(
		newInspectCmd(b),
		newLsCmd(b),
		newBlameCmd(b),
		newExtractCmd(b),
		newScanCmd(b),
		newExploreCmd(b),
		newRulesCmd(),
		newVersionCmd(b),
	)
	return root
}
