// Package pkgdb reads the package databases an image carries (dpkg status
// files, rpm databases in all three on-disk formats, apk's installed file,
// pacman's local database, conda-meta records, the Nix database) and the
// package stores that keep one folder per installed package (Homebrew and
// Linuxbrew kegs, Nix store paths, Gentoo's /var/db/pkg), and orders
// versions by each ecosystem's own rules, so that detectors can tell an
// affected package from a fixed one without running anything from the
// image.
package pkgdb

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Ecosystem names a package manager whose database and version rules apply.
type Ecosystem string

const (
	Dpkg Ecosystem = "dpkg"
	RPM  Ecosystem = "rpm"
	APK  Ecosystem = "apk"
	// Pacman is Arch Linux's package manager: /var/lib/pacman/local.
	Pacman Ecosystem = "pacman"
	// Brew is Homebrew and Linuxbrew: kegs under a Cellar.
	Brew Ecosystem = "brew"
	// Nix is the Nix store and its database.
	Nix Ecosystem = "nix"
	// Conda is conda's per-environment conda-meta records.
	Conda Ecosystem = "conda"
	// Portage is Gentoo's installed-package database, /var/db/pkg.
	Portage Ecosystem = "portage"
)

// Ecosystems lists every ecosystem this package reads, in a fixed order.
var Ecosystems = []Ecosystem{Dpkg, RPM, APK, Pacman, Brew, Nix, Conda, Portage}

// Known says whether eco is one of Ecosystems.
func Known(eco Ecosystem) bool {
	for _, e := range Ecosystems {
		if e == eco {
			return true
		}
	}
	return false
}

// Package is one installed package as its database records it.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"` // dpkg and apk as written; rpm "E:V-R" when the epoch is above 0, else "V-R"
	Arch    string `json:"arch,omitempty"`
	// Source is the source package: dpkg's Source field without its
	// "(version)" part, the name in rpm's SOURCERPM, apk's origin. It
	// defaults to Name, as each package manager itself does.
	Source string `json:"source,omitempty"`
	// SourceVersion is the version of the source package: the "(version)" of
	// dpkg's Source field, else Version.
	SourceVersion string    `json:"source_version,omitempty"`
	Ecosystem     Ecosystem `json:"ecosystem"`
	// Status is dpkg's Status field ("install ok installed"); for a
	// Homebrew keg, how its INSTALL_RECEIPT.json says it was installed
	// ("poured from bottle", "built from source"); empty otherwise.
	Status string `json:"status,omitempty"`
	// Path is the installation's own folder (or file) in stores that keep
	// one per package: a Homebrew keg, a Nix store path (also for a row of
	// the Nix database), a /var/db/pkg entry. Empty for databases that
	// are the only record of the package.
	Path string `json:"path,omitempty"`
}

// DefaultMaxBytes bounds one database when Parse is given no limit. Real
// databases stay far below it (a full Fedora rpmdb.sqlite is under 20 MiB).
const DefaultMaxBytes = 256 << 20

// maxLine bounds one line of a dpkg or apk database; real lines are short
// (long descriptions are folded into continuation lines).
const maxLine = 1 << 20

var (
	// ErrTooLarge reports a database above the byte limit.
	ErrTooLarge = errors.New("pkgdb: database too large")
	// ErrMalformed reports input that does not follow the database format.
	ErrMalformed = errors.New("pkgdb: malformed database")
	// ErrNotRPMDB reports a file with none of the sqlite, ndb or BerkeleyDB magic numbers.
	ErrNotRPMDB = errors.New("pkgdb: not an rpm database")
	// ErrEcosystem reports an Ecosystem this package does not know.
	ErrEcosystem = errors.New("pkgdb: unknown ecosystem")
)

// FormatError names the database file and the byte offset where reading it
// broke.
type FormatError struct {
	File   string
	Offset int64
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.File, e.Offset, e.Err)
}
func (e *FormatError) Unwrap() error { return e.Err }

// rpmDirs are where rpm keeps its database: the classic place and the one
// Fedora and openSUSE moved to (with /var/lib/rpm a symlink to it).
var rpmDirs = [...]string{"/var/lib/rpm/", "/usr/lib/sysimage/rpm/"}

// rpmFiles are the three on-disk formats: sqlite (rpm ≥ 4.16 default),
// BerkeleyDB hash (older distros) and ndb (openSUSE).
var rpmFiles = [...]string{"rpmdb.sqlite", "Packages", "Packages.db"}

// Match says whether an absolute, cleaned path inside an image is a package
// database file strata reads: /var/lib/dpkg/status, every file directly in
// /var/lib/dpkg/status.d/ (distroless) except the *.md5sums lists that sit
// beside the records, rpmdb.sqlite, Packages (BerkeleyDB) and Packages.db
// (ndb) under /var/lib/rpm/ or /usr/lib/sysimage/rpm/,
// /lib/apk/db/installed (also under /usr, where merged-/usr apk distros such
// as Wolfi put it), pacman's /var/lib/pacman/local/<name>-<version>/desc,
// conda's <prefix>/conda-meta/*.json in any environment, the Nix database
// /nix/var/nix/db/db.sqlite, and the INSTALL_RECEIPT.json of a Homebrew keg
// (see Store; Owner names the keg its package belongs to).
func Match(p string) (Ecosystem, bool) {
	switch p {
	case "/var/lib/dpkg/status":
		return Dpkg, true
	case "/lib/apk/db/installed", "/usr/lib/apk/db/installed":
		return APK, true
	case nixDBPath:
		return Nix, true
	}
	if isPacmanDesc(p) {
		return Pacman, true
	}
	if isCondaMeta(p) {
		return Conda, true
	}
	if isBrewReceipt(p) {
		return Brew, true
	}
	dir, base := path.Split(p)
	if base == "" {
		return "", false
	}
	if dir == "/var/lib/dpkg/status.d/" {
		if strings.HasSuffix(base, ".md5sums") {
			return "", false
		}
		return Dpkg, true
	}
	for _, d := range rpmDirs {
		if dir != d {
			continue
		}
		for _, f := range rpmFiles {
			if base == f {
				return RPM, true
			}
		}
	}
	return "", false
}

// Store says whether the absolute, cleaned path p lies in a package store
// that keeps one folder per installed package, and if so returns that
// folder (root) and the package its name says is installed there:
//
//   - Homebrew and Linuxbrew kegs, <cellar>/<formula>/<version>, in the
//     Cellars of /usr/local, /opt/homebrew and any .linuxbrew
//     (/home/linuxbrew/.linuxbrew, ~/.linuxbrew);
//   - Nix store paths, /nix/store/<hash>-<name>-<version>[-<output>], except
//     derivations, fetched sources and paths whose name has no version;
//   - Gentoo's /var/db/pkg/<category>/<name>-<version>[-r<N>].
//
// p may be the folder itself or anything below it: a layer that writes any
// file of a keg or store path installs it.
func Store(p string) (pkg Package, root string, ok bool) {
	switch {
	case strings.HasPrefix(p, nixStore):
		return nixStorePath(p)
	case strings.HasPrefix(p, portageVDB):
		return portageStore(p)
	}
	return brewStore(p)
}

// StoreDirs are the folders whose children (Nix) or grandchildren (Homebrew
// Cellars, /var/db/pkg) Store recognises at fixed places; Linuxbrew
// prefixes in home folders are found only by Store itself.
var StoreDirs = []string{strings.TrimSuffix(nixStore, "/"), "/usr/local/Cellar", "/opt/homebrew/Cellar",
	"/home/linuxbrew/.linuxbrew/Cellar", strings.TrimSuffix(portageVDB, "/")}

// Owner is the path whose packages the database file p describes: the
// keg folder for a Homebrew INSTALL_RECEIPT.json (the receipt adds to what
// the keg's own folder says), p itself for every other database.
func Owner(p string) string {
	if isBrewReceipt(p) {
		return path.Dir(p)
	}
	return p
}

// Parse reads one database. r is the file's bytes as they stream out of a
// layer tar, size its length (negative when unknown) and p its path in the
// image, used in errors. Files over maxBytes (DefaultMaxBytes when 0) are
// refused.
//
// dpkg, apk and pacman files are read as a stream, line by line; conda-meta
// records and Homebrew receipts as a stream of JSON tokens, keeping only the
// fields that matter. rpm and Nix databases are copied to a private
// temporary folder (go-rpmdb reads files, and sqlite writes -wal and -shm
// files beside the database), checked, read (rpm with
// github.com/knqyf263/go-rpmdb, Nix's ValidPaths table with the pure-Go
// sqlite driver) and removed before Parse returns. rpm's sqlite database
// given to Parse is read without its write-ahead log; to read the two
// together, as sqlite (and rpm) does, hand both to a Staging (see Staged).
//
// For dpkg and apk, Parse returns every package it could read even when
// err is not nil: a damaged or tampered database still names what it can;
// pacman, conda and Homebrew records return their package alongside an error
// when the record disagrees with the name of its folder or file.
func Parse(eco Ecosystem, p string, r io.Reader, size, maxBytes int64) ([]Package, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if size > maxBytes {
		return nil, &FormatError{File: p, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, maxBytes)}
	}
	br := &boundedReader{r: r, left: maxBytes, max: maxBytes}
	switch eco {
	case Dpkg:
		return parseDpkg(p, br)
	case APK:
		return parseAPK(p, br)
	case RPM:
		return parseRPM(p, br, size)
	case Pacman:
		return parsePacman(p, br)
	case Conda:
		return parseConda(p, br)
	case Brew:
		return parseBrewReceipt(p, br)
	case Nix:
		return parseNixDB(p, br, size)
	}
	return nil, fmt.Errorf("%s: %w %q", p, ErrEcosystem, eco)
}

// boundedReader fails with ErrTooLarge as soon as more than max bytes
// arrive, whatever the tar header claimed.
type boundedReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var probe [1]byte
		n, err := b.r.Read(probe[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// problems keeps the first malformed spot of a text database and counts the
// rest, so a file with a million bad lines yields one readable error.
type problems struct {
	file  string
	first *FormatError
	more  int
}

func (ps *problems) add(off int64, format string, args ...any) {
	if ps.first != nil {
		ps.more++
		return
	}
	ps.first = &FormatError{File: ps.file, Offset: off, Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)}
}

func (ps *problems) err() error {
	if ps.first == nil {
		return nil
	}
	if ps.more > 0 {
		return fmt.Errorf("%w (and %d more problems)", ps.first, ps.more)
	}
	return ps.first
}
