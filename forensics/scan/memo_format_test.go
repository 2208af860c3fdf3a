package scan

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheFromAnOlderWalkIsNotReused: a cache entry written in format 2,
// before a walk left eStargz metadata out of a layer's entries, holds a
// Summary the current walk would not give; it is recomputed, not reused.
func TestCacheFromAnOlderWalkIsNotReused(t *testing.T) {
	eng := testEngine(t)
	dir := t.TempDir()
	cold, err := Run(context.Background(), planted, Options{Engine: eng, Memo: NewMemo(dir)})
	if err != nil {
		t.Fatal(err)
	}
	cold.Close()
	rewritten := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return err
		}
		var c map[string]any
		err = json.NewDecoder(zr).Decode(&c)
		f.Close()
		if err != nil {
			return err
		}
		c["format"] = 2
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		zw := gzip.NewWriter(out)
		if err := json.NewEncoder(zw).Encode(c); err != nil {
			return err
		}
		rewritten++
		if err := zw.Close(); err != nil {
			return err
		}
		return out.Close()
	})
	if err != nil || rewritten == 0 {
		t.Fatalf("rewriting the cache: %v (%d entries)", err, rewritten)
	}
	warm := NewMemo(dir)
	res, err := Run(context.Background(), planted, Options{Engine: eng, Memo: warm})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	if warm.Hits != 0 {
		t.Errorf("%d layers taken from format-2 cache entries", warm.Hits)
	}
}
