package pkgdb

// A package installed by an image's last build step may be recorded only in
// rpm's sqlite write-ahead log, rpmdb.sqlite-wal, until a checkpoint copies
// it into rpmdb.sqlite: sqlite reads the two files as one database, and so
// must strata, or the package is missed. A layer's tar delivers them as two
// entries, in either order, so they are gathered in a Staging as they
// stream past and read together once the layer is walked. The -shm file
// beside them is not taken: it is only an index of the log, which sqlite
// rebuilds from the log itself, and one from an image is not to be trusted.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

const (
	// walSuffix names sqlite's write-ahead log beside its database.
	walSuffix = "-wal"
	// walHeader is the size of a log's header; a log no longer than that
	// holds no frames, so nothing to read.
	walHeader = 32
)

var (
	// ErrUnreadWAL reports a write-ahead log written by a layer that did not
	// write its database: the database lies in another layer, so what only
	// the log records was not read.
	ErrUnreadWAL = errors.New("pkgdb: write-ahead log without its database in the same layer")
	// ErrNotStaged reports a path Staging does not take (see Staged).
	ErrNotStaged = errors.New("pkgdb: not a file read through a staging folder")
)

// UnreadWALError is an ErrUnreadWAL naming the database whose log a layer
// wrote alone, for a reader that has the database from a lower layer to
// read the two together.
type UnreadWALError struct {
	DB    string // the database's path in the image
	Bytes int64  // of log
}

func (e *UnreadWALError) Error() string {
	return fmt.Sprintf("%s%s: %v: %d bytes of log beside no %s, which lies in another layer", e.DB, walSuffix, ErrUnreadWAL, e.Bytes, path.Base(e.DB))
}

func (e *UnreadWALError) Unwrap() error { return ErrUnreadWAL }

// WALOf says whether p is the write-ahead log of a package database strata
// reads with its log (rpm's rpmdb.sqlite-wal under /var/lib/rpm or
// /usr/lib/sysimage/rpm), and returns that database's path.
func WALOf(p string) (db string, ok bool) {
	db, ok = strings.CutSuffix(p, walSuffix)
	if !ok || !isRPMSQLite(db) {
		return "", false
	}
	return db, true
}

// Staged says whether the file at p is read through a Staging, together
// with the other files of its database, rather than alone by Parse: rpm's
// sqlite database and its write-ahead log. db is the database p belongs to
// (p itself for the database).
func Staged(p string) (db string, ok bool) {
	if isRPMSQLite(p) {
		return p, true
	}
	return WALOf(p)
}

func isRPMSQLite(p string) bool {
	eco, ok := Match(p)
	return ok && eco == RPM && path.Base(p) == "rpmdb.sqlite"
}

// Staging gathers the files of package databases that are read together
// (see Staged) into one private scratch folder, mode 0700, as they stream
// past: never is a file opened where the image keeps it, and sqlite writes
// only to the copies. Parse reads every database with its log; Close
// removes the folder. A Staging is safe for concurrent use.
type Staging struct {
	max int64
	mu  sync.Mutex
	dir string // created by the first Add
	dbs map[string]*stagedDB
}

// stagedDB is one database's files in their own subfolder, as "db" and
// "db-wal" so that sqlite finds the log beside the database.
type stagedDB struct {
	dir     string
	db, wal int64 // bytes copied; -1 while not staged
}

// NewStaging returns an empty Staging. A database and its log count
// together against maxBytes (DefaultMaxBytes when 0 or less), since sqlite
// reads them as one database.
func NewStaging(maxBytes int64) *Staging {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Staging{max: maxBytes, dbs: map[string]*stagedDB{}}
}

// Add copies a file Staged accepts into the scratch folder: p is its path in
// the image, r its bytes and size its length (negative when unknown). A
// later Add of the same path replaces the earlier copy, as a later tar
// entry replaces an earlier one. When Add fails the file is not staged.
func (s *Staging) Add(p string, r io.Reader, size int64) error {
	db, ok := Staged(p)
	if !ok {
		return fmt.Errorf("%s: %w", p, ErrNotStaged)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "strata-pkgdb-")
		if err != nil {
			return fmt.Errorf("%s: temporary folder: %w", p, err)
		}
		s.dir = dir
	}
	d := s.dbs[db]
	if d == nil {
		d = &stagedDB{dir: filepath.Join(s.dir, strconv.Itoa(len(s.dbs))), db: -1, wal: -1}
		if err := os.Mkdir(d.dir, 0o700); err != nil {
			return fmt.Errorf("%s: temporary folder: %w", p, err)
		}
		s.dbs[db] = d
	}
	name, mine, other := "db", &d.db, d.wal
	if p != db {
		name, mine, other = "db"+walSuffix, &d.wal, d.db
	}
	dst := filepath.Join(d.dir, name)
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: temporary copy: %w", p, err)
	}
	*mine = -1
	left := s.max - max(other, 0)
	if size > left {
		return &FormatError{File: p, Err: fmt.Errorf("%w: %d bytes, limit %d for the database and its log together", ErrTooLarge, size, s.max)}
	}
	n, err := copyFile(dst, p, &boundedReader{r: r, left: left, max: left}, size)
	if err != nil {
		os.Remove(dst)
		return err
	}
	*mine = n
	return nil
}

// StagedDB is what Parse read of one staged database.
type StagedDB struct {
	// Path is the database's path in the image.
	Path string
	// WAL says its write-ahead log was staged beside it, so sqlite read
	// the two as one (when the database is an sqlite one at all).
	WAL      bool
	Packages []Package
	Err      error
}

// Parse reads each staged database, with its write-ahead log when that was
// staged too, in path order; as with Parse, packages may come with an
// error. A log staged without its database is not read: unread has an
// ErrUnreadWAL for each such log that holds any frames. Parse reads the
// copies once (sqlite folds the log into its copy of the database).
func (s *Staging) Parse() (dbs []StagedDB, unread []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	paths := make([]string, 0, len(s.dbs))
	for p := range s.dbs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := s.dbs[p]
		if d.db < 0 {
			if d.wal > walHeader {
				unread = append(unread, &UnreadWALError{DB: p, Bytes: d.wal})
			}
			continue
		}
		pkgs, err := readRPM(p, d.dir, filepath.Join(d.dir, "db"), d.db, max(d.wal, 0))
		dbs = append(dbs, StagedDB{Path: p, WAL: d.wal >= 0, Packages: pkgs, Err: err})
	}
	return dbs, unread
}

// Close removes the scratch folder and everything in it.
func (s *Staging) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbs = map[string]*stagedDB{}
	if s.dir == "" {
		return nil
	}
	dir := s.dir
	s.dir = ""
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("pkgdb: removing the staging folder: %w", err)
	}
	return nil
}
