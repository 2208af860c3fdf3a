package scan

import (
	"context"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/rules"
)

// A nested archive left partly unread by a bound ordinary images reach
// (bytes, memory) is a degraded note on its layer, not a finding: a big
// jar does not make an image suspicious. A bound only hostile input
// reaches (depth) stays a finding. detect decides which is which
// (TestUnreadNotes); this holds scan to carrying the notes into the
// result's records.
func TestNestedBoundsReported(t *testing.T) {
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    detect.Options
		finding string // a limit finding's rule, or ""
		note    string // in a degraded note, or ""
	}{
		{"byte budget", detect.Options{MaxNestedBytes: 64}, "", "budget of bytes read from nested archives ran out"},
		{"depth", detect.Options{MaxNestedDepth: 1}, detect.LimitRulePrefix + "depth", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := detect.New(set, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.docker.tar", Options{Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			var limits []string
			for _, f := range res.Findings {
				if strings.HasPrefix(f.Rule, detect.LimitRulePrefix) {
					limits = append(limits, f.Rule)
				}
			}
			if tc.finding == "" && len(limits) > 0 || tc.finding != "" && (len(limits) == 0 || limits[0] != tc.finding) {
				t.Errorf("limit findings %v, want %q", limits, tc.finding)
			}
			noted := false
			for _, p := range res.Problems {
				// The note is on its layer, named by the layer's digest.
				noted = noted || p.Kind == integrity.Degraded && strings.Contains(p.Detail, tc.note) && tc.note != "" && strings.HasPrefix(p.Blob, "sha256:")
			}
			if noted != (tc.note != "") {
				t.Errorf("degraded note saying %q: %v; records %v", tc.note, noted, res.Problems)
			}
			if !res.Integrity().OK {
				t.Errorf("a bound reached fails integrity: %v", res.Integrity().Problems)
			}
		})
	}
}
