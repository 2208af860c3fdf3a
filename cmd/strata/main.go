// Command strata is an offline forensics tool for container images: it
// opens docker save tarballs, OCI layouts and OCI archives, verifies every
// blob, rebuilds every layer with provenance, and finds CVE-2024-3094
// artefacts. It never opens a network connection and never executes
// anything from an image.
//
// The commands live in package cli (cmd/strata/internal/cli); this is the
// binary around them.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/strata-forensics/strata/cmd/strata/internal/cli"
)

// Set by the linker (-X main.version=…, see the Makefile); what it leaves
// unset comes from the build's own record (see cli.Stamp).
var (
	version = "dev"
	commit  = "unknown"
	date    = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, cli.Stamp(version, commit, date), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
