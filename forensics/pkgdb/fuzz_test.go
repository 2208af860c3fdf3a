package pkgdb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seed adds every file under dir (recursively) to the corpus.
func seed(f *testing.F, dir string) {
	f.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f.Add(b)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
}

// checkPackages holds for any input: every package read has a name and the
// ecosystem it was read as.
func checkPackages(t *testing.T, eco Ecosystem, pkgs []Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Ecosystem != eco || p.Source == "" {
			t.Fatalf("bad package %+v", p)
		}
	}
}

func FuzzDpkgStatus(f *testing.F) {
	seed(f, "testdata/dpkg")
	f.Add([]byte("Package: a\r\nStatus: install ok installed\r\nSource: s (1)\r\nVersion: 1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(Dpkg, "/var/lib/dpkg/status", bytes.NewReader(b), int64(len(b)), 1<<20)
		checkPackages(t, Dpkg, pkgs)
	})
}

func FuzzApkInstalled(f *testing.F) {
	seed(f, "testdata/apk")
	f.Add([]byte("P:a\r\nV:1-r0\r\no:b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(APK, "/lib/apk/db/installed", bytes.NewReader(b), int64(len(b)), 1<<20)
		checkPackages(t, APK, pkgs)
	})
}

// FuzzRPM feeds bytes as an rpm database file. Seeds are the BerkeleyDB
// fixture and an ndb built from the sqlite fixture's headers: both are
// small, and every iteration writes a temporary file. The sqlite fixtures
// (220 KiB each) are left out to keep iterations cheap; the sqlite path is
// covered by TestParseRPMHostile. Go minimizes each new input before
// going on, which for inputs of this size takes minutes: run it with
// -fuzzminimizetime 20x.
func FuzzRPM(f *testing.F) {
	b, err := os.ReadFile("testdata/rpm/affected/Packages")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(ndbFrom(f, sqliteBlobs(f, "testdata/rpm/affected/rpmdb.sqlite")))
	f.Add(ndbFrom(f, [][]byte{unterminatedHeader()}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse(RPM, "/var/lib/rpm/Packages", bytes.NewReader(b), int64(len(b)), 1<<20)
		if err == nil {
			checkPackages(t, RPM, pkgs)
		}
	})
}

func BenchmarkCompareDpkg(b *testing.B) {
	for b.Loop() {
		if _, err := Compare(Dpkg, "5.6.1+really5.4.5-1", "1:5.6.0-0.2~bpo12+1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDpkgStatus parses a status file of about 3,000 packages,
// the size of a full Debian desktop.
func BenchmarkParseDpkgStatus(b *testing.B) {
	one, err := os.ReadFile("testdata/dpkg/status")
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat(append(one, '\n'), 500)
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		pkgs, err := Parse(Dpkg, "/var/lib/dpkg/status", bytes.NewReader(big), int64(len(big)), 0)
		if err != nil || len(pkgs) != 2000 {
			b.Fatalf("%d packages, %v", len(pkgs), err)
		}
	}
}
