package scan

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/layercache"
)

// TestCacheFromAnOlderWalkIsNotReused: a cache entry of an older format
// (format 2 was written before a walk left eStargz metadata out of a
// layer's entries) holds a Summary the current walk would not give; even
// authenticated under the right key, it is recomputed, not reused, and
// named.
func TestCacheFromAnOlderWalkIsNotReused(t *testing.T) {
	eng := testEngine(t)
	dir := t.TempDir()
	cold, err := Run(context.Background(), planted, Options{Engine: eng, Memo: diskMemo(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	cold.Close()
	rewritten := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".entry") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h, body, err := layercache.Decode(b, testCacheKey(t))
		if err != nil {
			return err
		}
		h.Format = 2
		var out bytes.Buffer
		if err := layercache.Encode(&out, testCacheKey(t), h, body); err != nil {
			return err
		}
		rewritten++
		return os.WriteFile(p, out.Bytes(), 0o644)
	})
	if err != nil || rewritten == 0 {
		t.Fatalf("rewriting the cache: %v (%d entries)", err, rewritten)
	}
	warm := diskMemo(t, dir)
	res, err := Run(context.Background(), planted, Options{Engine: eng, Memo: warm})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	if warm.Hits != 0 {
		t.Errorf("%d layers taken from format-2 cache entries", warm.Hits)
	}
	if res.Cache == nil || len(res.Cache.Rejected) == 0 || res.Cache.Rejected[0].Reason != layercache.OtherFormat {
		t.Errorf("the format-2 entries are not named: %+v", res.Cache)
	}
}
