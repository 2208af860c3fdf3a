package pkgdb

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	// go-rpmdb opens sqlite databases through database/sql's "sqlite"
	// driver without registering one; this pure-Go driver is the one it is
	// built and tested with.
	_ "github.com/glebarez/go-sqlite"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
)

// parseRPM copies the database to a private temporary folder, checks its
// structure (see check.go for why) and reads it with go-rpmdb.
func parseRPM(file string, r io.Reader, size int64) ([]Package, error) {
	dir, err := os.MkdirTemp("", "strata-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("%s: temporary folder: %w", file, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "db")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: temporary copy: %w", file, err)
	}
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, &FormatError{File: file, Offset: n, Err: fmt.Errorf("copying: %w", err)}
	}
	if size >= 0 && n != size {
		f.Close()
		return nil, &FormatError{File: file, Offset: n, Err: fmt.Errorf("%w: %d bytes read, %d expected", ErrMalformed, n, size)}
	}
	want, err := checkRPMDB(f, tmp, n)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	infos, err := listRPM(tmp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(infos) != want {
		return nil, fmt.Errorf("%s: %w: go-rpmdb read %d package headers, the database holds %d", file, ErrMalformed, len(infos), want)
	}
	pkgs := make([]Package, 0, len(infos))
	nameless := 0
	for _, in := range infos {
		if in.Name == "" {
			// A header without a NAME tag: rpm never writes one, and a
			// package without a name can match no rule. Left out and
			// reported, as dpkg and apk paragraphs without a name are.
			nameless++
			continue
		}
		pkgs = append(pkgs, rpmPackage(in))
	}
	// Each backend walks its own order (sqlite rows, hash buckets, ndb
	// slots); one stable order keeps reports comparable across formats.
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Arch, b.Arch))
	})
	if nameless > 0 {
		return pkgs, fmt.Errorf("%s: %w: %d of %d package headers have no name and were left out", file, ErrMalformed, nameless, len(infos))
	}
	return pkgs, nil
}

// listRPM runs go-rpmdb. Header parsing happens on this goroutine, so a
// panic on a header the checks let through is recovered and reported. When
// ListPackages stops early, go-rpmdb's reader goroutine stays blocked on its
// channel; closing the database at least releases its file.
func listRPM(path string) (infos []*rpmdb.PackageInfo, err error) {
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: go-rpmdb: %v", ErrMalformed, err)
	}
	defer db.Close()
	defer func() {
		if v := recover(); v != nil {
			infos, err = nil, fmt.Errorf("%w: go-rpmdb failed on a package header: %v", ErrMalformed, v)
		}
	}()
	infos, err = db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("%w: go-rpmdb: %v", ErrMalformed, err)
	}
	return infos, nil
}

// rpmPackage maps go-rpmdb's record; the source package's name and version
// come from SOURCERPM ("xz-5.6.0-1.fc40.src.rpm"), whose epoch is the
// binary's since both are built from one spec.
func rpmPackage(in *rpmdb.PackageInfo) Package {
	evr := in.Version
	if in.Release != "" {
		evr += "-" + in.Release
	}
	epoch := ""
	if in.Epoch != nil && *in.Epoch > 0 {
		epoch = fmt.Sprintf("%d:", *in.Epoch)
	}
	p := Package{
		Name:          in.Name,
		Version:       epoch + evr,
		Arch:          in.Arch,
		Source:        in.Name,
		SourceVersion: epoch + evr,
		Ecosystem:     RPM,
	}
	if name, ver, ok := splitSourceRPM(in.SourceRpm); ok {
		p.Source, p.SourceVersion = name, epoch+ver
	}
	return p
}

// splitSourceRPM reads "name-version-release.src.rpm" from the right, as
// names may hold dashes and versions may not.
func splitSourceRPM(s string) (name, vr string, ok bool) {
	base, found := strings.CutSuffix(s, ".src.rpm")
	if !found {
		if base, found = strings.CutSuffix(s, ".nosrc.rpm"); !found {
			return "", "", false
		}
	}
	i := strings.LastIndexByte(base, '-')
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(base[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return base[:j], base[j+1:], true
}
