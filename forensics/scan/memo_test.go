package scan

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
)

func testEngine(t *testing.T) *detect.Engine {
	t.Helper()
	_, eng := builtin.Engine(t, detect.Options{})
	return eng
}

const planted = "../../fixtures/testdata/xz-planted.oci.tar"

func TestMemoSharesLayersAcrossInputs(t *testing.T) {
	eng := testEngine(t)
	memo := NewMemo("")
	first, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.oci", Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if memo.Hits != 0 {
		t.Fatalf("hits after the first input: %d", memo.Hits)
	}
	// Another input with the same layers (a second image on the same base).
	second, err := Run(context.Background(), copyDir(t, "../../fixtures/testdata/xz-planted.oci"), Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if memo.Hits != len(second.Images[0].Layers) {
		t.Fatalf("hits = %d, want every layer (%d) reused", memo.Hits, len(second.Images[0].Layers))
	}
	if len(first.Findings) == 0 || len(first.Findings) != len(second.Findings) {
		t.Fatalf("findings differ with a memo: %d vs %d", len(first.Findings), len(second.Findings))
	}
}

func TestCacheSurvivesRuns(t *testing.T) {
	eng := testEngine(t)
	dir := t.TempDir()
	cold, err := Run(context.Background(), planted, Options{Engine: eng, Memo: diskMemo(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	cold.Close()
	warmMemo := diskMemo(t, dir)
	warm, err := Run(context.Background(), planted, Options{Engine: eng, Memo: warmMemo})
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close()
	if warmMemo.Hits == 0 {
		t.Fatal("a new run did not reuse the cache folder")
	}
	if len(warm.Findings) != len(cold.Findings) || warm.Integrity().OK != cold.Integrity().OK {
		t.Fatalf("cached scan differs: %d findings vs %d", len(warm.Findings), len(cold.Findings))
	}
	// A cache from other rules is not reused.
	other := diskMemo(t, dir)
	res, err := Run(context.Background(), planted, Options{Memo: other})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	if other.Hits != 0 {
		t.Fatal("a cache entry made with detectors was reused without them")
	}
}

// A tampered blob is never taken from the memo: its digest is checked in
// every input, and it is then read in full.
func TestMemoStillVerifies(t *testing.T) {
	eng := testEngine(t)
	memo := NewMemo("")
	good, err := Run(context.Background(), "../../fixtures/testdata/xz-planted.oci", Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	// Copy the layout and flip a byte in layer 1's blob.
	dir := copyDir(t, "../../fixtures/testdata/xz-planted.oci")
	l := good.Images[0].Image.Layers[1]
	flipByte(t, filepath.Join(dir, filepath.FromSlash(l.Blob)))
	bad, err := Run(context.Background(), dir, Options{Engine: eng, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	found := false
	for _, pr := range bad.Problems {
		if pr.Kind == integrity.DigestMismatch && pr.Blob == l.Digest.String() {
			found = true
		}
	}
	if !found {
		t.Fatalf("tampered memoised layer not reported: %v", bad.Problems)
	}
}

// flipByte tampers with a file: the byte in its middle is inverted.
func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// RunAll reads copies of one image at once: every layer is walked once in
// all (the others verify their own copy and take the walk's result, whether
// they came after it or during it), every copy gives the same findings, and
// a tampered copy among them is still caught.
func TestRunAllSharesLayersWhileReading(t *testing.T) {
	eng := testEngine(t)
	for _, tc := range []struct {
		name, input string
		copy        func(*testing.T, string) string
	}{
		{"oci layout", "../../fixtures/testdata/xz-planted.oci", copyDir},
		{"legacy docker save", "../../fixtures/testdata/xz-planted.docker.tar", copyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const copies = 6
			paths := []string{tc.input}
			for range copies - 1 {
				paths = append(paths, tc.copy(t, tc.input))
			}
			memo := NewMemo("")
			outs := RunAll(context.Background(), paths, Options{Engine: eng, Memo: memo})
			layers := 0
			for i, o := range outs {
				if o.Err != nil || o.Path != paths[i] {
					t.Fatalf("outcome %d: %s %v, want %s", i, o.Path, o.Err, paths[i])
				}
				defer o.Result.Close()
				if !o.Result.Integrity().OK || len(o.Result.Findings) != len(outs[0].Result.Findings) || len(o.Result.Findings) == 0 {
					t.Fatalf("%s: integrity %v, %d findings (first input: %d)", o.Path, o.Result.Integrity(), len(o.Result.Findings), len(outs[0].Result.Findings))
				}
				layers = len(o.Result.Images[0].Layers)
			}
			if want := (copies - 1) * layers; memo.Hits != want {
				t.Fatalf("hits = %d, want %d: each of %d layers walked once", memo.Hits, want, layers)
			}
		})
	}
}

// A tampered copy in a fleet is caught whether it comes first (the copy
// walked, or offered for others to compare with) or in the middle (a copy
// compared or verified against another's), in folders and in tars, where
// each input's own hash compares its copy.
func TestRunAllCatchesATamperedCopy(t *testing.T) {
	eng := testEngine(t)
	for _, tc := range []struct {
		name, src string
		copy      func(*testing.T, string) string
		flip      func(t *testing.T, copy, blob string)
		compared  bool // the inputs' own hashes compare their copies
	}{
		{"oci layout", "../../fixtures/testdata/xz-planted.oci", copyDir, func(t *testing.T, c, blob string) {
			flipByte(t, filepath.Join(c, filepath.FromSlash(blob)))
		}, false},
		{"oci archive", planted, copyFile, flipMember, true},
		{"legacy docker save", "../../fixtures/testdata/xz-planted.docker.tar", copyFile, flipMember, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, err := Run(context.Background(), tc.src, Options{Engine: eng})
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			l := first.Images[0].Image.Layers[1]
			for _, at := range []int{0, 2} {
				paths := []string{tc.copy(t, tc.src), tc.copy(t, tc.src), tc.copy(t, tc.src), tc.copy(t, tc.src)}
				tc.flip(t, paths[at], l.Blob)
				memo := NewMemo("")
				outs := RunAll(context.Background(), paths, Options{Engine: eng, Memo: memo})
				for i, o := range outs {
					if o.Err != nil {
						t.Fatal(o.Err)
					}
					defer o.Result.Close()
					// A flipped byte shows as a digest or diff_id mismatch,
					// or, in a digest-less layer.tar, as the tar it broke.
					if caught := !o.Result.Integrity().OK; caught != (i == at) {
						t.Errorf("tampered copy at %d: input %d reports problems: %v (%v)", at, i, caught, o.Result.Problems)
					}
					if i != at && len(o.Result.Findings) != len(first.Findings) {
						t.Errorf("input %d: %d findings, want %d", i, len(o.Result.Findings), len(first.Findings))
					}
				}
				if compared := memo.compared > 0; compared != tc.compared {
					t.Errorf("tampered copy at %d: %d copies verified by the inputs' own hashes", at, memo.compared)
				}
			}
		})
	}
}

// flipMember flips a byte in the middle of a member of the tar at p.
func flipMember(t *testing.T, p, member string) {
	t.Helper()
	a, err := archive.Open(context.Background(), p, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := a.Stat(member)
	a.Close()
	if !ok || m.Size == 0 {
		t.Fatalf("%s: no member %s", p, member)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], m.Offset+m.Size/2); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], m.Offset+m.Size/2); err != nil {
		t.Fatal(err)
	}
}

// await takes another input's walk of the layer once its own copy is
// verified: hashed while the walk goes on, or, when the walker reads its
// input in place, compared with the walked blob afterwards. With no result
// left (the walk failed) or a copy that does not verify, it gives nil and
// the caller walks the blob itself.
func TestMemoAwait(t *testing.T) {
	blobBytes := []byte("layer bytes")
	d := digest.FromBytes(blobBytes)
	walked := blobCopy{open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blobBytes)), nil }, size: int64(len(blobBytes))}
	gone := blobCopy{open: func() (io.ReadCloser, error) { return nil, os.ErrClosed }, size: int64(len(blobBytes))}
	for _, tc := range []struct {
		name    string
		copy    []byte
		inPlace bool
		walked  blobCopy // where the walker's blob can be read again
		result  bool     // the walker leaves a result
		want    bool
	}{
		{"hashed: walk succeeds", blobBytes, false, blobCopy{}, true, true},
		{"hashed: walk fails", blobBytes, false, blobCopy{}, false, false},
		{"hashed: copy differs", []byte("layer bytez"), false, blobCopy{}, true, false},
		{"compared: walk succeeds", blobBytes, true, walked, true, true},
		{"compared: walk fails", blobBytes, true, walked, false, false},
		{"compared: copy differs", []byte("layer bytez"), true, walked, true, false},
		{"compared: copy shorter", blobBytes[:5], true, walked, true, false},
		{"compared: copy longer", append(slices.Clone(blobBytes), 'x'), true, walked, true, false},
		{"compared: walked copy closed, hashed instead", blobBytes, true, gone, true, true},
		{"compared: walked copy closed, bad copy", []byte("layer bytez"), true, gone, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemo("")
			s := &share{m: m, fp: "fp", cpu: sched.New()}
			ref := blobRef{name: "blob", digest: d, size: int64(len(tc.copy))}
			key := ref.key(s.fp)
			if _, claimed := s.claim(key, tc.inPlace); !claimed {
				t.Fatal("first claim refused")
			}
			busy, claimed := s.claim(key, false)
			if claimed || busy == nil {
				t.Fatal("second claim granted while the first walks")
			}
			got := make(chan *LayerResult)
			go func() {
				lr, _ := s.await(context.Background(), ref, bytes.NewReader(tc.copy), busy)
				got <- lr
			}()
			if tc.result {
				s.put(&LayerResult{Digest: d, Summary: &layer.Summary{}}, tc.walked)
			}
			s.release(key)
			lr := <-got
			if (lr != nil) != tc.want {
				t.Fatalf("await gave %v, want a result: %v", lr, tc.want)
			}
			if lr != nil && (lr.Blob != "blob" || lr.Digest != d || m.Hits != 1) {
				t.Fatalf("result %+v, hits %d", lr, m.Hits)
			}
		})
	}
}

// sameBytes is true only for the same bytes, as many as the verified copy
// holds, and reads nothing when that copy cannot be opened.
func TestSameBytes(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), compareBuffer/8+3) // crosses a piece
	flipped := slices.Clone(big)
	flipped[len(flipped)-1] ^= 1
	copyOf := func(b []byte, size int64) blobCopy {
		return blobCopy{open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, size: size}
	}
	for _, tc := range []struct {
		name           string
		walked         blobCopy
		r              []byte
		same, compared bool
	}{
		{"equal", copyOf(big, int64(len(big))), big, true, true},
		{"empty", copyOf(nil, 0), nil, true, true},
		{"last byte differs", copyOf(big, int64(len(big))), flipped, false, true},
		{"shorter by a piece", copyOf(big, int64(len(big))), big[:compareBuffer], false, true},
		{"longer", copyOf(big[:compareBuffer], compareBuffer), big, false, true},
		{"walked copy shorter than verified", copyOf(big[:10], int64(len(big))), big[:10], false, true},
		{"walked copy cannot be opened", blobCopy{open: func() (io.ReadCloser, error) { return nil, os.ErrClosed }}, big, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.r)
			same, compared := sameBytes(r, tc.walked)
			if same != tc.same || compared != tc.compared {
				t.Fatalf("sameBytes = %v, %v; want %v, %v", same, compared, tc.same, tc.compared)
			}
			if !compared && r.Len() != len(tc.r) {
				t.Fatalf("read %d bytes without comparing", len(tc.r)-r.Len())
			}
		})
	}
}

// --max-image-bytes bounds all of an image's layers together: a walk that
// crosses it stops with a limit problem, and an image whose layers came
// from the memo (not read again) is checked on their recorded sizes.
func TestMaxImageBytes(t *testing.T) {
	src := "../../fixtures/testdata/xz-planted.oci"
	total := layerTotal(t, src, func(s *layer.Summary) int64 { return s.UncompressedSize })
	limit := total - 1
	hasLimit := func(res *Result) bool {
		for _, p := range res.Problems {
			if p.Kind == integrity.Limit && strings.Contains(p.Detail, "--max-image-bytes") {
				return true
			}
		}
		return false
	}
	memo := NewMemo("")
	read, err := Run(context.Background(), src, Options{MaxImageBytes: limit, Memo: memo, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer read.Close()
	if !hasLimit(read) {
		t.Fatalf("walked: no --max-image-bytes problem at %d of %d bytes: %v", limit, total, read.Problems)
	}
	memo = NewMemo("")
	if _, err := Run(context.Background(), src, Options{Memo: memo}); err != nil {
		t.Fatal(err)
	}
	memoised, err := Run(context.Background(), copyDir(t, src), Options{MaxImageBytes: limit, Memo: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer memoised.Close()
	if memo.Hits == 0 || !hasLimit(memoised) {
		t.Fatalf("from the memo (%d hits): no --max-image-bytes problem: %v", memo.Hits, memoised.Problems)
	}
	ok, err := Run(context.Background(), src, Options{MaxImageBytes: total})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	if hasLimit(ok) {
		t.Fatalf("at exactly %d bytes the image is within the limit: %v", total, ok.Problems)
	}
}

// --max-input-entries counts the entries of all of an input's layers
// together.
func TestMaxInputEntries(t *testing.T) {
	src := "../../fixtures/testdata/xz-planted.oci"
	total := layerTotal(t, src, func(s *layer.Summary) int64 { return int64(len(s.Entries)) })
	for _, tc := range []struct {
		limit int64
		want  bool
	}{{total - 1, true}, {total, false}} {
		res, err := Run(context.Background(), src, Options{MaxInputEntries: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		got := false
		for _, p := range res.Problems {
			got = got || p.Kind == integrity.Limit && strings.Contains(p.Detail, "--max-input-entries")
		}
		if got != tc.want {
			t.Errorf("limit %d of %d entries: limit problem %v, want %v (%v)", tc.limit, total, got, tc.want, res.Problems)
		}
	}
}

// layerTotal sums a measure over the layers of src's first image, and
// fails unless no one layer holds all of it: the limit tests need a total
// that only several layers reach.
func layerTotal(t *testing.T, src string, measure func(*layer.Summary) int64) int64 {
	t.Helper()
	full, err := Run(context.Background(), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var total, largest int64
	for _, lr := range full.Images[0].Layers {
		total += measure(lr.Summary)
		largest = max(largest, measure(lr.Summary))
	}
	if largest >= total {
		t.Fatalf("%s: one layer holds all of it; the test needs several", src)
	}
	return total
}

// In a fleet, the memo keeps the results of the layers images build on for
// the whole scan, and those of a layer no image builds on (an image's top
// layer, its own) only while an input in flight reads it: a fleet of
// images on one base holds, once they are read, the base's results, not
// every image's own layer besides. Copies read at once still walk each
// layer once; a later input holding the forgotten layer walks it again,
// with the same findings.
func TestRunAllForgetsOwnLayers(t *testing.T) {
	eng := testEngine(t)
	src := "../../fixtures/testdata/xz-planted.oci"
	memo := NewMemo("")
	outs := RunAll(context.Background(), []string{src, copyDir(t, src)}, Options{Engine: eng, Memo: memo})
	for _, o := range outs {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		defer o.Result.Close()
	}
	img := outs[0].Result.Images[0]
	n := len(img.Layers)
	if n < 2 || memo.Hits != n {
		t.Fatalf("%d layers, %d hits: want the second copy to take all from the first", n, memo.Hits)
	}
	// kept says which results the memo holds in memory: an entry read
	// from a folder names its making (Origin).
	kept := func() (lower, top bool) {
		lower = true
		for i := range n {
			e, ok, _ := memo.cache.Get(img.LayerDigest(i), fingerprint(eng))
			ok = ok && e.Origin == nil
			if i < n-1 {
				lower = lower && ok
			} else {
				top = ok
			}
		}
		return lower, top
	}
	if lower, top := kept(); !lower || top {
		t.Fatalf("kept in memory: the lower layers' results %v (want true), the top layer's %v (want false)", lower, top)
	}
	if memo.enlisted != 0 || memo.undeclared != 0 || len(memo.wanted) != 0 || len(memo.own) != 0 {
		t.Fatalf("runs left enlisted: %d (%d undeclared), %d layers wanted, %d own results", memo.enlisted, memo.undeclared, len(memo.wanted), len(memo.own))
	}
	later := RunAll(context.Background(), []string{copyDir(t, src)}, Options{Engine: eng, Memo: memo})
	if later[0].Err != nil {
		t.Fatal(later[0].Err)
	}
	defer later[0].Result.Close()
	if memo.Hits != 2*n-1 || len(later[0].Result.Findings) != len(outs[0].Result.Findings) {
		t.Fatalf("later input: %d hits in all (want %d: its top layer walked again), %d findings (want %d)",
			memo.Hits, 2*n-1, len(later[0].Result.Findings), len(outs[0].Result.Findings))
	}

	// With a cache folder, every result stays: a later input taking it
	// from the folder would name the entry as its source.
	disk := diskMemo(t, t.TempDir())
	outs = RunAll(context.Background(), []string{src}, Options{Engine: eng, Memo: disk})
	if outs[0].Err != nil {
		t.Fatal(outs[0].Err)
	}
	defer outs[0].Result.Close()
	memo = disk
	if lower, top := kept(); !lower || !top {
		t.Fatalf("with a cache folder, kept in memory: the lower layers' results %v, the top layer's %v (want both)", lower, top)
	}

	// Inputs that never start (the scan was cancelled) leave nothing
	// enlisted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	memo = NewMemo("")
	for _, o := range RunAll(ctx, []string{src, src, src}, Options{Engine: eng, Memo: memo}) {
		if o.Result != nil {
			o.Result.Close()
		}
	}
	if memo.enlisted != 0 || memo.undeclared != 0 {
		t.Fatalf("after a cancelled fleet: %d runs enlisted, %d undeclared", memo.enlisted, memo.undeclared)
	}
}
