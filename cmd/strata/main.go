// Command strata is an offline forensics tool for container images: it
// opens docker save tarballs, OCI layouts and OCI archives, verifies every
// blob, rebuilds every layer with provenance, and finds CVE-2024-3094
// artefacts. It never opens a network connection and never executes
// anything from an image.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/strata-forensics/strata/forensics/printable"
	"io"
	"os"
	"os/signal"
)

// Exit codes, the same for every command.
const (
	exitOK       = 0 // read and verified, nothing found
	exitFindings = 1 // integrity problems or findings
	exitUsage    = 2 // unusable input or usage error
)

// exitError carries an exit code up to main without printing twice.
type exitError struct {
	code int
	err  error // nil when the command already said everything
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	return runWith(ctx, args, os.Stdout, os.Stderr)
}

// runWith runs the command tree with args, writing to stdout and stderr,
// and returns the exit code: what main does, for tests to call in-process.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "strata:", printable.String(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "strata:", printable.String(err.Error())) // errors name members of the input
	return exitUsage
}
