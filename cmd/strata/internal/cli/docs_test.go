package cli

import "testing"

// TestEveryCommandHasExamples keeps `strata CMD --help` useful, and the
// man pages cmd/strata/internal/gendocs renders from the same text.
func TestEveryCommandHasExamples(t *testing.T) {
	for _, c := range NewRootCmd(testBuild).Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("strata %s has no --help examples", c.Name())
		}
	}
}
