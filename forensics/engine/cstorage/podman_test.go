package cstorage_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"

	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/boltdb"
	"github.com/strata-forensics/strata/forensics/engine/cstorage"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/internal/testkit/engines"
)

// stateStore is a graph root written by Debian's podman 4.3, which keeps
// its state in libpod/bolt_state.db: the clean fixture image loaded and
// two containers created from it (never started): "job", its entrypoint
// replaced, and "web", given a command after the image's own entrypoint.
// Each test reads a copy.
func stateStore(t *testing.T) (root string, made time.Time) {
	t.Helper()
	stateOnce.Do(func() {
		fixtures, err := filepath.Abs("../../../fixtures/testdata")
		if err != nil {
			t.Fatal(err)
		}
		stateMade = time.Now()
		graph := engines.Podman(t,
			[]string{"load", "-q", "-i", filepath.Join(fixtures, "clean.docker.tar")},
			[]string{"create", "--name", "job", "--entrypoint", "/bin/sh", "strata-fixtures/clean:latest", "-c", "echo hi"},
			[]string{"create", "--name", "web", "strata-fixtures/clean:latest", "-e"},
		)
		// The graph root goes with the test that made it: keep a copy,
		// removed by TestMain.
		keep, err := os.MkdirTemp("", "strata-podman-state")
		if err != nil {
			t.Fatal(err)
		}
		stateKept = filepath.Join(keep, "storage")
		if err := os.Rename(engines.Copy(t, graph), stateKept); err != nil {
			t.Fatal(err)
		}
	})
	if stateKept == "" {
		t.Skip("no podman store (see the first test's log)")
	}
	return engines.Copy(t, stateKept), stateMade
}

var (
	stateOnce sync.Once
	stateKept string
	stateMade time.Time
)

// stateCleanup removes the store stateStore keeps for the package's tests.
func stateCleanup() {
	if stateKept != "" {
		os.RemoveAll(filepath.Dir(stateKept))
	}
}

// open reads the store at root and returns it, its containers by name,
// and the problems it records.
func open(t *testing.T, root string) (*engine.Store, map[string]*image.Container, []integrity.Problem) {
	t.Helper()
	s, err := cstorage.Open(context.Background(), root)
	if err != nil || s == nil {
		t.Fatalf("open: %v, %v", s, err)
	}
	t.Cleanup(func() { s.Close() })
	es := s.(*engine.Store)
	ctrs := map[string]*image.Container{}
	for _, e := range es.Catalog() {
		if e.Container != nil {
			ctrs[e.Container.Name] = e.Container
		}
	}
	return es, ctrs, es.Problems()
}

func hasProblem(ps []integrity.Problem, kind integrity.Kind, detail string) bool {
	for _, p := range ps {
		if p.Kind == kind && strings.Contains(p.Detail, detail) {
			return true
		}
	}
	return false
}

// A created container is shown with its name, image, creation time and
// command: the command from podman's bolt_state.db, which is hashed into
// the chain of custody; nothing in the store changes.
func TestRealPodmanState(t *testing.T) {
	root, made := stateStore(t)
	before := engines.Listing(t, root)
	s, ctrs, problems := open(t, root)
	want := map[string][]string{
		"job": {"/bin/sh", "-c", "echo hi"},
		// The image's entrypoint is /usr/sbin/sshd -D: the command
		// follows it.
		"web": {"/usr/sbin/sshd", "-D", "-e"},
	}
	for name, cmd := range want {
		c := ctrs[name]
		if c == nil {
			t.Fatalf("no container %s in %v", name, ctrs)
		}
		if !slices.Equal(c.Command, cmd) {
			t.Errorf("%s: command %q, want %q", name, c.Command, cmd)
		}
		if c.Image != "localhost/strata-fixtures/clean:latest" {
			t.Errorf("%s: image %q", name, c.Image)
		}
		if c.Created == nil || c.Created.Before(made.Add(-time.Minute)) || c.Created.After(time.Now()) {
			t.Errorf("%s: created %v, the store was made at %v", name, c.Created, made)
		}
		if !engine.IsHex64(c.ID) || c.Engine != "containers/storage" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if hasProblem(problems, integrity.Degraded, "command is unknown") {
		t.Errorf("a command said unknown: %v", problems)
	}
	withDB := s.Custody.Files()
	if engines.Listing(t, root) != before {
		t.Error("the store changed while it was read")
	}

	// The state database is part of what was read.
	os.Remove(filepath.Join(root, "libpod", "bolt_state.db"))
	s2, _, _ := open(t, root)
	if s2.Custody.Files() != withDB-1 {
		t.Errorf("%d files read with bolt_state.db, %d without it", withDB, s2.Custody.Files())
	}
}

// containers.json without a creation time: podman's record gives it.
func TestRealPodmanStateCreated(t *testing.T) {
	root, made := stateStore(t)
	name := filepath.Join(root, "overlay-containers", "containers.json")
	var recs []map[string]any
	data, _ := os.ReadFile(name)
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		delete(r, "created")
	}
	data, _ = json.Marshal(recs)
	os.WriteFile(name, data, 0o600)
	_, ctrs, _ := open(t, root)
	for _, n := range []string{"job", "web"} {
		if c := ctrs[n]; c == nil || c.Created == nil || c.Created.Before(made.Add(-time.Minute)) {
			t.Errorf("%s: %+v", n, c)
		}
	}
}

// A damaged bolt_state.db is a problem naming it, never a crash: the
// containers are still listed, their commands unknown.
func TestRealPodmanStateDamaged(t *testing.T) {
	tests := []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"empty", func([]byte) []byte { return nil }},
		{"truncated", func(d []byte) []byte { return d[:4096+100] }},
		{"garbage", func(d []byte) []byte {
			for i := range d {
				d[i] = byte(i*131 + 7)
			}
			return d
		}},
		{"pages zeroed", func(d []byte) []byte {
			clear(d[2*4096:])
			return d
		}},
		{"a page's header overwritten", func(d []byte) []byte {
			for off := 2 * 4096; off+16 <= len(d); off += 4096 {
				copy(d[off:], []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x10, 0})
			}
			return d
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := stateStore(t)
			db := filepath.Join(root, "libpod", "bolt_state.db")
			data, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(db, tc.damage(data), 0o600)
			_, ctrs, problems := open(t, root)
			if !hasProblem(problems, integrity.Unreadable, "podman's state database") {
				t.Errorf("no problem naming the database: %v", problems)
			}
			if ctrs["job"] == nil || ctrs["web"] == nil || ctrs["job"].Created == nil {
				t.Errorf("containers %v", ctrs)
			}
		})
	}
}

// With no state database, a started container's userdata/config.json
// (the OCI runtime spec it ran with) gives its command; one never started
// has none, and a note says its command is unknown.
func TestRealPodmanRuntimeSpec(t *testing.T) {
	root, _ := stateStore(t)
	os.Remove(filepath.Join(root, "libpod", "bolt_state.db"))
	_, ctrs, _ := open(t, root)
	spec := filepath.Join(root, "overlay-containers", ctrs["job"].ID, "userdata", "config.json")
	os.WriteFile(spec, []byte(`{"ociVersion":"1.0.2-dev","process":{"args":["/bin/sh","-c","echo started"]}}`), 0o600)
	_, ctrs, problems := open(t, root)
	if got := ctrs["job"].Command; !slices.Equal(got, []string{"/bin/sh", "-c", "echo started"}) {
		t.Errorf("job: command %q", got)
	}
	if ctrs["web"].Command != nil || !hasProblem(problems, integrity.Degraded, "container web: its command is unknown: no podman state database") {
		t.Errorf("web: command %q, problems %v", ctrs["web"].Command, problems)
	}
	if hasProblem(problems, integrity.Degraded, "container job:") {
		t.Errorf("job: %v", problems)
	}
}

// podmanSchema is the part of podman's db.sql strata reads, as
// libpod/sqlite_state_internal.go creates it.
const podmanSchema = `
CREATE TABLE IF NOT EXISTS ContainerConfig(
        ID              TEXT    PRIMARY KEY NOT NULL,
        Name            TEXT    UNIQUE NOT NULL,
        PodID           TEXT,
        JSON            TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS ContainerState(
        ID       TEXT    PRIMARY KEY NOT NULL,
        State    INTEGER NOT NULL,
        ExitCode INTEGER,
        JSON     TEXT    NOT NULL,
        CHECK (ExitCode BETWEEN -1 AND 255)
);`

// writeSQLiteState writes db.sql into the graph root with the configs the
// real bolt_state.db holds, as podman >= 4.8 keeps them: its schema
// checkpointed into db.sql, its rows still only in the write-ahead log
// db.sql-wal, as a host powered off before sqlite's checkpoint leaves
// them. schema, when set, replaces ContainerConfig's table.
func writeSQLiteState(t *testing.T, root, schema string) {
	t.Helper()
	bolt, err := boltdb.Read(filepath.Join(root, "libpod", "bolt_state.db"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(work, "db.sql"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if schema == "" {
		schema = podmanSchema
	}
	for _, q := range []string{"PRAGMA journal_mode=WAL", "PRAGMA wal_autocheckpoint=0", schema, "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for id, b := range bolt.Bucket("ctr").Buckets() {
		var c struct {
			Name string `json:"name"`
		}
		json.Unmarshal(b.Get("config"), &c)
		if _, err := db.Exec(`INSERT INTO ContainerConfig VALUES (?, ?, NULL, ?)`, id, c.Name, string(b.Get("config"))); err != nil {
			t.Fatal(err)
		}
	}
	// Copied while the connection is open, before a checkpoint.
	for _, f := range []string{"db.sql", "db.sql-wal"} {
		data, err := os.ReadFile(filepath.Join(work, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Podman >= 4.8 keeps its state in db.sql, SQLite: read from a private
// copy with its write-ahead log, both hashed into the chain of custody.
func TestPodmanSQLiteState(t *testing.T) {
	root, _ := stateStore(t)
	writeSQLiteState(t, root, "")
	os.Remove(filepath.Join(root, "libpod", "bolt_state.db"))
	if fi, err := os.Stat(filepath.Join(root, "db.sql-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log: %v", err)
	}
	before := engines.Listing(t, root)
	s, ctrs, problems := open(t, root)
	if got := ctrs["job"].Command; !slices.Equal(got, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("job: command %q; problems %v", got, problems)
	}
	if got := ctrs["web"].Command; !slices.Equal(got, []string{"/usr/sbin/sshd", "-D", "-e"}) {
		t.Errorf("web: command %q", got)
	}
	if hasProblem(problems, integrity.Degraded, "command is unknown") || hasProblem(problems, integrity.Unreadable, "") {
		t.Errorf("problems %v", problems)
	}
	if engines.Listing(t, root) != before {
		t.Error("the store changed while it was read")
	}
	withWAL := s.Custody.Files()
	os.Remove(filepath.Join(root, "db.sql-wal"))
	s2, ctrs, problems := open(t, root)
	if s2.Custody.Files() != withWAL-1 {
		t.Errorf("%d files read with the log, %d without", withWAL, s2.Custody.Files())
	}
	// Without its log the database holds no container.
	if ctrs["job"].Command != nil || !hasProblem(problems, integrity.Degraded, "db.sql has no record of it") {
		t.Errorf("job without the log: %q, %v", ctrs["job"].Command, problems)
	}
}

// A db.sql whose ContainerConfig is not a table of stored columns is not
// queried: it is a problem naming it.
func TestPodmanSQLiteStateHostile(t *testing.T) {
	tests := []struct{ name, schema, want string }{
		{"view", `CREATE VIEW ContainerConfig AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT n AS ID, n AS Name, NULL AS PodID, n AS JSON FROM r;`, "not a stored table"},
		{"generated column", `CREATE TABLE ContainerConfig(ID TEXT, Name TEXT, PodID TEXT, J TEXT, JSON TEXT GENERATED ALWAYS AS (J) VIRTUAL);`, "no stored ID and JSON"},
		{"no table", `CREATE TABLE Other(x);`, "no ContainerConfig table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := stateStore(t)
			writeSQLiteStateRaw(t, root, tc.schema)
			os.Remove(filepath.Join(root, "libpod", "bolt_state.db"))
			_, ctrs, problems := open(t, root)
			if !hasProblem(problems, integrity.Unreadable, tc.want) {
				t.Errorf("no problem saying %q: %v", tc.want, problems)
			}
			if ctrs["job"] == nil {
				t.Error("no container job")
			}
		})
	}
	t.Run("not sqlite", func(t *testing.T) {
		root, _ := stateStore(t)
		os.WriteFile(filepath.Join(root, "db.sql"), []byte("not a database at all, but long enough to be read"), 0o644)
		_, _, problems := open(t, root)
		if !hasProblem(problems, integrity.Unreadable, "not an SQLite database") {
			t.Errorf("problems %v", problems)
		}
	})
}

// writeSQLiteStateRaw writes a db.sql of the given schema alone.
func writeSQLiteStateRaw(t *testing.T, root, schema string) {
	t.Helper()
	name := filepath.Join(root, "db.sql")
	db, err := sql.Open("sqlite", name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
}
