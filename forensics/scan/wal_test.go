package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-forensics/strata/internal/testkit/imagebuild"
)

// A package installed by a build step that wrote only rpm's write-ahead
// log (its database lies unchanged in a lower layer) is found, at the
// layer that wrote the log: the database from below and the log from the
// layer are read together. Without the log, nothing is found.
func TestWALInALaterLayer(t *testing.T) {
	db, err := os.ReadFile("../pkgdb/testdata/rpm/wal/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile("../pkgdb/testdata/rpm/wal/rpmdb.sqlite-wal")
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/var/lib/rpm/"
	tests := []struct {
		name   string
		top    []imagebuild.Entry
		findAt int // layer of the xz package finding, -1 for none
	}{
		{"log in the layer above", []imagebuild.Entry{imagebuild.FB(dir+"rpmdb.sqlite-wal", wal)}, 1},
		{"no log", []imagebuild.Entry{imagebuild.F("/etc/motd", "hi\n")}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := &imagebuild.Image{RepoTags: []string{"wal:1"}, Layers: []*imagebuild.Layer{
				{Entries: []imagebuild.Entry{imagebuild.D("/var/lib/rpm"), imagebuild.FB(dir+"rpmdb.sqlite", db)}},
				{Entries: tc.top},
			}}
			var buf bytes.Buffer
			if _, err := imagebuild.WriteDockerArchive(&buf, img); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "wal.tar")
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), p, Options{Engine: testEngine(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			at := -1
			for _, f := range res.Findings {
				if f.Rule == "xz-affected-package-rpm" {
					at = f.Layer
				}
			}
			if at != tc.findAt {
				t.Errorf("xz package finding at layer %d, want %d; findings %+v", at, tc.findAt, res.Findings)
			}
		})
	}
}
