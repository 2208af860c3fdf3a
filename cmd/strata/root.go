package main

import (
	"github.com/spf13/cobra"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
	date    = ""
)

func newRootCmd() *cobra.Command {
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
	for _, add := range commands {
		root.AddCommand(add())
	}
	return root
}

// commands lists constructors of subcommands; each command's file adds
// itself in an init function, so commands stay in files of their own.
var commands []func() *cobra.Command
