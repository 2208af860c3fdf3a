package pkgdb

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rpmWant is what the fixtures hold, as fixtures/pkgdb/gen.sh builds them.
var rpmWant = map[string][]string{
	"affected": {
		"openssh-server 9.6p1-1.fc40 openssh 9.6p1-1.fc40",
		"openssl-libs 1:3.2.1-2.fc40 openssl 1:3.2.1-2.fc40",
		"xz 5.6.0-1.fc40 xz 5.6.0-1.fc40",
		"xz-libs 5.6.0-1.fc40 xz 5.6.0-1.fc40",
	},
	"fixed": {
		"openssh-server 9.6p1-1.fc40 openssh 9.6p1-1.fc40",
		"xz 5.4.6-3.fc40 xz 5.4.6-3.fc40",
		"xz-libs 5.4.6-3.fc40 xz 5.4.6-3.fc40",
	},
}

func TestParseRPMFixtures(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"sqlite affected", "testdata/rpm/affected/rpmdb.sqlite", "affected"},
		{"bdb affected", "testdata/rpm/affected/Packages", "affected"},
		{"sqlite fixed", "testdata/rpm/fixed/rpmdb.sqlite", "fixed"},
		{"ndb affected", "", "affected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			var b []byte
			if tt.file == "" {
				b = ndbFrom(t, sqliteBlobs(t, "testdata/rpm/affected/rpmdb.sqlite"))
			} else {
				var err error
				if b, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
			}
			pkgs, err := Parse(RPM, "/var/lib/rpm/x", bytes.NewReader(b), int64(len(b)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := nv(pkgs); !slices.Equal(got, rpmWant[tt.want]) {
				t.Errorf("packages = %q\nwant %q", got, rpmWant[tt.want])
			}
			for _, p := range pkgs {
				if p.Arch != "x86_64" || p.Ecosystem != RPM {
					t.Errorf("%s: arch %q ecosystem %q", p.Name, p.Arch, p.Ecosystem)
				}
			}
			left, _ := os.ReadDir(os.TempDir())
			if len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// TestGenScript rebuilds the rpm fixtures with the real tools and checks
// that the committed ones still say the same.
func TestGenScript(t *testing.T) {
	for _, tool := range []string{"rpm", "rpmbuild", "sqlite3", "db5.3_load"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: fixtures/pkgdb/gen.sh needs rpm, rpmbuild, sqlite3 and db5.3_load", tool)
		}
	}
	if testing.Short() {
		t.Skip("runs rpmbuild; skipped with -short")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../../fixtures/pkgdb/gen.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	for _, f := range []string{"rpm/affected/rpmdb.sqlite", "rpm/affected/Packages", "rpm/fixed/rpmdb.sqlite"} {
		t.Run(f, func(t *testing.T) {
			fresh, err := parseFile(t, RPM, filepath.Join(out, f))
			if err != nil {
				t.Fatal(err)
			}
			committed, err := parseFile(t, RPM, filepath.Join("testdata", f))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fresh, committed) {
				t.Errorf("regenerated %s reads %v, committed one %v: rerun fixtures/pkgdb/gen.sh", f, nv(fresh), nv(committed))
			}
		})
	}
	t.Run("rpm/wal", func(t *testing.T) {
		read := func(dir string) []string {
			dbs, unread := stage(t, 0, stagedFile{rpmSQLitePath, filepath.Join(dir, "rpmdb.sqlite")}, stagedFile{rpmWALPath, filepath.Join(dir, "rpmdb.sqlite-wal")})
			if len(dbs) != 1 || dbs[0].Err != nil || len(unread) != 0 {
				t.Fatalf("staged %+v, unread %v", dbs, unread)
			}
			return nv(dbs[0].Packages)
		}
		fresh, committed := read(filepath.Join(out, "rpm", "wal")), read(filepath.Join("testdata", "rpm", "wal"))
		if !slices.Equal(fresh, committed) || !slices.Equal(fresh, walWant) {
			t.Errorf("regenerated rpm/wal reads %v, committed one %v, want %v: rerun fixtures/pkgdb/gen.sh", fresh, committed, walWant)
		}
	})
}

// sqliteBlobs returns the header blobs of a fixture, in row order.
func sqliteBlobs(t testing.TB, file string) [][]byte {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Work on a copy: opening a WAL-mode database writes beside it.
	tmp := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(tmp, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ndbFrom lays headers out as rpm's ndb backend does (lib/backend/ndb/
// rpmpkg.c): a 32-byte header and slot entries filling one 4 KiB slot page,
// then each blob with its 16-byte header, padded to 16 bytes. Debian's rpm
// cannot write ndb, so this is the only way to get one here.
func ndbFrom(t testing.TB, blobs [][]byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := make([]byte, 4096)
	copy(out, "RpmP")
	le.PutUint32(out[12:], 1) // one slot page
	for i := 32; i < 4096; i += 16 {
		copy(out[i:], "Slot")
	}
	for i, b := range blobs {
		off := len(out)
		slot := out[32+16*i:]
		le.PutUint32(slot[4:], uint32(i+1))
		le.PutUint32(slot[8:], uint32(off/16))
		var h [16]byte
		copy(h[:], "BlbS")
		le.PutUint32(h[4:], uint32(i+1))
		le.PutUint32(h[12:], uint32(len(b)))
		out = append(out, h[:]...)
		out = append(out, b...)
		for len(out)%16 != 0 {
			out = append(out, 0)
		}
		le.PutUint32(slot[12:], uint32((len(out)-off)/16))
	}
	return out
}

// bdbPages finds, in the fixture's BerkeleyDB file, the first hash page
// holding an overflow item and the first page of that item's chain.
func bdbPages(t testing.TB, b []byte) (hashPage, itemOff, chain int) {
	t.Helper()
	le := binary.LittleEndian
	ps := int(le.Uint32(b[20:]))
	for pn := 1; (pn+1)*ps <= len(b); pn++ {
		page := b[pn*ps : (pn+1)*ps]
		if page[25] != bdbHash {
			continue
		}
		n := int(le.Uint16(page[20:]))
		for k := 1; k < n; k += 2 {
			v := int(le.Uint16(page[26+2*k:]))
			if page[v] == bdbHOffPage {
				return pn, v, int(le.Uint32(page[v+4:]))
			}
		}
	}
	t.Fatal("fixture has no overflow item")
	return 0, 0, 0
}

// TestParseRPMHostile feeds damaged databases, each aimed at a spot where
// go-rpmdb alone would crash, hang or allocate without bound.
func TestParseRPMHostile(t *testing.T) {
	bdb, err := os.ReadFile("testdata/rpm/affected/Packages")
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ps := int(le.Uint32(bdb[20:]))
	hp, item, chain := bdbPages(t, bdb)
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(bdb)
		f(b)
		return b
	}
	blobs := sqliteBlobs(t, "testdata/rpm/affected/rpmdb.sqlite")
	hugeIL := bytes.Clone(blobs[0])
	binary.BigEndian.PutUint32(hugeIL[0:], 0x7fffffff)
	// An unterminated string array with a count of four billion: go-rpmdb's
	// strtaglen would walk it that many times.
	endless := unterminatedHeader()

	tests := []struct {
		name    string
		b       []byte
		wantErr string
	}{
		{"empty", nil, "not an rpm database"},
		{"text", []byte("Package: a\nVersion: 1\n"), "not an rpm database"},
		{"bdb chain cycle", mutate(func(b []byte) { le.PutUint32(b[chain*ps+16:], uint32(chain)) }), "used twice"},
		{"bdb chain through a hash page", mutate(func(b []byte) { le.PutUint32(b[hp*ps+item+4:], uint32(hp)) }), "overflow chain is type"},
		{"bdb chain past the end", mutate(func(b []byte) { le.PutUint32(b[hp*ps+item+4:], 1<<20) }), "past the end"},
		{"bdb item offset outside page", mutate(func(b []byte) { le.PutUint16(b[hp*ps+26+2:], uint16(ps)) }), "outside page"},
		{"bdb odd entry count", mutate(func(b []byte) { le.PutUint16(b[hp*ps+20:], 3) }), "index entries"},
		{"bdb last page past the end", mutate(func(b []byte) { le.PutUint32(b[32:], 1<<30) }), "past the end"},
		{"bdb bad page size", mutate(func(b []byte) { le.PutUint32(b[20:], 1000) }), "page size"},
		{"bdb encrypted", mutate(func(b []byte) { b[24] = 1 }), "encrypted"},
		{"bdb last overflow page overlong", mutate(func(b []byte) {
			p := chain
			for le.Uint32(b[p*ps+16:]) != 0 {
				p = int(le.Uint32(b[p*ps+16:]))
			}
			le.PutUint16(b[p*ps+22:], 0xffff)
		}), "holds"},
		{"bdb truncated", bdb[:len(bdb)-100], "past the end"},
		{"ndb huge blob length", func() []byte {
			b := ndbFrom(t, blobs[:1])
			le.PutUint32(b[4096+12:], 0xfffffff0)
			return b
		}(), "past the end or overlapping"},
		{"ndb bad slot magic", func() []byte {
			b := ndbFrom(t, blobs[:1])
			copy(b[32+16:], "XXXX")
			return b
		}(), "bad slot magic"},
		{"ndb slot to wrong blob", func() []byte {
			b := ndbFrom(t, blobs[:2])
			le.PutUint32(b[32+4:], 7)
			return b
		}(), "does not match slot"},
		{"ndb too many slot pages", func() []byte {
			b := ndbFrom(t, blobs[:1])
			le.PutUint32(b[12:], 4096)
			return b
		}(), "slot pages"},
		{"ndb slot pages past the end", func() []byte {
			b := ndbFrom(t, blobs[:1])
			le.PutUint32(b[12:], 100)
			return b
		}(), "run past the end"},
		{"header index count too big", ndbFrom(t, [][]byte{hugeIL}), "rpm header index"},
		{"header unterminated strings", ndbFrom(t, [][]byte{endless}), "unterminated string"},
		{"header too short", ndbFrom(t, [][]byte{{0, 0, 0, 1}}), "rpm header of 4 bytes"},
		{"sqlite view", sqliteWith(t, `CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT zeroblob(1000) AS blob FROM c`), "is a view"},
		{"sqlite generated column", sqliteWith(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB GENERATED ALWAYS AS (zeroblob(100000000)) VIRTUAL); INSERT INTO Packages(hnum) VALUES (1)`), "generated"},
		{"sqlite no table", sqliteWith(t, `CREATE TABLE Other (x)`), "no Packages table"},
		{"sqlite no blob column", sqliteWith(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, data BLOB)`), "no blob column"},
		{"sqlite NULL blob", sqliteWith(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (1, NULL)`), "NULL header"},
		{"sqlite text blob", sqliteWith(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (1, 'hello')`), "rpm header of 5 bytes"},
		{"sqlite header garbage", sqliteWith(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (1, x'00000001000000100000000000000000000000000000000000000000000000000000000000000000')`), "go-rpmdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			pkgs, err := Parse(RPM, "/var/lib/rpm/Packages", bytes.NewReader(tt.b), int64(len(tt.b)), 0)
			if err == nil {
				t.Fatalf("no error; packages %v", nv(pkgs))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "/var/lib/rpm/Packages") {
				t.Errorf("error %q does not name the file", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotRPMDB) {
				t.Errorf("error %v is neither ErrMalformed nor ErrNotRPMDB", err)
			}
			if left, _ := os.ReadDir(os.TempDir()); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// unterminatedHeader is a one-entry header: a STRING_ARRAY (type 8) tag
// claiming 0xffffffff strings over four bytes without a NUL.
func unterminatedHeader() []byte {
	be := binary.BigEndian
	b := make([]byte, 8+16+4)
	be.PutUint32(b[0:], 1)
	be.PutUint32(b[4:], 4)
	be.PutUint32(b[8:], 1000) // tag
	be.PutUint32(b[12:], 8)   // type
	be.PutUint32(b[16:], 0)   // offset
	be.PutUint32(b[20:], 0xffffffff)
	copy(b[24:], "abcd")
	return b
}

// sqliteWith returns the bytes of a fresh sqlite database built by ddl.
func sqliteWith(t testing.TB, ddl string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(ddl, "; ") {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSplitSourceRPM(t *testing.T) {
	tests := []struct {
		in, name, vr string
		ok           bool
	}{
		{"xz-5.6.0-1.fc40.src.rpm", "xz", "5.6.0-1.fc40", true},
		{"python-dateutil-2.8.2-1.fc40.src.rpm", "python-dateutil", "2.8.2-1.fc40", true},
		{"foo-1-2.nosrc.rpm", "foo", "1-2", true},
		{"", "", "", false},
		{"(none)", "", "", false},
		{"xz.src.rpm", "", "", false},
		{"-1-2.src.rpm", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, vr, ok := splitSourceRPM(tt.in)
			if name != tt.name || vr != tt.vr || ok != tt.ok {
				t.Errorf("splitSourceRPM(%q) = %q, %q, %v; want %q, %q, %v", tt.in, name, vr, ok, tt.name, tt.vr, tt.ok)
			}
		})
	}
}
