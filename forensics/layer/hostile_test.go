package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMaxPathBelowPreview is the regression test for the hostile suite's
// limit checks: with --max-path below 64, an over-long name shorter than 64
// bytes made the anomaly's preview slice past the name and panic.
func TestMaxPathBelowPreview(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"etc/a-twenty-byte-nm", "ok", strings.Repeat("n", 100)} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	for _, max := range []int{1, 10, 63, 64, 65} {
		sum, err := Walk(context.Background(), bytes.NewReader(buf.Bytes()), Options{Limits: Limits{MaxPathLen: max}})
		if err != nil {
			t.Fatalf("--max-path %d: %v", max, err)
		}
		var bad int
		for _, a := range sum.Anomalies {
			if a.Kind == AnomalyBadName && strings.Contains(a.Detail, "--max-path") {
				bad++
			}
		}
		want := 0
		for _, n := range []int{20, 2, 100} {
			if n > max {
				want++
			}
		}
		if bad != want {
			t.Errorf("--max-path %d: %d over-long names reported, want %d: %v", max, bad, want, sum.Anomalies)
		}
	}
}
