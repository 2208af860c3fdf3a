package cstorage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strata-forensics/strata/forensics/engine"
)

// FuzzPodmanState opens a graph root with one container whose config in
// podman's state database is the fuzzer's, in bolt_state.db or db.sql,
// and whose database file is then damaged at the fuzzer's offset (flip,
// when not 0, is xored into the byte there). Whatever they hold, the
// container is read to a command or none, the database to its records or
// a problem, never a panic or a hang.
func FuzzPodmanState(f *testing.F) {
	cfg := `{"spec":{"process":{"args":["/bin/sh","-c","echo hi"]}},"id":"` + fuzzID + `","name":"job",` +
		`"entrypoint":["/bin/sh"],"command":["-c","echo hi"],"createdTime":"2026-01-02T03:04:05Z","rootfsImageName":"localhost/app:1"}`
	f.Add([]byte(cfg), false, uint16(0), byte(0))
	f.Add([]byte(cfg), true, uint16(0), byte(0))
	f.Add([]byte(cfg), false, uint16(4096+20), byte(0xff))
	f.Add([]byte(cfg), true, uint16(100), byte(0x80))
	f.Add([]byte(`{"spec":null,"command":[1],"createdTime":"x"}`), false, uint16(0), byte(0))
	f.Add([]byte(`{"spec":{"process":{"args":null}}}`), true, uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, config []byte, useSQLite bool, at uint16, flip byte) {
		if len(config) > 1<<16 {
			return
		}
		root := t.TempDir()
		write := func(p, s string) {
			p = filepath.Join(root, p)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(s), 0o644)
		}
		write("overlay-images/images.json", "[]")
		write("overlay-layers/layers.json", "[]")
		write("overlay-containers/containers.json", `[{"id":"`+fuzzID+`","names":["job"],"image":"`+fuzzID+`","layer":"`+fuzzID+`"}]`)
		db := filepath.Join(root, "libpod", "bolt_state.db")
		if useSQLite {
			db = filepath.Join(root, "db.sql")
			if !writeSQLite(db, config) {
				return
			}
		} else if !writeBolt(db, config) {
			return
		}
		if flip != 0 {
			data, err := os.ReadFile(db)
			if err != nil || len(data) == 0 {
				return
			}
			data[int(at)%len(data)] ^= flip
			os.WriteFile(db, data, 0o644)
		}
		s, err := Open(context.Background(), root)
		if err != nil || s == nil {
			return
		}
		defer s.Close()
		s.(*engine.Store).Catalog()
		s.(*engine.Store).Problems()
	})
}

const fuzzID = "2222222222222222222222222222222222222222222222222222222222222222"

func writeBolt(name string, config []byte) bool {
	os.MkdirAll(filepath.Dir(name), 0o755)
	db, err := bolt.Open(name, 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return false
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		ctr, err := tx.CreateBucket([]byte("ctr"))
		if err != nil {
			return err
		}
		b, err := ctr.CreateBucket([]byte(fuzzID))
		if err != nil {
			return err
		}
		return b.Put([]byte("config"), config)
	}) == nil
}

func writeSQLite(name string, config []byte) bool {
	// No journal and no fsync: the file is the fuzzer's scratch, made
	// hundreds of times a second.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(name)+"?_pragma=synchronous(0)&_pragma=journal_mode(off)")
	if err != nil {
		return false
	}
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL, PodID TEXT, JSON TEXT NOT NULL)`)
	if err == nil {
		_, err = db.Exec(`INSERT INTO ContainerConfig VALUES (?, 'job', NULL, ?)`, fuzzID, string(config))
	}
	return err == nil
}
