package pkgdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/strata-forensics/strata/internal/testkit/golden"
)

func parseFile(t testing.TB, eco Ecosystem, file string) ([]Package, error) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(eco, "/"+file, bytes.NewReader(b), int64(len(b)), 0)
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		path string
		eco  Ecosystem
		ok   bool
	}{
		{"dpkg status", "/var/lib/dpkg/status", Dpkg, true},
		{"dpkg status backup", "/var/lib/dpkg/status-old", "", false},
		{"distroless record", "/var/lib/dpkg/status.d/libc6", Dpkg, true},
		{"distroless md5sums", "/var/lib/dpkg/status.d/libc6.md5sums", "", false},
		{"status.d itself", "/var/lib/dpkg/status.d/", "", false},
		{"status.d nested", "/var/lib/dpkg/status.d/x/libc6", "", false},
		{"rpm sqlite", "/var/lib/rpm/rpmdb.sqlite", RPM, true},
		{"rpm bdb", "/var/lib/rpm/Packages", RPM, true},
		{"rpm ndb", "/var/lib/rpm/Packages.db", RPM, true},
		{"sysimage sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite", RPM, true},
		{"sysimage bdb", "/usr/lib/sysimage/rpm/Packages", RPM, true},
		{"sysimage ndb", "/usr/lib/sysimage/rpm/Packages.db", RPM, true},
		{"rpm index", "/var/lib/rpm/Name", "", false},
		{"rpm wal", "/var/lib/rpm/rpmdb.sqlite-wal", "", false},
		{"apk", "/lib/apk/db/installed", APK, true},
		{"apk merged usr", "/usr/lib/apk/db/installed", APK, true},
		{"apk triggers", "/lib/apk/db/triggers", "", false},
		{"relative", "var/lib/dpkg/status", "", false},
		{"elsewhere", "/home/x/var/lib/dpkg/status", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eco, ok := Match(tt.path)
			if eco != tt.eco || ok != tt.ok {
				t.Errorf("Match(%q) = %q, %v; want %q, %v", tt.path, eco, ok, tt.eco, tt.ok)
			}
		})
	}
}

// TestParseFiles reads every database under testdata and compares the
// result with its golden JSON.
func TestParseFiles(t *testing.T) {
	tests := []struct {
		name string
		eco  Ecosystem
		file string
	}{
		{"dpkg-status", Dpkg, "testdata/dpkg/status"},
		{"dpkg-statusd-liblzma5", Dpkg, "testdata/dpkg/status.d/liblzma5"},
		{"dpkg-statusd-base-files", Dpkg, "testdata/dpkg/status.d/base-files"},
		{"apk-installed", APK, "testdata/apk/installed"},
		{"rpm-affected-sqlite", RPM, "testdata/rpm/affected/rpmdb.sqlite"},
		{"rpm-affected-bdb", RPM, "testdata/rpm/affected/Packages"},
		{"rpm-fixed-sqlite", RPM, "testdata/rpm/fixed/rpmdb.sqlite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := parseFile(t, tt.eco, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(pkgs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, filepath.Join("testdata", strings.Split(t.Name(), "/")[0], tt.name+".golden"), append(b, '\n'))
		})
	}
}

// nv lists packages as "name version source source-version" for compact
// comparisons.
func nv(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Source, p.SourceVersion}, " "))
	}
	return out
}

func TestParseDpkg(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string // substring; "" for none
	}{
		{"empty", "", nil, ""},
		{"one", "Package: a\nStatus: install ok installed\nVersion: 1.0-1\n", []string{"a 1.0-1 a 1.0-1"}, ""},
		{"no trailing newline", "Package: a\nStatus: install ok installed\nVersion: 1.0-1", []string{"a 1.0-1 a 1.0-1"}, ""},
		{"crlf", "Package: a\r\nStatus: install ok installed\r\nVersion: 1.0-1\r\n\r\nPackage: b\r\nVersion: 2\r\n", []string{"a 1.0-1 a 1.0-1", "b 2 b 2"}, ""},
		{"blank line of spaces separates", "Package: a\nVersion: 1\n \t\nPackage: b\nVersion: 2\n", []string{"a 1 a 1", "b 2 b 2"}, ""},
		{"many blank lines", "\n\n\nPackage: a\nVersion: 1\n\n\n\n", []string{"a 1 a 1"}, ""},
		{"field names any case", "package: a\nVERSION: 1\nsource: s (0.9)\n", []string{"a 1 s 0.9"}, ""},
		{"source without version", "Package: liblzma5\nVersion: 5.6.1-1\nSource: xz-utils\n", []string{"liblzma5 5.6.1-1 xz-utils 5.6.1-1"}, ""},
		{"source with version", "Package: liblzma5\nVersion: 5.6.1+really5.4.5-1+b1\nSource: xz-utils (5.6.1+really5.4.5-1)\n", []string{"liblzma5 5.6.1+really5.4.5-1+b1 xz-utils 5.6.1+really5.4.5-1"}, ""},
		{"source with bad version", "Package: a\nVersion: 1\nSource: s 1.0\n", []string{"a 1 s 1"}, "is not \"name (version)\""},
		{"config-files skipped", "Package: a\nStatus: deinstall ok config-files\nVersion: 1\n", nil, ""},
		{"not-installed skipped", "Package: a\nStatus: purge ok not-installed\nVersion: 1\n", nil, ""},
		{"held counts", "Package: a\nStatus: hold ok installed\nVersion: 1\n", []string{"a 1 a 1"}, ""},
		{"unpacked counts", "Package: a\nStatus: install ok unpacked\nVersion: 1\n", []string{"a 1 a 1"}, ""},
		{"bad status", "Package: a\nStatus: installed\nVersion: 1\n\nPackage: b\nVersion: 2\n", []string{"b 2 b 2"}, "Status \"installed\""},
		{"continuation kept out", "Package: a\nDescription: x\n Version: 9\nVersion: 1\n", []string{"a 1 a 1"}, ""},
		{"continuation first", " orphan\nPackage: a\nVersion: 1\n", []string{"a 1 a 1"}, "offset 0: pkgdb: malformed database: continuation line"},
		{"garbage line", "Package: a\nthis is not a field\nVersion: 1\n", []string{"a 1 a 1"}, "offset 11:"},
		{"space in field name", "Package: a\nBad Field: x\nVersion: 1\n", []string{"a 1 a 1"}, "neither"},
		{"paragraph without package", "Version: 1\n\nPackage: b\nVersion: 2\n", []string{"b 2 b 2"}, "without a Package"},
		{"several problems counted", "x\ny\nz\nPackage: a\nVersion: 1\n", []string{"a 1 a 1"}, "and 2 more problems"},
		{"binary garbage", "\x00\xff\x01:\n\x7fELF\n", nil, "malformed"},
		{"line too long", "Package: a\nDescription: " + strings.Repeat("x", maxLine+1) + "\n", nil, "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := Parse(Dpkg, "/var/lib/dpkg/status", strings.NewReader(tt.in), int64(len(tt.in)), 0)
			checkErr(t, err, tt.wantErr)
			if got := nv(pkgs); !slices.Equal(got, tt.want) {
				t.Errorf("packages = %q, want %q", got, tt.want)
			}
			for _, p := range pkgs {
				if p.Ecosystem != Dpkg {
					t.Errorf("%s: ecosystem %q", p.Name, p.Ecosystem)
				}
			}
		})
	}
}

func TestParseAPK(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"one", "P:xz-libs\nV:5.6.1-r1\nA:x86_64\no:xz\n", []string{"xz-libs 5.6.1-r1 xz 5.6.1-r1"}, ""},
		{"origin defaults to name", "P:xz\nV:5.6.1-r2\n", []string{"xz 5.6.1-r2 xz 5.6.1-r2"}, ""},
		{"crlf no trailing newline", "P:a\r\nV:1-r0\r\n\r\nP:b\r\nV:2-r0", []string{"a 1-r0 a 1-r0", "b 2-r0 b 2-r0"}, ""},
		{"other keys skipped", "C:Q1x=\nP:a\nV:1-r0\nF:usr/lib\nR:liblzma.so.5\nZ:Q1y=\n", []string{"a 1-r0 a 1-r0"}, ""},
		{"empty value", "P:a\nV:\n", []string{"a  a "}, ""},
		{"bad line", "P:a\nnot a key\nV:1-r0\n", []string{"a 1-r0 a 1-r0"}, "offset 4:"},
		{"no name", "V:1-r0\n\nP:b\nV:2-r0\n", []string{"b 2-r0 b 2-r0"}, "without a P:"},
		{"line too long", "P:a\nT:" + strings.Repeat("y", maxLine+1), nil, "line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkgs, err := Parse(APK, "/lib/apk/db/installed", strings.NewReader(tt.in), int64(len(tt.in)), 0)
			checkErr(t, err, tt.wantErr)
			if got := nv(pkgs); !slices.Equal(got, tt.want) {
				t.Errorf("packages = %q, want %q", got, tt.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if want != "" {
		var fe *FormatError
		if !errors.As(err, &fe) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotRPMDB) && !errors.Is(err, ErrTooLarge) {
			t.Errorf("error %v is none of FormatError, ErrMalformed, ErrNotRPMDB, ErrTooLarge", err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	status := "Package: a\nVersion: 1\n"
	tests := []struct {
		name     string
		eco      Ecosystem
		r        func() *strings.Reader
		size     int64
		maxBytes int64
		wantErr  error
	}{
		{"declared size over limit", Dpkg, func() *strings.Reader { return strings.NewReader(status) }, 100, 10, ErrTooLarge},
		{"stream longer than declared", Dpkg, func() *strings.Reader { return strings.NewReader(status) }, 5, 10, ErrTooLarge},
		{"unknown size over limit", APK, func() *strings.Reader { return strings.NewReader("P:a\nV:1\n") }, -1, 4, ErrTooLarge},
		{"rpm over limit", RPM, func() *strings.Reader { return strings.NewReader(strings.Repeat("x", 64)) }, -1, 32, ErrTooLarge},
		{"rpm short stream", RPM, func() *strings.Reader { return strings.NewReader(strings.Repeat("x", 64)) }, 100, 0, ErrMalformed},
		{"exactly at limit", Dpkg, func() *strings.Reader { return strings.NewReader(status) }, int64(len(status)), int64(len(status)), nil},
		{"unknown ecosystem", "winget", func() *strings.Reader { return strings.NewReader(status) }, 1, 0, ErrEcosystem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.eco, "/db", tt.r(), tt.size, tt.maxBytes)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "/db") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseReaderError(t *testing.T) {
	boom := errors.New("boom")
	for _, eco := range []Ecosystem{Dpkg, APK, RPM, Pacman, Conda, Nix} {
		t.Run(string(eco), func(t *testing.T) {
			r := iotest.TimeoutReader(strings.NewReader(strings.Repeat("Package: a\n", 10000)))
			_, err := Parse(eco, "/db", r, -1, 0)
			if err == nil {
				t.Fatal("no error from a failing reader")
			}
			_, err = Parse(eco, "/db", iotest.ErrReader(boom), -1, 0)
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want it to wrap %v", err, boom)
			}
		})
	}
}
