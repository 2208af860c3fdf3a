// Package builtin gives tests the built-in ruleset and a detection engine
// over it, what most tests that scan need, in one place. Only tests import
// it; package detect's own tests cannot (it imports detect) and keep
// their builtinEngine.
package builtin

import (
	"testing"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/rules"
)

// Engine returns the built-in rules and an engine over them with opts,
// failing t when either cannot be made.
func Engine(t testing.TB, opts detect.Options) (*rules.Set, *detect.Engine) {
	t.Helper()
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(set, opts)
	if err != nil {
		t.Fatal(err)
	}
	return set, eng
}
