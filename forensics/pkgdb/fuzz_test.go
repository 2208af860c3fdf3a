package pkgdb

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
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
	// A header go-rpmdb refuses before good ones: where its reader used
	// to be left blocked.
	f.Add(ndbFrom(f, [][]byte{badRegionHeader(), unterminatedHeader()}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse(RPM, "/var/lib/rpm/Packages", bytes.NewReader(b), int64(len(b)), 1<<20)
		if err == nil {
			checkPackages(t, RPM, pkgs)
		}
		if left := rpmdbGoroutines(nil); len(left) != 0 {
			t.Fatalf("%d go-rpmdb goroutines left behind", len(left))
		}
	})
}

// FuzzRPMWAL feeds bytes as the write-ahead log of the rpm fixture made
// with one (testdata/rpm/wal), read together through a Staging. Seeds are
// the real log, cut at a frame boundary and inside a frame, and its bare
// header; sqlite checks the log's checksums itself, so most mutations are
// ignored, and the fuzzer has to find ones it accepts.
func FuzzRPMWAL(f *testing.F) {
	db, err := os.ReadFile("testdata/rpm/wal/rpmdb.sqlite")
	if err != nil {
		f.Fatal(err)
	}
	wal, err := os.ReadFile("testdata/rpm/wal/rpmdb.sqlite-wal")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wal)
	f.Add(wal[:walHeader])
	// A frame is a 24-byte header and one page; the log's header says the
	// page size.
	if frame := 24 + int(binary.BigEndian.Uint32(wal[8:])); len(wal) > walHeader+2*frame {
		f.Add(wal[:walHeader+2*frame])
		f.Add(wal[:walHeader+2*frame-7])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewStaging(1 << 20)
		defer s.Close()
		if err := s.Add(rpmSQLitePath, bytes.NewReader(db), int64(len(db))); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(rpmWALPath, bytes.NewReader(b), int64(len(b))); err != nil {
			return
		}
		dbs, unread := s.Parse()
		if len(dbs) != 1 || len(unread) != 0 || !dbs[0].WAL {
			t.Fatalf("staged %+v, unread %v", dbs, unread)
		}
		checkPackages(t, RPM, dbs[0].Packages)
		if left := rpmdbGoroutines(nil); len(left) != 0 {
			t.Fatalf("%d go-rpmdb goroutines left behind", len(left))
		}
	})
}

// FuzzStaged checks that any path Staged accepts is rpm's sqlite database
// or its log, and names that database.
func FuzzStaged(f *testing.F) {
	for _, p := range []string{rpmSQLitePath, rpmWALPath, "/usr/lib/sysimage/rpm/rpmdb.sqlite-wal", "/var/lib/rpm/rpmdb.sqlite-shm", "-wal"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		db, ok := Staged(p)
		if !ok {
			if db != "" {
				t.Fatalf("Staged(%q) = %q, false", p, db)
			}
			return
		}
		if eco, m := Match(db); !m || eco != RPM || (p != db && p != db+walSuffix) {
			t.Fatalf("Staged(%q) = %q", p, db)
		}
		if w, ok := WALOf(p); ok != (p != db) || (ok && w != db) {
			t.Fatalf("WALOf(%q) = %q, %v; Staged says %q", p, w, ok, db)
		}
	})
}

func FuzzPacmanDesc(f *testing.F) {
	seed(f, "testdata/pacman")
	f.Add([]byte("%NAME%\r\nxz\r\n\r\n%VERSION%\r\n1:5.6.1-1\r\n%BASE%\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(Pacman, "/var/lib/pacman/local/xz-5.6.1-1/desc", bytes.NewReader(b), int64(len(b)), 1<<20)
		checkPackages(t, Pacman, pkgs)
		if len(pkgs) > 1 {
			t.Fatalf("%d packages from one desc file", len(pkgs))
		}
	})
}

func FuzzBrewReceipt(f *testing.F) {
	seed(f, "testdata/brew")
	f.Add([]byte(`{"source":{"spec":"head","versions":{"head":"HEAD-1"}},"poured_from_bottle":null}`))
	const keg = "/home/linuxbrew/.linuxbrew/Cellar/xz/5.6.1_1"
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(Brew, keg+"/INSTALL_RECEIPT.json", bytes.NewReader(b), int64(len(b)), 1<<20)
		checkPackages(t, Brew, pkgs)
		// Whatever the receipt says, the package is the keg's.
		if len(pkgs) != 1 || pkgs[0].Name != "xz" || pkgs[0].Version != "5.6.1_1" || pkgs[0].Path != keg {
			t.Fatalf("packages %+v", pkgs)
		}
	})
}

func FuzzCondaMeta(f *testing.F) {
	seed(f, "testdata/conda")
	f.Add([]byte(`{"name":"xz","version":"5.6.1","build":"h0_0","files":[[[{}]]],"name":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(Conda, "/opt/conda/conda-meta/xz-5.6.1-h0_0.json", bytes.NewReader(b), int64(len(b)), 1<<20)
		checkPackages(t, Conda, pkgs)
		if len(pkgs) > 1 {
			t.Fatalf("%d packages from one record", len(pkgs))
		}
	})
}

// FuzzStorePath checks that any path Store accepts names a package whose
// folder is a prefix of the path, in a store it knows.
func FuzzStorePath(f *testing.F) {
	for _, s := range []string{"/nix/store/" + nixHash + "-xz-5.6.1-bin/bin/xz", "/usr/local/Cellar/xz/5.6.1_1/lib",
		"/home/u/.linuxbrew/Cellar/a/1", "/var/db/pkg/app-arch/xz-utils-5.6.1-r1/PF", "/var/db/pkg/a/b-1_alpha_p2-r3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		pkg, root, ok := Store(p)
		if !ok {
			return
		}
		if pkg.Name == "" || pkg.Version == "" || pkg.Path != root || !strings.HasPrefix(p, root) || (len(p) > len(root) && p[len(root)] != '/') {
			t.Fatalf("Store(%q) = %+v, %q", p, pkg, root)
		}
		if _, err := Compare(pkg.Ecosystem, pkg.Version, pkg.Version); err != nil {
			t.Fatalf("Store(%q) gives version %q its own ecosystem refuses: %v", p, pkg.Version, err)
		}
	})
}

// FuzzCompareStores checks the new orderings are total preorders on what
// they accept: reflexive, antisymmetric, and never panicking.
func FuzzCompareStores(f *testing.F) {
	for _, p := range [][2]string{{"5.6.1-1", "1:5.6.1-2"}, {"5.6.1_1", "HEAD-a"}, {"2.3pre1", "2.3.1"}, {"1!1.0+a_b", "1.0post1"},
		{"5.6.1_p1-r2", "5.6.1b"}, {"1.0.post1", "1.0p1"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, eco := range []Ecosystem{Pacman, Brew, Nix, Conda, Portage} {
			ab, errA := Compare(eco, a, b)
			ba, errB := Compare(eco, b, a)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%s: %q vs %q: errors %v / %v", eco, a, b, errA, errB)
			}
			if errA != nil {
				continue
			}
			if ab != -ba || ab < -1 || ab > 1 {
				t.Fatalf("%s: compare(%q, %q) = %d but compare(%q, %q) = %d", eco, a, b, ab, b, a, ba)
			}
			if c, _ := Compare(eco, a, a); c != 0 {
				t.Fatalf("%s: compare(%q, %q) = %d", eco, a, a, c)
			}
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
