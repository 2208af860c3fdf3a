package scan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/internal/sched"
	"github.com/strata-forensics/strata/internal/testkit/strataexe"
)

func TestParseShard(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		spec string
		env  map[string]string
		want Shard
		err  string
	}{
		{"0/4", nil, Shard{0, 4}, ""},
		{"3/4", nil, Shard{3, 4}, ""},
		{"4/4", nil, Shard{}, "from 0 to 3"},
		{"-1/4", nil, Shard{}, "from 0 to 3"},
		{"1/0", nil, Shard{}, "above 0"},
		{"1", nil, Shard{}, "want I/N"},
		{"index/8", map[string]string{"JOB_COMPLETION_INDEX": "5"}, Shard{5, 8}, ""},
		{"index/4", map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1"}, Shard{3, 4}, ""},
		{"index/4", nil, Shard{}, "none of"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			clear(env)
			for k, v := range tc.env {
				env[k] = v
			}
			got, err := ParseShard(tc.spec, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseShard = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// Every layer is exactly one shard's, whatever the count.
func TestShardOwns(t *testing.T) {
	for n := 1; n <= 7; n++ {
		for i := range 200 {
			ref := blobRef{digest: digest.FromString(string(rune(i)))}
			owners := 0
			for k := range n {
				if (Shard{k, n}).owns(ref) {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("%d shards: layer %s owned by %d", n, ref.digest, owners)
			}
		}
	}
	if !(Shard{0, 3}).owns(blobRef{}) || (Shard{1, 3}).owns(blobRef{}) {
		t.Error("a layer with no digest is not shard 0's alone")
	}
}

// Shards run as processes against one shared cache folder assemble the
// same report, byte for byte, as one process does; a shard killed before
// it wrote some entries, and run again, leaves no gap; shards of another
// count are refused.
func TestShardsAssemble(t *testing.T) {
	bin := strataexe.Path(t)
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	fixtures, _ := filepath.Abs("../../fixtures/testdata")
	inputs := []string{filepath.Join(fixtures, "xz-planted.oci"), filepath.Join(fixtures, "multi.docker.tar"),
		filepath.Join(fixtures, "xz-planted.docker.tar.gz"), filepath.Join(fixtures, "whiteouts.oci.tar")}
	run := func(dir string, args ...string) (string, error) {
		c := exec.Command(bin, append(args, inputs...)...)
		c.Dir = dir
		c.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1711670400", "NO_COLOR=1")
		var out bytes.Buffer
		c.Stdout = &out
		c.Stderr = &out
		err := c.Run()
		return out.String(), err
	}
	cache := []string{"--cache", "cache", "--cache-key", key}
	assemble := func(dir string) string {
		out, err := run(dir, append([]string{"scan", "-q", "--json"}, cache...)...)
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
			t.Fatalf("assembling scan: %v\n%s", err, out)
		}
		return out
	}

	one := t.TempDir()
	if out, err := run(one, append([]string{"scan", "--shard", "0/1"}, cache...)...); err != nil {
		t.Fatalf("one shard: %v\n%s", err, out)
	}
	want := assemble(one)

	many := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	outs := make([]string, 3)
	for i := range 3 {
		wg.Go(func() {
			outs[i], errs[i] = run(many, append([]string{"scan", "--shard", []string{"0/3", "1/3", "2/3"}[i]}, cache...)...)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d/3: %v\n%s", i, err, outs[i])
		}
	}
	// Shard 1 "killed" before it wrote half its entries: they are gone.
	entries, _ := filepath.Glob(filepath.Join(many, "cache", "*", "sha256", "*"))
	for i, e := range entries {
		if i%2 == 0 {
			os.Remove(e)
		}
	}
	if out, err := run(many, append([]string{"scan", "--shard", "1/3"}, cache...)...); err != nil {
		t.Fatalf("shard 1/3 again: %v\n%s", err, out)
	}
	for _, s := range []string{"0/3", "2/3"} {
		if out, err := run(many, append([]string{"scan", "--shard", s}, cache...)...); err != nil {
			t.Fatalf("shard %s again: %v\n%s", s, err, out)
		}
	}
	got := assemble(many)
	// (Only Linux's file identities are read: elsewhere every blob is
	// read again.)
	if runtime.GOOS == "linux" && (!strings.Contains(got, `"by": "shard 1/3"`) || !strings.Contains(want, `"by": "shard 0/1"`)) {
		t.Error("the assembling scan names no shard's verification record: it read the image layout folder's blobs again")
	}
	// Which shard verified a blob is the one thing that differs: the
	// records name it, and the custody lists them.
	if got, want := shardless(got), shardless(want); got != want {
		t.Errorf("3 shards assemble another report than 1:\n%s", firstDiff(want, got))
	}
	if !strings.Contains(want, `"results": "cache"`) || strings.Contains(want, `"results": "computed"`) {
		t.Error("the assembling scan computed a layer: it should take every one from the shards' cache")
	}

	out, err := run(many, append([]string{"scan", "--shard", "0/2"}, cache...)...)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(out, "shards of another count") {
		t.Errorf("a shard of another count: %v\n%s", err, out)
	}
}

var (
	recordBy   = regexp.MustCompile(`"by": "shard \d+/\d+"`)
	verifiedBy = regexp.MustCompile(`(?s)"verified_by": \[[^]]*\],`)
)

// shardless is a JSON report without the names of the shards that
// verified its blobs.
func shardless(s string) string {
	return verifiedBy.ReplaceAllString(recordBy.ReplaceAllString(s, `"by": "shard"`), `"verified_by": [],`)
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i+1) + ": " + al[i] + "\n  vs: " + bl[i]
		}
	}
	return "lengths differ"
}

// A shard keeps of each layer it reads only what it reports (where the
// results came from, the layer's problems), and its cache keeps nothing
// of it in memory: the listings and findings are in the cache folder, and
// a shard of a mirror's thousands of layers must not hold them all to its
// end. Both ways a shard takes a layer are held to
// it: read and walked, and, rerun, taken from its own cache entry.
func TestShardKeepsNoListings(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	dir := t.TempDir()
	for _, pass := range []string{"read", "rerun"} {
		m := diskMemo(t, dir) // a process of its own: nothing in memory
		opts := Options{Engine: eng, Memo: m, Shard: &Shard{Index: 0, Count: 1}}
		r := newRun(opts, sched.New(), false)
		a, err := archive.Open(ctx, planted, opts.Archive)
		if err != nil {
			t.Fatal(err)
		}
		imgs, _, err := image.Load(ctx, a, opts.Image)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := r.readLayers(ctx, a, imgs)
		a.Close()
		if err != nil || len(layers) == 0 {
			t.Fatalf("%s: %d layers, %v", pass, len(layers), err)
		}
		if held := m.cache.Held(); held != 0 {
			t.Errorf("%s: the cache holds %d layers' entries in memory", pass, held)
		}
		for name, lr := range layers {
			if lr.Summary != nil || lr.Detect != nil {
				t.Errorf("%s: layer %s kept its listing (%v) or findings (%v)", pass, name, lr.Summary != nil, lr.Detect != nil)
			}
			if lr.Digest == "" || (pass == "rerun") != (lr.Cache != nil) {
				t.Errorf("%s: layer %s: digest %q, cache origin %+v", pass, name, lr.Digest, lr.Cache)
			}
			if got := m.share(eng, sched.New()).get(lr.Digest); got == nil || got.Summary == nil {
				t.Errorf("%s: layer %s is not in the cache", pass, name)
			}
		}
	}
}
