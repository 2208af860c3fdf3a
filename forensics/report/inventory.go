package report

import (
	"bufio"
	"bytes"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// Inventory is what an image's package databases and files say about its
// software, for the OpenVEX and CycloneDX writers: every package every
// database listed, each with the layer that installed it, and the liblzma
// files of the final filesystem. *scan.Result fills it (ReportSource);
// tests build it by hand.
type Inventory struct {
	// Packages are the packages of every database read, in database,
	// name, version and architecture order. A package a later layer
	// removed or replaced is kept, with Present false: the layer that
	// installed it still ships.
	Packages []InventoryPackage
	// Liblzma are the regular files of the final filesystem named
	// liblzma.so* (the files the liblzma-scoped signature rules read), in
	// path order.
	Liblzma []InventoryFile
	// ReadOSRelease reads the final filesystem's os-release
	// (/etc/os-release, else /usr/lib/os-release), which names the
	// distribution that package URLs need; nil when there is none. It is
	// called only by the writers that need it, since it reads from the
	// layer blob.
	ReadOSRelease func() ([]byte, error)
}

// InventoryPackage is one package as a database lists it, with the layer
// whose copy of the database first listed it at this version.
type InventoryPackage struct {
	pkgdb.Package
	// Database is the database's path in the image.
	Database string
	// Layer is the index of the layer that installed the package: the
	// first of the unbroken run of layers whose copy of the database lists
	// it at this version, up to the last one that does.
	Layer int
	// Present says whether the final filesystem's copy of the database
	// lists it.
	Present bool
}

// InventoryFile is one file of the final filesystem and the layer whose
// blob holds it.
type InventoryFile struct {
	Path   string
	Layer  int
	SHA256 string
}

// SortInventory puts packages and files in the order Inventory documents.
func SortInventory(inv *Inventory) {
	sort.SliceStable(inv.Packages, func(i, j int) bool {
		a, b := inv.Packages[i], inv.Packages[j]
		switch {
		case a.Database != b.Database:
			return a.Database < b.Database
		case a.Name != b.Name:
			return a.Name < b.Name
		case a.Version != b.Version:
			return a.Version < b.Version
		case a.Arch != b.Arch:
			return a.Arch < b.Arch
		}
		return a.Layer < b.Layer
	})
	sort.SliceStable(inv.Liblzma, func(i, j int) bool { return inv.Liblzma[i].Path < inv.Liblzma[j].Path })
}

// osRelease is what package URLs need of an os-release file.
type osRelease struct {
	ID        string // "debian", "ubuntu", "fedora", "alpine", "wolfi"
	VersionID string // "12", "40", "3.19"; empty for rolling releases
}

// maxOSRelease bounds the bytes of an os-release file read; real ones are
// a few hundred bytes.
const maxOSRelease = 64 << 10

// parseOSRelease reads the ID and VERSION_ID of an os-release file
// (os-release(5): shell-style assignments, values optionally quoted).
func parseOSRelease(b []byte) osRelease {
	var out osRelease
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxOSRelease)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		switch k {
		case "ID":
			out.ID = purlToken(strings.ToLower(v))
		case "VERSION_ID":
			out.VersionID = purlToken(v)
		}
	}
	return out
}

// purlToken keeps the characters a distribution id or version may hold
// (letters, digits, '.', '_', '-', '~', '+'); anything else from a hostile
// image is dropped rather than carried into identifiers.
func purlToken(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-~+", r):
			b.WriteRune(r)
		}
	}
	if b.Len() > 64 {
		return b.String()[:64]
	}
	return b.String()
}
