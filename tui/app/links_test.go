package app_test

import (
	"testing"

	"github.com/strata-forensics/strata/tui/internal/fake"
)

// A hard link shows the bytes its target held when the link's layer made
// it, though that layer deleted the target or a later one rewrote it.
func TestViewHardlink(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		title string
		bytes string
	}{
		{"target deleted by the link's layer", []string{"/", "h", "/", "o", "enter", "n", "v"}, "old @ L0", "old bytes, deleted"},
		{"target rewritten by a later layer", []string{"/", "h", "/", "m", "enter", "n", "v"}, "mod @ L0", "mod bytes, first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startWith(t, 100, 30, loader(fake.Links()))
			s.keys(tc.keys...)
			s.waitFor(tc.title)
			s.waitFor(tc.bytes)
			s.final()
		})
	}
}
