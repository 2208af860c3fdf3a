package scan_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/forensics/scan"
)

// RunEach hands over outcomes in the order of the paths, failures in
// their place, and a released result keeps its findings and can still
// be closed: what a fleet report needs to hold one input's trees at a
// time.
func TestRunEachInOrder(t *testing.T) {
	paths := []string{
		filepath.Join(fixturesDir, "xz-planted.docker.tar"),
		filepath.Join(fixturesDir, "no-such-archive.tar"),
		filepath.Join(fixturesDir, "clean.docker.tar"),
		filepath.Join(fixturesDir, "whiteouts.oci.tar"),
	}
	var got []scan.Outcome
	scan.RunEach(context.Background(), paths, scan.Options{Parallel: 2}, func(o scan.Outcome) {
		got = append(got, o)
		if o.Err != nil {
			return
		}
		n := len(o.Result.Images)
		o.Result.Release()
		if len(o.Result.Images) != n || o.Result.Images[0].Tree != nil {
			t.Errorf("%s: Release kept the tree or dropped the images", o.Path)
		}
		if err := o.Result.Close(); err != nil {
			t.Error(err)
		}
	})
	if len(got) != len(paths) {
		t.Fatalf("%d outcomes for %d paths", len(got), len(paths))
	}
	for i, o := range got {
		if o.Path != paths[i] {
			t.Errorf("outcome %d is %s, want %s", i, o.Path, paths[i])
		}
		if (o.Err != nil) != (i == 1) {
			t.Errorf("%s: err %v", o.Path, o.Err)
		}
	}
}
