package pkgdb

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	rpmSQLitePath = "/var/lib/rpm/rpmdb.sqlite"
	rpmWALPath    = rpmSQLitePath + "-wal"
)

// walWant is testdata/rpm/wal as fixtures/pkgdb/gen.sh makes it with rpm:
// openssh-server in rpmdb.sqlite, then xz and xz-libs 5.6.0 installed with
// the database's only checkpoint held off, so they are in rpmdb.sqlite-wal
// alone.
var (
	walMainOnly = []string{"openssh-server 9.6p1-1.fc40 openssh 9.6p1-1.fc40"}
	walWant     = []string{
		"openssh-server 9.6p1-1.fc40 openssh 9.6p1-1.fc40",
		"xz 5.6.0-1.fc40 xz 5.6.0-1.fc40",
		"xz-libs 5.6.0-1.fc40 xz 5.6.0-1.fc40",
	}
)

// stagedBytes is one file handed to a Staging from memory.
type stagedBytes struct {
	path string
	b    []byte
}

// stagedFile is one file handed to a Staging: its path in the image and
// the file holding its bytes.
type stagedFile struct{ path, file string }

// stage adds the files, each opened read-only, in order, and parses.
func stage(t *testing.T, max int64, files ...stagedFile) ([]StagedDB, []error) {
	t.Helper()
	s := NewStaging(max)
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, f := range files {
		r, err := os.Open(f.file)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := r.Stat()
		err = s.Add(f.path, r, st.Size())
		r.Close()
		if err != nil {
			t.Fatalf("Add %s: %v", f.path, err)
		}
	}
	return s.Parse()
}

// evidence copies the files of dir into a fresh folder, standing for the
// image, and returns it with a fingerprint of everything in it.
func evidence(t *testing.T, dir string) (string, string) {
	t.Helper()
	ev := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ev, e.Name()), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return ev, fingerprint(t, ev)
}

// fingerprint lists every file under dir with its size, mode and sha256.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := p + " " + info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

// TestStagingWAL: a package present only in the write-ahead log is found
// when the log is staged with its database, in either order, and the
// image's files are neither changed nor joined by sqlite's -shm.
func TestStagingWAL(t *testing.T) {
	ev, before := evidence(t, "testdata/rpm/wal")
	db, wal := filepath.Join(ev, "rpmdb.sqlite"), filepath.Join(ev, "rpmdb.sqlite-wal")

	t.Run("database alone misses the log's packages", func(t *testing.T) {
		t.Setenv("TMPDIR", t.TempDir())
		pkgs, err := parseFile(t, RPM, db)
		if err != nil {
			t.Fatal(err)
		}
		if got := nv(pkgs); !slices.Equal(got, walMainOnly) {
			t.Errorf("packages = %q, want %q", got, walMainOnly)
		}
	})
	for _, order := range [][]stagedFile{
		{{rpmSQLitePath, db}, {rpmWALPath, wal}},
		{{rpmWALPath, wal}, {rpmSQLitePath, db}},
	} {
		t.Run("staged "+filepath.Base(order[0].path)+" first", func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			dbs, unread := stage(t, 0, order...)
			if len(unread) != 0 {
				t.Errorf("unread: %v", unread)
			}
			if len(dbs) != 1 || dbs[0].Path != rpmSQLitePath || !dbs[0].WAL || dbs[0].Err != nil {
				t.Fatalf("staged databases %+v", dbs)
			}
			if got := nv(dbs[0].Packages); !slices.Equal(got, walWant) {
				t.Errorf("packages = %q, want %q", got, walWant)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("scratch files left behind: %v", left)
			}
		})
	}
	if after := fingerprint(t, ev); after != before {
		t.Errorf("evidence changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// TestStagingScratch: the copies live in one private folder, which Close
// removes.
func TestStagingScratch(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := NewStaging(0)
	b, err := os.ReadFile("testdata/rpm/wal/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(rpmSQLitePath, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 1 {
		t.Fatalf("scratch folders %v", ents)
	}
	info, err := os.Stat(filepath.Join(tmp, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("scratch folder mode %v, want 0700", info.Mode().Perm())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left after Close: %v", left)
	}
}

// TestStaging covers what else a layer can hand a Staging.
func TestStaging(t *testing.T) {
	db, err := os.ReadFile("testdata/rpm/wal/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile("testdata/rpm/wal/rpmdb.sqlite-wal")
	if err != nil {
		t.Fatal(err)
	}
	type add = stagedBytes
	tests := []struct {
		name    string
		max     int64
		adds    []add
		addErr  string // of the last Add
		want    []string
		wal     bool
		wantErr string // of the database read
		unread  bool
	}{
		{name: "database without a log", adds: []add{{rpmSQLitePath, db}}, want: walMainOnly},
		{name: "empty log, as rpm leaves it", adds: []add{{rpmSQLitePath, db}, {rpmWALPath, nil}}, want: walMainOnly, wal: true},
		{name: "log alone", adds: []add{{rpmWALPath, wal}}, unread: true},
		{name: "empty log alone", adds: []add{{rpmWALPath, nil}}},
		{name: "a later entry replaces the first", adds: []add{{rpmSQLitePath, []byte("junk")}, {rpmWALPath, []byte("junk")}, {rpmSQLitePath, db}, {rpmWALPath, wal}},
			want: walWant, wal: true},
		{name: "log over the limit is left out", max: int64(len(db)) + 100, adds: []add{{rpmSQLitePath, db}, {rpmWALPath, wal}},
			addErr: "too large", want: walMainOnly},
		// rpm committed xz-libs, then xz: cut inside its last frame, the
		// log keeps the first commit only, as sqlite itself would read it.
		{name: "log truncated inside its last frame", adds: []add{{rpmSQLitePath, db}, {rpmWALPath, wal[:len(wal)-100]}},
			want: append(slices.Clone(walMainOnly), "xz-libs 5.6.0-1.fc40 xz 5.6.0-1.fc40"), wal: true},
		{name: "garbage log: sqlite ignores it", adds: []add{{rpmSQLitePath, db}, {rpmWALPath, bytes.Repeat([]byte{0x37}, 5000)}},
			want: walMainOnly, wal: true},
		{name: "log that makes Packages a view", adds: viewWAL(t), wantErr: "is a view", wal: true},
		{name: "not staged", adds: []add{{"/var/lib/rpm/Packages", db}}, addErr: "not a file read through a staging folder"},
		{name: "sysimage path", adds: []add{{"/usr/lib/sysimage/rpm/rpmdb.sqlite-wal", wal}, {"/usr/lib/sysimage/rpm/rpmdb.sqlite", db}}, want: walWant, wal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			s := NewStaging(tt.max)
			for i, a := range tt.adds {
				err := s.Add(a.path, bytes.NewReader(a.b), int64(len(a.b)))
				if i == len(tt.adds)-1 && tt.addErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.addErr) || !strings.Contains(err.Error(), a.path) {
						t.Fatalf("Add error %v, want %q naming the file", err, tt.addErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Add %s: %v", a.path, err)
				}
			}
			dbs, unread := s.Parse()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("scratch files left behind: %v", left)
			}
			if tt.unread != (len(unread) == 1) || len(unread) > 1 {
				t.Errorf("unread %v", unread)
			}
			for _, err := range unread {
				if !errors.Is(err, ErrUnreadWAL) || !strings.Contains(err.Error(), rpmWALPath) {
					t.Errorf("unread error %v", err)
				}
			}
			if tt.want == nil && tt.wantErr == "" {
				if len(dbs) != 0 {
					t.Errorf("databases %+v", dbs)
				}
				return
			}
			if len(dbs) != 1 {
				t.Fatalf("databases %+v", dbs)
			}
			d := dbs[0]
			if d.WAL != tt.wal {
				t.Errorf("WAL = %v, want %v", d.WAL, tt.wal)
			}
			if tt.wantErr != "" {
				if d.Err == nil || !strings.Contains(d.Err.Error(), tt.wantErr) || !errors.Is(d.Err, ErrMalformed) {
					t.Fatalf("error %v, want %q", d.Err, tt.wantErr)
				}
				return
			}
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			if got := nv(d.Packages); !slices.Equal(got, tt.want) {
				t.Errorf("packages = %q, want %q", got, tt.want)
			}
		})
	}
}

// walPair builds an sqlite database and a write-ahead log with the sqlite
// driver: after setup, update runs in WAL mode with checkpoints off, and
// both files are copied while the connection still holds them (closing it
// would checkpoint the log away). For shapes rpm itself never writes;
// testdata/rpm/wal is the real thing.
func walPair(t *testing.T, setup, update []string) (db, wal []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db")
	conn, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	for _, stmt := range append([]string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0"}, setup...) {
		if _, err := conn.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range update {
		if _, err := conn.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if db, err = os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if wal, err = os.ReadFile(p + "-wal"); err != nil {
		t.Fatal(err)
	}
	if len(wal) <= walHeader {
		t.Fatalf("log of %d bytes holds no frames", len(wal))
	}
	return db, wal
}

// viewWAL: a database whose Packages table the log replaces by an endless
// view. The checks must see the database as sqlite will, log included.
func viewWAL(t *testing.T) []stagedBytes {
	blobs := sqliteBlobs(t, "testdata/rpm/affected/rpmdb.sqlite")
	db, wal := walPair(t,
		[]string{"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)", "INSERT INTO Packages VALUES (1, x'" + hex.EncodeToString(blobs[0]) + "')"},
		[]string{"DROP TABLE Packages", `CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT zeroblob(1000) AS blob FROM c`})
	return []stagedBytes{{rpmSQLitePath, db}, {rpmWALPath, wal}}
}

func TestStaged(t *testing.T) {
	tests := []struct {
		path, db string
		ok       bool
	}{
		{"/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite", true},
		{"/var/lib/rpm/rpmdb.sqlite-wal", "/var/lib/rpm/rpmdb.sqlite", true},
		{"/usr/lib/sysimage/rpm/rpmdb.sqlite-wal", "/usr/lib/sysimage/rpm/rpmdb.sqlite", true},
		{"/var/lib/rpm/rpmdb.sqlite-shm", "", false},
		{"/var/lib/rpm/rpmdb.sqlite-journal", "", false},
		{"/var/lib/rpm/Packages", "", false},
		{"/var/lib/rpm/Packages-wal", "", false},
		{"/var/lib/rpm/x/rpmdb.sqlite-wal", "", false},
		{"/nix/var/nix/db/db.sqlite-wal", "", false},
		{"-wal", "", false},
	}
	for _, tt := range tests {
		db, ok := Staged(tt.path)
		if db != tt.db || ok != tt.ok {
			t.Errorf("Staged(%q) = %q, %v; want %q, %v", tt.path, db, ok, tt.db, tt.ok)
		}
	}
}
