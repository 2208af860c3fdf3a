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

// A docker save layer.tar has no descriptor digest: the memo finds it by
// its diff_id and reuses it only when its bytes hash to the blob walked
// before.
func TestMemoReusesDigestlessLayersByDiffID(t *testing.T) {
	eng := testEngine(t)
	for _, tc := range []struct {
		name  string
		input string
	}{
		{"legacy docker save", "../../fixtures/testdata/xz-planted.docker.tar"},
		{"legacy docker save, gzip as a whole", "../../fixtures/testdata/xz-planted.docker.tar.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, dir := range []string{"", t.TempDir()} {
				memo := diskMemo(t, dir)
				first, err := Run(context.Background(), tc.input, Options{Engine: eng, Memo: memo})
				if err != nil {
					t.Fatal(err)
				}
				defer first.Close()
				if memo.Hits != 0 {
					t.Fatalf("hits after the first input: %d", memo.Hits)
				}
				if dir != "" {
					memo = diskMemo(t, dir) // a later run, through the cache folder
				}
				second, err := Run(context.Background(), copyFile(t, tc.input), Options{Engine: eng, Memo: memo})
				if err != nil {
					t.Fatal(err)
				}
				defer second.Close()
				layers := len(second.Images[0].Layers)
				if memo.Hits != layers {
					t.Fatalf("cache %q: hits = %d, want every layer (%d) reused", dir, memo.Hits, layers)
				}
				if len(first.Findings) == 0 || len(first.Findings) != len(second.Findings) || !second.Integrity().OK {
					t.Fatalf("cache %q: findings %d vs %d, integrity %v", dir, len(first.Findings), len(second.Findings), second.Integrity())
				}
				for i, l := range second.Images[0].Layers {
					want := first.Images[0].Layers[i]
					if l.Digest != want.Digest || l.Summary.DiffID != want.Summary.DiffID {
						t.Fatalf("layer %d: digest %s diff_id %s, want %s %s", i, l.Digest, l.Summary.DiffID, want.Digest, want.Summary.DiffID)
					}
				}
			}
		})
	}
}

// A blob whose content matches a remembered diff_id but whose bytes differ
// (changed after the first scan) is walked again, and its problems show.
func TestMemoDigestlessMismatchIsReadAgain(t *testing.T) {
	eng := testEngine(t)
	dir := t.TempDir()
	first, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.docker.tar", Options{Engine: eng, Memo: diskMemo(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// Remember a wrong digest for every diff_id, in entries that
	// authenticate, and forget the layers remembered by their diff_id
	// (a layer.tar's own digest): no blob can verify.
	rewritten := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(filepath.ToSlash(p), "/diffid/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h, _, err := layercache.Decode(b, testCacheKey(t))
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := layercache.Encode(&out, testCacheKey(t), h, []byte("sha256:0000000000000000000000000000000000000000000000000000000000000000")); err != nil {
			return err
		}
		rewritten++
		own := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(p))), "sha256", filepath.Base(p))
		if err := os.Remove(own); err != nil {
			return err
		}
		return os.WriteFile(p, out.Bytes(), 0o644)
	})
	if err != nil || rewritten == 0 {
		t.Fatalf("rewriting the diff_id entries: %v (%d)", err, rewritten)
	}
	memo := diskMemo(t, dir)
	second, err := Run(context.Background(), copyFile(t, "../../fixtures/testdata/xz-planted.docker.tar"), Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if memo.Hits != 0 {
		t.Fatalf("hits = %d with no matching blob", memo.Hits)
	}
	if second.Cache == nil || len(second.Cache.Rejected) != 0 {
		t.Fatalf("authenticated entries naming another blob rejected: %+v", second.Cache)
	}
	if len(second.Findings) != len(first.Findings) || !second.Integrity().OK {
		t.Fatalf("findings %d vs %d, integrity %v", len(second.Findings), len(first.Findings), second.Integrity())
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
