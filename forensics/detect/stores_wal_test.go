package detect

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/rules"
	ib "github.com/strata-forensics/strata/internal/testkit/imagebuild"
)

// rpmWALFixture returns the files of forensics/pkgdb/testdata/rpm/wal,
// written by rpm itself (fixtures/pkgdb/gen.sh): openssh-server in
// rpmdb.sqlite, xz and xz-libs 5.6.0-1.fc40 only in rpmdb.sqlite-wal.
func rpmWALFixture(t testing.TB) (db, wal []byte) {
	t.Helper()
	dir := filepath.Join("..", "pkgdb", "testdata", "rpm", "wal")
	db, err := os.ReadFile(filepath.Join(dir, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if wal, err = os.ReadFile(filepath.Join(dir, "rpmdb.sqlite-wal")); err != nil {
		t.Fatal(err)
	}
	return db, wal
}

// TestRPMWriteAheadLog: the last build step's rpm left its packages in
// rpmdb.sqlite-wal; the scan reads the log with its database, whichever
// the tar carries first, and never changes the layer's bytes.
func TestRPMWriteAheadLog(t *testing.T) {
	db, wal := rpmWALFixture(t)
	const dir = "var/lib/rpm/"
	base := []ib.Entry{ib.F("etc/os-release", "ID=fedora\nVERSION_ID=40\n")}
	affected := []string{
		"xz-affected-package-rpm package L1 /var/lib/rpm/rpmdb.sqlite present low xz=5.6.0-1.fc40",
		"xz-affected-package-rpm package L1 /var/lib/rpm/rpmdb.sqlite present low xz-libs=5.6.0-1.fc40",
	}
	tests := []struct {
		name   string
		layers [][]ib.Entry
		want   []string
		errs   []string // substrings of the layer errors, by layer
	}{
		{
			name:   "database then its log, as docker sorts them",
			layers: [][]ib.Entry{base, {ib.FB(dir+"rpmdb.sqlite", db), ib.F(dir+"rpmdb.sqlite-shm", "stale index"), ib.FB(dir+"rpmdb.sqlite-wal", wal)}},
			want:   affected,
		},
		{
			name:   "log before its database",
			layers: [][]ib.Entry{base, {ib.FB(dir+"rpmdb.sqlite-wal", wal), ib.FB(dir+"rpmdb.sqlite", db)}},
			want:   affected,
		},
		{
			name:   "without the log the packages are not there",
			layers: [][]ib.Entry{base, {ib.FB(dir+"rpmdb.sqlite", db)}},
		},
		{
			// The log completes a database of another layer, whose bytes a
			// layer's scan does not have: said, not silently skipped.
			name:   "log alone in a later layer",
			layers: [][]ib.Entry{base, {ib.FB(dir+"rpmdb.sqlite", db), ib.F(dir+"rpmdb.sqlite-wal", "")}, {ib.FB(dir+"rpmdb.sqlite-wal", wal)}},
			errs:   []string{"", "", "/var/lib/rpm/rpmdb.sqlite-wal: pkgdb: write-ahead log without its database in the same layer"},
		},
	}
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			sums := fixtureSums(db, wal)
			img := &image.Image{Names: []string{"test:rpm-wal"}}
			results, tr := scanLayers(t, e, img, tc.layers)
			for i, r := range results {
				want := ""
				if i < len(tc.errs) {
					want = tc.errs[i]
				}
				got := strings.Join(r.Errors, "\n")
				if (want == "") != (got == "") || !strings.Contains(got, want) {
					t.Errorf("layer %d errors %q, want %q", i, got, want)
				}
			}
			fs := e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings
			var got []string
			for _, f := range fs {
				if f.Kind == "package" {
					got = append(got, line(f))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("scratch files left behind: %v", left)
			}
			if fixtureSums(db, wal) != sums {
				t.Error("the scan changed the bytes it was given")
			}
		})
	}
}

func fixtureSums(files ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, b := range files {
		h.Write(b)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
