package pkgdb

import (
	"cmp"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// nixStore is the Nix store: every package output is one path in it,
	// /nix/store/<hash>-<name>-<version>[-<output>].
	nixStore = "/nix/store/"
	// nixDBPath is the Nix database, whose ValidPaths table lists every
	// store path the store holds (and, after a garbage collection or a
	// copy by hand, may still list paths that are gone, or miss some).
	nixDBPath = "/nix/var/nix/db/db.sqlite"
	// nixHashLen is the length of a store path's hash: 160 bits in Nix's
	// base-32 alphabet.
	nixHashLen = 32
	// nixBase32 is Nix's base-32 alphabet (no e, o, u, t).
	nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"
)

// nixOutputs are the output names nixpkgs gives packages besides the
// default "out", which Nix appends to the store path name ("xz-5.6.1-bin").
var nixOutputs = map[string]bool{
	"bin": true, "dev": true, "lib": true, "man": true, "doc": true, "devdoc": true, "info": true,
	"static": true, "debug": true, "devman": true, "out": true, "data": true, "modules": true,
	"py": true, "python": true, "examples": true, "tests": true, "udev": true, "sbin": true, "sdk": true,
}

// nixSuffixes mark store paths that are not an installed package: build
// recipes, fetched sources and patches.
var nixSuffixes = []string{".drv", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar.lz", ".zip",
	".patch", ".diff", ".sh", ".nix", ".lock", ".json", ".lzma", ".gz", ".xz", ".bz2"}

// nixStorePath reads /nix/store/<hash>-<name>[/...]: the store path is the
// package, its name and version split as Nix's parseDrvName does, the
// output suffix left out of the version.
func nixStorePath(p string) (Package, string, bool) {
	rest, ok := strings.CutPrefix(p, nixStore)
	if !ok {
		return Package{}, "", false
	}
	base, _, _ := strings.Cut(rest, "/")
	pkg, ok := nixPackage(base)
	if !ok {
		return Package{}, "", false
	}
	pkg.Path = p[:len(nixStore)+len(base)] // a slice of p: no copy per file
	return pkg, pkg.Path, true
}

// nixPackage names the package of a store path's base name, or says it is
// none: a malformed hash, a derivation or a source, a name without version.
func nixPackage(base string) (Package, bool) {
	if len(base) < nixHashLen+2 || base[nixHashLen] != '-' {
		return Package{}, false
	}
	for i := 0; i < nixHashLen; i++ {
		if strings.IndexByte(nixBase32, base[i]) < 0 {
			return Package{}, false
		}
	}
	full := base[nixHashLen+1:]
	for _, s := range nixSuffixes {
		if strings.HasSuffix(full, s) {
			return Package{}, false
		}
	}
	name, version := parseDrvName(full)
	if name == "" || version == "" {
		return Package{}, false
	}
	if i := strings.LastIndexByte(version, '-'); i > 0 && nixOutputs[version[i+1:]] {
		version = version[:i]
	}
	return Package{Name: name, Version: version, Source: name, SourceVersion: version, Ecosystem: Nix}, true
}

// parseDrvName is Nix's DrvName: the version starts after the first '-'
// that is followed by something other than a letter.
func parseDrvName(s string) (name, version string) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && !isAlpha(s[i+1]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// compareNix is Nix's compareVersions (builtins.compareVersions): components
// split at '.' and '-' and between digits and other characters, numbers
// (that fit an int) compared as numbers, "pre" below everything, the empty
// string below a number, a string below a number, strings in byte order.
func compareNix(a, b string) (int, error) {
	for _, v := range []string{a, b} {
		if v == "" {
			return 0, fmt.Errorf("%w: nix: empty version", ErrVersion)
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c1, c2 string
		c1, i = nixComponent(a, i)
		c2, j = nixComponent(b, j)
		if nixLess(c1, c2) {
			return -1, nil
		}
		if nixLess(c2, c1) {
			return 1, nil
		}
	}
	return 0, nil
}

func nixComponent(s string, p int) (string, int) {
	for p < len(s) && (s[p] == '.' || s[p] == '-') {
		p++
	}
	start := p
	if p < len(s) && isDigit(s[p]) {
		for p < len(s) && isDigit(s[p]) {
			p++
		}
	} else {
		for p < len(s) && !isDigit(s[p]) && s[p] != '.' && s[p] != '-' {
			p++
		}
	}
	return s[start:p], p
}

func nixLess(c1, c2 string) bool {
	n1, e1 := strconv.ParseInt(c1, 10, 32)
	n2, e2 := strconv.ParseInt(c2, 10, 32)
	num1, num2 := e1 == nil, e2 == nil
	switch {
	case num1 && num2:
		return n1 < n2
	case c1 == "" && num2:
		return true
	case c1 == "pre" && c2 != "pre":
		return true
	case c2 == "pre":
		return false
	case num2:
		return true
	case num1:
		return false
	}
	return c1 < c2
}

// parseNixDB copies the Nix database to a private temporary folder and
// lists the packages of its ValidPaths rows. As for rpm's sqlite database
// (see checkSQLite), ValidPaths must be a stored table and path a stored
// column, or the query would run whatever the image's author wrote.
func parseNixDB(file string, r io.Reader, size int64) ([]Package, error) {
	dir, err := os.MkdirTemp("", "strata-nixdb-")
	if err != nil {
		return nil, fmt.Errorf("%s: temporary folder: %w", file, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "db.sqlite")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: temporary copy: %w", file, err)
	}
	n, err := io.Copy(f, r)
	f.Close()
	if err != nil {
		return nil, &FormatError{File: file, Offset: n, Err: fmt.Errorf("copying: %w", err)}
	}
	if size >= 0 && n != size {
		return nil, &FormatError{File: file, Offset: n, Err: fmt.Errorf("%w: %d bytes read, %d expected", ErrMalformed, n, size)}
	}
	head := make([]byte, len(sqliteMagic))
	if hf, err := os.Open(tmp); err == nil {
		_, err = io.ReadFull(hf, head)
		hf.Close()
		if err != nil || string(head) != string(sqliteMagic) {
			return nil, &FormatError{File: file, Err: fmt.Errorf("%w: not an sqlite database", ErrMalformed)}
		}
	}
	db, err := sql.Open("sqlite", tmp)
	if err != nil {
		return nil, &FormatError{File: file, Err: fmt.Errorf("%w: sqlite: %v", ErrMalformed, err)}
	}
	defer db.Close()
	if err := checkStoredColumn(db, "ValidPaths", "path"); err != nil {
		return nil, &FormatError{File: file, Err: err}
	}
	rows, err := db.Query(`SELECT path FROM ValidPaths`)
	if err != nil {
		return nil, &FormatError{File: file, Err: fmt.Errorf("%w: sqlite: %v", ErrMalformed, err)}
	}
	defer rows.Close()
	var pkgs []Package
	count, total := 0, int64(0)
	for rows.Next() {
		var p sql.NullString
		if err := rows.Scan(&p); err != nil {
			return pkgs, &FormatError{File: file, Err: fmt.Errorf("%w: sqlite: row %d: %v", ErrMalformed, count+1, err)}
		}
		count++
		total += int64(len(p.String))
		if total > n {
			return pkgs, &FormatError{File: file, Err: fmt.Errorf("%w: sqlite: paths add up to more than the file", ErrMalformed)}
		}
		sp := p.String
		if !strings.HasPrefix(sp, nixStore) || strings.Contains(sp[len(nixStore):], "/") {
			continue // another store folder, or not a store path: named nothing strata can place
		}
		pkg, ok := nixPackage(sp[len(nixStore):])
		if !ok {
			continue
		}
		pkg.Path = sp
		pkgs = append(pkgs, pkg)
	}
	if err := rows.Err(); err != nil {
		return pkgs, &FormatError{File: file, Err: fmt.Errorf("%w: sqlite: after %d rows: %v", ErrMalformed, count, err)}
	}
	// sqlite's row order follows whatever index it picks; one stable order
	// keeps reports comparable.
	slices.SortFunc(pkgs, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Path, b.Path))
	})
	return pkgs, nil
}

// checkStoredColumn accepts table when it is an ordinary stored table whose
// column is stored data: not a view, a virtual table or a generated column.
func checkStoredColumn(db *sql.DB, table, column string) error {
	var typ, ddl string
	err := db.QueryRow(`SELECT type, coalesce(sql, '') FROM sqlite_master
		WHERE name = ? COLLATE NOCASE AND type IN ('table', 'view')`, table).Scan(&typ, &ddl)
	if err != nil {
		return fmt.Errorf("%w: sqlite: no %s table: %v", ErrMalformed, table, err)
	}
	if typ != "table" || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl)), "CREATE VIRTUAL") {
		return fmt.Errorf("%w: sqlite: %s is a %s, not a stored table", ErrMalformed, table, typ)
	}
	rows, err := db.Query(`SELECT name, hidden FROM pragma_table_xinfo(?)`, table)
	if err != nil {
		return fmt.Errorf("%w: sqlite: %s columns: %v", ErrMalformed, table, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var name string
		var hidden int
		if err := rows.Scan(&name, &hidden); err != nil {
			return fmt.Errorf("%w: sqlite: %s columns: %v", ErrMalformed, table, err)
		}
		if strings.EqualFold(name, column) {
			if hidden != 0 {
				return fmt.Errorf("%w: sqlite: %s.%s is generated or hidden", ErrMalformed, table, column)
			}
			found = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: sqlite: %s columns: %v", ErrMalformed, table, err)
	}
	if !found {
		return fmt.Errorf("%w: sqlite: %s has no %s column", ErrMalformed, table, column)
	}
	return nil
}
