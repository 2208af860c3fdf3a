package pkgdb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rpmdbGoroutines returns the stacks of goroutines running go-rpmdb code
// that are not in before, giving those on their way out a second to finish.
func rpmdbGoroutines(before map[string]bool) map[string]string {
	left := map[string]string{}
	for range 50 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		clear(left)
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			id, _, _ := strings.Cut(g, " [")
			if strings.Contains(g, "github.com/knqyf263/go-rpmdb") && !before[id] {
				left[id] = g
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return left
}

// badRegionHeader passes checkHeader (its one entry is of a type the
// pre-check does not follow) but fails go-rpmdb's region check.
func badRegionHeader() []byte {
	b := make([]byte, 8+16+16)
	binary.BigEndian.PutUint32(b[0:], 1)
	binary.BigEndian.PutUint32(b[4:], 16)
	return b
}

// TestParseRPMNoLeak: a database whose first header passes the pre-check
// and then fails in go-rpmdb's parser, followed by good ones. go-rpmdb's
// ListPackages returns on the first bad header while its reader goroutine
// waits, forever, to send the next one on an unbuffered channel (holding
// the file, or an sqlite connection, open). Each format is tried.
func TestParseRPMNoLeak(t *testing.T) {
	bdb, err := os.ReadFile("testdata/rpm/affected/Packages")
	if err != nil {
		t.Fatal(err)
	}
	blobs := sqliteBlobs(t, "testdata/rpm/affected/rpmdb.sqlite")
	tests := []struct {
		name string
		b    []byte
	}{
		{"bdb", func() []byte {
			b := bytes.Clone(bdb)
			ps := int(binary.LittleEndian.Uint32(b[20:]))
			_, _, chain := bdbPages(t, b)
			// The first header the reader sends: its region entry's tag
			// set to 0 keeps the pre-check happy, not go-rpmdb's.
			binary.BigEndian.PutUint32(b[chain*ps+bdbPageHeader+8:], 0)
			return b
		}()},
		{"ndb", ndbFrom(t, append([][]byte{badRegionHeader()}, blobs...))},
		{"sqlite", func() []byte {
			ddl := "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)"
			for i, b := range append([][]byte{badRegionHeader()}, blobs...) {
				ddl += fmt.Sprintf("; INSERT INTO Packages VALUES (%d, x'%s')", i+1, hex.EncodeToString(b))
			}
			return sqliteWith(t, ddl)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			before := map[string]bool{}
			for id := range rpmdbGoroutines(nil) {
				before[id] = true
			}
			_, err := Parse(RPM, "/var/lib/rpm/x", bytes.NewReader(tt.b), int64(len(tt.b)), 0)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "go-rpmdb") {
				t.Fatalf("error %v, want go-rpmdb's complaint as ErrMalformed", err)
			}
			if left := rpmdbGoroutines(before); len(left) != 0 {
				var stacks []string
				for _, g := range left {
					stacks = append(stacks, g)
				}
				t.Fatalf("%d go-rpmdb goroutines left blocked:\n%s", len(left), strings.Join(stacks, "\n\n"))
			}
		})
	}
}
