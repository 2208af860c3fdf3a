// Package cli is strata's command tree: every command, its flags, its
// output and its exit code. cmd/strata is a thin main around Run, and
// cmd/strata/internal/gendocs renders the man pages and shell completions
// from NewRootCmd, so that the release binary does not carry the man page
// renderer.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/printable"
)

// Exit codes, the same for every command.
const (
	exitOK       = 0 // read and verified, nothing found
	exitFindings = 1 // integrity problems or findings
	exitUsage    = 2 // unusable input or usage error
)

// exitError carries an exit code up to Run without printing twice.
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

// Run runs the command tree of build b with args, writing to stdout and
// stderr, and returns the exit code: what main does, and what tests call
// in-process.
func Run(ctx context.Context, b Build, args []string, stdout, stderr io.Writer) int {
	root := NewRootCmd(b)
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
