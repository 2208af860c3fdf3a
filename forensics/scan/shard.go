package scan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/blob"
)

// A Shard is one of Count processes that share an input's distinct layers
// between them by digest (a stable split: the same layer is always the
// same shard's, whatever input holds it), each verifying and scanning its
// own into a shared cache folder; a scan without a shard then assembles
// every report from the cache without decompressing a layer again.
type Shard struct {
	Index, Count int
}

// ShardResult is what a shard did.
type ShardResult struct {
	Shard
	// Layers is how many distinct layers the input has, Mine how many of
	// them are this shard's, Cached how many of those were in the cache
	// already (verified, not read again).
	Layers, Mine, Cached int
}

// ShardEnv are the variables a shard's index is read from by ParseShard,
// in order: a Kubernetes Indexed Job's, a Slurm job array's.
var ShardEnv = []string{"JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"}

// ParseShard reads "I/N" (0 <= I < N): shard I of N. I may be "index",
// read from the first of ShardEnv that getenv gives (a Slurm array's from
// SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN, so that --array=1-4 is
// shards 0 to 3).
func ParseShard(s string, getenv func(string) string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("--shard %q: want I/N, as 0/4", s)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return Shard{}, fmt.Errorf("--shard %q: N must be a whole number above 0", s)
	}
	if is == "index" {
		is = ""
		for _, v := range ShardEnv {
			if is = getenv(v); is != "" {
				if v == "SLURM_ARRAY_TASK_ID" {
					if lo, err := strconv.Atoi(getenv("SLURM_ARRAY_TASK_MIN")); err == nil {
						if id, err := strconv.Atoi(is); err == nil {
							is = strconv.Itoa(id - lo)
						}
					}
				}
				break
			}
		}
		if is == "" {
			return Shard{}, fmt.Errorf("--shard %q: none of %s is set", s, strings.Join(ShardEnv, ", "))
		}
	}
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("--shard %q: I must be a whole number from 0 to %d", s, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// owns reports whether the layer ref is the shard's: by its first 64 bits
// (of its blob digest, else its diff_id) modulo Count. A layer with
// neither is shard 0's.
func (s Shard) owns(ref blobRef) bool {
	d := ref.digest
	if d == "" || blob.Validate(d) != nil {
		d = ref.diffID
	}
	if d == "" || blob.Validate(d) != nil {
		return s.Index == 0
	}
	return shardOf(d, s.Count) == s.Index
}

func shardOf(d digest.Digest, n int) int {
	hex := d.Encoded()
	v, err := strconv.ParseUint(hex[:min(16, len(hex))], 16, 64)
	if err != nil {
		return 0
	}
	return int(v % uint64(n))
}

// shardMark names the file in a cache folder that says how many shards
// fill it.
const shardMark = "shards"

// ErrShardsMix is returned by a shard whose count differs from the one
// the cache folder was filled with: its split of the layers would not be
// the others', and some layers would be no one's.
var ErrShardsMix = errors.New("shards of another count fill this cache folder")

// claimCache records the shard count in the cache folder dir, or checks
// it against the one recorded. The file is created exclusively, so that
// of shards starting at once on a shared filesystem one writes it and the
// others read it; it holds only the count, and is as untrusted as any
// file of the folder: a count edited in it stops shards, never changes a
// report.
func (s Shard) claimCache(dir string) error {
	if dir == "" {
		return errors.New("--shard needs --cache DIR: the folder the shards fill and the assembly reads")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := filepath.Join(dir, shardMark)
	want := fmt.Sprintf("%d\n", s.Count)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, werr := f.WriteString(want)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		return werr
	}
	if !errors.Is(err, os.ErrExist) {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if string(b) == "" {
		return nil // another shard is writing it now
	}
	if got := strings.TrimSpace(string(b)); got != strings.TrimSpace(want) {
		return fmt.Errorf("%w: %s says %s, this shard is of %d (use another --cache folder, or remove %s)", ErrShardsMix, p, got, s.Count, p)
	}
	return nil
}

// kept is what the run keeps of a layer's result once it is in the cache.
// A shard reports only where each of its layers' results came from and
// their problems: the listing and findings are in the cache folder for
// the assembling scan, and no other layer of the shard's asks for them
// again, so neither the run nor the cache's memory keeps them. Both did,
// to the shard's end: a shard of a mirror's thousands of layers would
// have held every listing it read (up to the cache's bound in memory,
// some 500 MB).
func (r *run) kept(lr *LayerResult) *LayerResult {
	if r.opts.Shard == nil || lr == nil {
		return lr
	}
	if r.share.m != nil && lr.Digest != "" {
		r.share.m.cache.Forget(lr.Digest, r.share.fp)
	}
	return &LayerResult{Blob: lr.Blob, Digest: lr.Digest, Problems: lr.Problems, Cache: lr.Cache, Verified: lr.Verified}
}

// shardResult completes the result of a shard's scan: what it read, and
// the problems of its own layers (each once).
func (r *run) shardResult(res *Result, layers map[string]*LayerResult, now func() time.Time) *Result {
	sr := &ShardResult{Shard: *r.opts.Shard, Layers: len(layers) + len(r.skipped), Mine: len(layers)}
	for _, name := range sortedKeys(layers) {
		lr := layers[name]
		if lr.Cache != nil {
			sr.Cached++
		}
		res.Problems = append(res.Problems, lr.Problems...)
	}
	res.Problems = dedupeProblems(res.Problems)
	res.Shard = sr
	res.Cache = r.share.use()
	res.Finished = now().UTC()
	return res
}
