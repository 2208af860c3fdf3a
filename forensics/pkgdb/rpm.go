package pkgdb

import (
	"cmp"
	"encoding/binary"
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
	"github.com/knqyf263/go-rpmdb/pkg/bdb"
	dbi "github.com/knqyf263/go-rpmdb/pkg/db"
	"github.com/knqyf263/go-rpmdb/pkg/ndb"
	"github.com/knqyf263/go-rpmdb/pkg/sqlite3"
)

// parseRPM copies the database to a private temporary folder and reads it
// there (readRPM).
func parseRPM(file string, r io.Reader, size int64) ([]Package, error) {
	dir, err := os.MkdirTemp("", "strata-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("%s: temporary folder: %w", file, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "db")
	n, err := copyFile(tmp, file, r, size)
	if err != nil {
		return nil, err
	}
	return readRPM(file, dir, tmp, n, 0)
}

// copyFile writes r to dst, a new file, and checks that it held size bytes
// when size is not negative. file names the source in errors.
func copyFile(dst, file string, r io.Reader, size int64) (int64, error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("%s: temporary copy: %w", file, err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil && cerr != nil {
		return n, fmt.Errorf("%s: temporary copy: %w", file, cerr)
	}
	if err != nil {
		return n, &FormatError{File: file, Offset: n, Err: fmt.Errorf("copying: %w", err)}
	}
	if size >= 0 && n != size {
		return n, &FormatError{File: file, Offset: n, Err: fmt.Errorf("%w: %d bytes read, %d expected", ErrMalformed, n, size)}
	}
	return n, nil
}

// readRPM checks the structure of the database copy at db (see check.go
// for why) and reads it with go-rpmdb. dir is the private folder holding
// it, where sqlite finds the copy of the write-ahead log (db+"-wal",
// walSize bytes) if there is one. file names the database in errors.
func readRPM(file, dir, db string, size, walSize int64) ([]Package, error) {
	f, err := os.Open(db)
	if err != nil {
		return nil, fmt.Errorf("%s: temporary copy: %w", file, err)
	}
	format, want, err := checkRPMDB(f, db, size, walSize)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	infos, err := listRPM(dir, db, format)
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

// listRPM reads the checked database at path with go-rpmdb, leaving none
// of its goroutines behind.
//
// go-rpmdb's readers (one per format) send each header blob on an
// unbuffered channel from a goroutine of their own, and ListPackages
// returns at the first header it cannot parse (or panics on) without
// reading that channel further: the reader then waits forever to send the
// next blob, holding its file or sqlite connection open. So the reader's
// channel is taken here and always read to its end (the checks guarantee
// the reader gets there), and each blob goes to rpmHeader, which hands
// ListPackages a database of that one header: a reader that has sent its
// only header has nothing left to wait for.
func listRPM(dir, path string, format rpmFormat) ([]*rpmdb.PackageInfo, error) {
	rd, err := openRPM(path, format)
	if err != nil {
		return nil, fmt.Errorf("%w: go-rpmdb: %v", ErrMalformed, err)
	}
	defer rd.Close()
	hdr := filepath.Join(dir, "header")
	defer os.Remove(hdr)
	var infos []*rpmdb.PackageInfo
	var first error
	n := 0
	for e := range rd.Read() {
		n++
		if first != nil {
			continue // read on, so the reader can return
		}
		if e.Err != nil {
			first = fmt.Errorf("%w: go-rpmdb: header %d: %v", ErrMalformed, n, e.Err)
			continue
		}
		in, err := rpmHeader(hdr, e.Value)
		if err != nil {
			first = fmt.Errorf("header %d: %w", n, err)
			continue
		}
		infos = append(infos, in)
	}
	if first != nil {
		return nil, first
	}
	return infos, nil
}

// openRPM opens the reader of the format checkRPMDB found, as rpmdb.Open
// would pick it.
func openRPM(path string, format rpmFormat) (dbi.RpmDBInterface, error) {
	switch format {
	case rpmSQLite:
		db, err := sqlite3.Open(path)
		if err != nil {
			return nil, err
		}
		return db, nil
	case rpmNDB:
		db, err := ndb.Open(path)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := bdb.Open(path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// rpmHeader parses one header blob with go-rpmdb, through a one-header ndb
// database written to path (go-rpmdb parses headers only inside
// ListPackages, and reads databases only from files). Parsing happens on
// this goroutine, so a panic on a header the checks let through is
// recovered and reported.
func rpmHeader(path string, blob []byte) (info *rpmdb.PackageInfo, err error) {
	if len(blob) >= headerMaxBytes {
		return nil, fmt.Errorf("%w: rpm header of %d bytes", ErrMalformed, len(blob))
	}
	if err := os.WriteFile(path, ndbOne(blob), 0o600); err != nil {
		return nil, fmt.Errorf("temporary header: %w", err)
	}
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: go-rpmdb: %v", ErrMalformed, err)
	}
	defer db.Close()
	defer func() {
		if v := recover(); v != nil {
			info, err = nil, fmt.Errorf("%w: go-rpmdb failed on a package header: %v", ErrMalformed, v)
		}
	}()
	infos, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("%w: go-rpmdb: %v", ErrMalformed, err)
	}
	if len(infos) != 1 {
		return nil, fmt.Errorf("%w: go-rpmdb read %d package headers from a database of one", ErrMalformed, len(infos))
	}
	return infos[0], nil
}

// ndbOne lays out an ndb database holding one header blob, as rpm's ndb
// backend would (lib/backend/ndb/rpmpkg.c): a 32-byte header, one 4 KiB
// page of slots (every one carrying the slot magic, or go-rpmdb's reader
// stops with an error it then waits to send), the first pointing at
// block 256, where the blob follows its 16-byte blob header.
func ndbOne(blob []byte) []byte {
	le := binary.LittleEndian
	const page = 4096
	out := make([]byte, page+16+len(blob))
	le.PutUint32(out[0:], ndbMagic)
	le.PutUint32(out[12:], 1) // one slot page
	for i := 32; i < page; i += 16 {
		le.PutUint32(out[i:], ndbSlot)
	}
	le.PutUint32(out[32+4:], 1)                             // package index
	le.PutUint32(out[32+8:], page/16)                       // block offset, in 16-byte blocks
	le.PutUint32(out[32+12:], uint32((16+len(blob)+15)/16)) // block count
	le.PutUint32(out[page:], ndbBlob)
	le.PutUint32(out[page+4:], 1)
	le.PutUint32(out[page+12:], uint32(len(blob)))
	copy(out[page+16:], blob)
	return out
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
