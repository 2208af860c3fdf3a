package scan_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
)

// A scan that lets each image's tree go once the image is judged
// (DropTrees, as strata scan does), and with it each layer's listing once
// its last image is (DropListings, as strata scan does without
// --evidence), reports every fixture byte for byte as one that keeps
// them: the inventories OpenVEX and CycloneDX describe were taken from
// each tree before it went, and each layer's count of entries before its
// listing did. Its images have no tree left.
func TestDropTreesSameReport(t *testing.T) {
	set, eng := builtin.Engine(t, detect.Options{})
	now := time.Date(2024, 3, 29, 12, 0, 0, 0, time.UTC)
	formats := []report.Format{report.JSON, report.OpenVEX, report.CycloneDX, report.Text}
	render := func(t *testing.T, p string, drop, listings bool) [][]byte {
		opts := scan.Options{Engine: eng, Parallel: 2, Now: func() time.Time { return now }, DropTrees: drop, DropListings: listings}
		res, err := scan.Run(context.Background(), p, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		for _, ir := range res.Images {
			if drop && ir.Tree != nil {
				t.Errorf("%s: tree kept", ir.Image.Ref())
			}
			if !drop && ir.Tree == nil {
				t.Errorf("%s: no tree", ir.Image.Ref())
			}
		}
		doc := report.NewDocument(report.Meta{Version: "test", Rules: set}, res.ReportSource())
		var out [][]byte
		for _, f := range formats {
			var b bytes.Buffer
			if err := doc.Write(&b, f, report.TextOptions{}); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, b.Bytes())
		}
		return out
	}
	inventories := 0
	for _, in := range fixtureInputs(t) {
		t.Run(in.name, func(t *testing.T) {
			want := render(t, in.path, false, false)
			for _, listings := range []bool{false, true} {
				got := render(t, in.path, true, listings)
				for i, f := range formats {
					if !bytes.Equal(got[i], want[i]) {
						t.Errorf("%s differs with the trees dropped (listings too: %v):\n%s\nwant:\n%s", f, listings, got[i], want[i])
					}
				}
			}
			if bytes.Contains(want[2], []byte(`"pkg:deb/`)) {
				inventories++
			}
		})
	}
	if inventories == 0 {
		t.Error("no fixture has a package inventory: the test compares nothing the trees give")
	}
}
