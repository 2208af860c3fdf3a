package cstorage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	// The pure-Go sqlite driver (database/sql's "sqlite"), already the one
	// strata reads rpm's databases with.
	_ "github.com/glebarez/go-sqlite"

	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/boltdb"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// What containers.json does not say of a podman container (its command,
// and its creation time where the record lacks it), podman keeps in its
// own state database below the graph root (libpod/boltdb_state.go,
// libpod/sqlite_state.go, in the static folder <graphroot>/libpod unless
// containers.conf moves it):
//
//	libpod/bolt_state.db   bbolt, podman < 4.8's default (Debian 12's 4.3)
//	                       ctr/<id>/config: the container's config, JSON
//	db.sql                 SQLite, podman >= 4.8 (the default from 5.0):
//	                       ContainerConfig(ID, Name, PodID, JSON)
//
// Both hold the same JSON, libpod's ContainerConfig (container_config.go),
// whose spec is the OCI runtime spec podman made the container with.
const (
	boltState   = "libpod/bolt_state.db"
	sqliteState = "db.sql"
)

// A container's userdata/config.json is the OCI runtime spec it was last
// started with (podman, CRI-O): the command when no state database says it.
const runtimeSpec = "userdata/config.json"

// Bounds on db.sql: its size with its log, each far above what podman
// writes, and the rows read of its ContainerConfig, far above the
// containers a host holds.
const (
	maxStateDB   = 1 << 30
	maxStateRows = 1 << 20
)

// sqliteWait bounds the reading of db.sql: a database of the evidence is
// not trusted to be quick to read.
const sqliteWait = 30 * time.Second

// podmanConfig is what strata reads of libpod's ContainerConfig.
type podmanConfig struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Spec *struct {
		Process *struct {
			Args []string `json:"args"`
		} `json:"process"`
	} `json:"spec"`
	Entrypoint      []string  `json:"entrypoint"`
	Command         []string  `json:"command"`
	CreatedTime     time.Time `json:"createdTime"`
	RootfsImageName string    `json:"rootfsImageName"`
}

// command is what the container runs: its spec's process (the image's
// entrypoint and command as podman resolved them, what `podman inspect`
// gives as Path and Args), else its entrypoint and command as recorded.
func (c *podmanConfig) command() []string {
	if c.Spec != nil && c.Spec.Process != nil && len(c.Spec.Process.Args) > 0 {
		return c.Spec.Process.Args
	}
	if len(c.Entrypoint)+len(c.Command) > 0 {
		return append(slices.Clip(c.Entrypoint), c.Command...)
	}
	return nil
}

// parseConfig reads one container's config JSON.
func parseConfig(data []byte) (*podmanConfig, error) {
	var c podmanConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// podmanState is what podman's state databases say of each container, by
// ID.
type podmanState struct {
	dbs     []string // the databases found
	damaged bool     // one of them cannot be read (a problem says so)
	configs map[string]*podmanConfig
	from    map[string]string // the database each config was read from
}

// podmanState reads the state databases the graph root holds, recording
// what cannot be read of them. It is nil when there is none.
func (s *Store) podmanState() *podmanState {
	st := &podmanState{configs: map[string]*podmanConfig{}, from: map[string]string{}}
	// db.sql first: podman >= 4.8 migrates bolt_state.db into it and
	// reads it from then on.
	for _, db := range []string{sqliteState, boltState} {
		name := s.p(db)
		if fi, err := s.Ev.Lstat(name); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		st.dbs = append(st.dbs, db)
		var configs map[string][]byte
		var err error
		if db == sqliteState {
			configs, err = readSQLiteState(s.Custody, name)
		} else {
			configs, err = readBoltState(s.Custody, name)
		}
		if err != nil {
			st.damaged = true
			s.Problem(name, integrity.Unreadable, "podman's state database: %v: the commands of the containers it records are unknown", err)
			continue
		}
		for _, id := range sortedIDs(configs) {
			if _, ok := st.configs[id]; ok {
				continue
			}
			c, err := parseConfig(configs[id])
			if err != nil {
				s.Problem(name, integrity.BadJSON, "podman's state database: container %s: its config: %v", short(id), err)
				continue
			}
			st.configs[id], st.from[id] = c, db
		}
	}
	if len(st.dbs) == 0 {
		return nil
	}
	return st
}

// readBoltState reads each container's config from bolt_state.db:
// ctr/<id>/config (libpod/boltdb_state_internal.go).
func readBoltState(c *engine.Custody, name string) (map[string][]byte, error) {
	root, err := boltdb.ReadEvidence(c, name)
	if err != nil {
		return nil, err
	}
	ctrs := root.Bucket("ctr")
	if ctrs == nil {
		if root.Bucket("all-ctrs") == nil && root.Bucket("runtime-config") == nil {
			return nil, errors.New("no ctr bucket: not podman's state")
		}
		return nil, nil // no container was ever created
	}
	out := map[string][]byte{}
	for id, b := range ctrs.Buckets() {
		if cfg := b.Get("config"); cfg != nil {
			out[id] = cfg
		}
	}
	return out, nil
}

var sqliteMagic = []byte("SQLite format 3\x00")

// readSQLiteState reads each container's config from db.sql's
// ContainerConfig table. The database is copied, with its write-ahead log
// (the newest rows may be only there), to a private scratch folder,
// hashed into the chain of custody as they are copied, and read there:
// sqlite takes locks and writes its shared-memory index beside a database
// it opens. The -shm index is not copied; sqlite rebuilds it from the log.
func readSQLiteState(c *engine.Custody, name string) (configs map[string][]byte, err error) {
	dir, err := os.MkdirTemp("", "strata-podman-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, path.Base(name))
	if err := c.CopyFile(name, cp, maxStateDB); err != nil {
		return nil, err
	}
	if fi, err := c.Root.Lstat(name + "-wal"); err == nil && fi.Mode().IsRegular() {
		if err := c.CopyFile(name+"-wal", cp+"-wal", maxStateDB); err != nil {
			return nil, err
		}
	}
	head := make([]byte, len(sqliteMagic))
	if f, err := os.Open(cp); err == nil {
		io.ReadFull(f, head)
		f.Close()
	}
	if !bytes.Equal(head, sqliteMagic) {
		return nil, fmt.Errorf("%s: not an SQLite database", path.Base(name))
	}
	defer func() {
		if r := recover(); r != nil {
			configs, err = nil, fmt.Errorf("%s: damaged database: %v", path.Base(name), r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	configs, err = querySQLiteState(cp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(name), err)
	}
	return configs, nil
}

// querySQLiteState reads ContainerConfig of the database copy at name,
// once it is known to be a table of stored columns: a view, a virtual
// table or a generated column would compute whatever the database's
// author wrote, for as long as they liked.
func querySQLiteState(name string) (map[string][]byte, error) {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(name)+"?mode=ro&_pragma=query_only(1)&_pragma=trusted_schema(0)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), sqliteWait)
	defer cancel()
	var typ, ddl string
	err = db.QueryRowContext(ctx, `SELECT type, coalesce(sql, '') FROM sqlite_master
		WHERE name = 'ContainerConfig' COLLATE NOCASE AND type IN ('table', 'view')`).Scan(&typ, &ddl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("no ContainerConfig table: not podman's state")
	}
	if err != nil {
		return nil, err
	}
	if typ != "table" || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(ddl)), "CREATE VIRTUAL") {
		return nil, fmt.Errorf("ContainerConfig is a %s, not a stored table", typ)
	}
	rows, err := db.QueryContext(ctx, `SELECT name, hidden FROM pragma_table_xinfo('ContainerConfig')`)
	if err != nil {
		return nil, err
	}
	stored := map[string]bool{}
	for rows.Next() {
		var col string
		var hidden int
		if err := rows.Scan(&col, &hidden); err != nil {
			rows.Close()
			return nil, err
		}
		// hidden: 0 a column, 1 a virtual table's hidden one, 2 and 3
		// generated (virtual, stored).
		stored[strings.ToLower(col)] = hidden == 0
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !stored["id"] || !stored["json"] {
		return nil, errors.New("ContainerConfig has no stored ID and JSON columns")
	}
	rows, err = db.QueryContext(ctx, `SELECT ID, JSON FROM ContainerConfig`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		if len(out) >= maxStateRows {
			return nil, fmt.Errorf("more than %d containers", maxStateRows)
		}
		var id string
		var js []byte
		if err := rows.Scan(&id, &js); err != nil {
			return nil, err
		}
		if len(js) > engine.MaxMetadata {
			return nil, fmt.Errorf("container %s: a config of more than %d bytes", short(id), engine.MaxMetadata)
		}
		out[id] = js
	}
	return out, rows.Err()
}

// command finds the command of container c, and its creation time and
// image name when podman's state has them: from podman's state, else its
// userdata/config.json. A command that cannot be found is said in a note.
func (s *Store) command(st *podmanState, rec containerRecord, display string) (cmd []string, created time.Time, imageName string) {
	id := rec.ID
	var why string
	switch c, ok := st.lookup(id); {
	case ok:
		if cmd = c.command(); len(cmd) > 0 {
			return cmd, c.CreatedTime, c.RootfsImageName
		}
		created, imageName = c.CreatedTime, c.RootfsImageName
		why = "podman's " + st.from[id] + " records none"
	case st == nil:
		why = "no podman state database (" + boltState + " or " + sqliteState + ")"
	case st.damaged:
		// The database that cannot be read is one problem, said once.
	default:
		why = "podman's " + strings.Join(st.dbs, " and ") + " has no record of it (a container of buildah or CRI-O?)"
	}
	if oci, _ := s.runtimeSpec(id); len(oci) > 0 {
		return oci, created, imageName
	}
	if why != "" {
		s.Problem(rec.from, integrity.Degraded,
			"container %s: its command is unknown: %s, and it has no %s (it was never started?)", display, why, runtimeSpec)
	}
	return nil, created, imageName
}

// runtimeSpec is the command of container id's userdata/config.json, or
// nil; found says whether there is one to read (a problem says why one
// cannot be).
func (s *Store) runtimeSpec(id string) (args []string, found bool) {
	if !engine.IsHex64(id) {
		return nil, false // an ID names no path
	}
	name := s.p("overlay-containers", id, runtimeSpec)
	if fi, err := s.Ev.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	var oci struct {
		Process *struct {
			Args []string `json:"args"`
		} `json:"process"`
	}
	if !s.readJSON(name, &oci) || oci.Process == nil {
		return nil, true
	}
	return oci.Process.Args, true
}

func (st *podmanState) lookup(id string) (*podmanConfig, bool) {
	if st == nil {
		return nil, false
	}
	c, ok := st.configs[id]
	return c, ok
}

func sortedIDs(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// short is an ID as the engines print it, 12 characters.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
