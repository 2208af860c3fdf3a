package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// layerCache is a layer's record of where its results came from, and of
// the verification record (with the file identity it holds) its blob was
// taken as verified by.
var layerCache = regexp.MustCompile(`,"cache":\{"results":"cache"[^{}]*(\{[^{}]*\{[^{}]*\}\})?\}`)

// jobArgs returns the strata arguments of the first container of the
// Indexed Job manifest in docs/shards: its "args:" list.
func jobArgs(t *testing.T, manifest string) []string {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "args:":
			in = true
		case in && strings.HasPrefix(trimmed, "- "):
			args = append(args, strings.TrimPrefix(trimmed, "- "))
		case in:
			return args
		}
	}
	t.Fatalf("%s: no args list", manifest)
	return nil
}

// The documented Indexed Job runs unchanged: its args, with the
// completion index Kubernetes sets in each pod, shard the scan, and the
// assembling scan then reports what one process would.
func TestIndexedJobManifest(t *testing.T) {
	args := jobArgs(t, "../../../../docs/shards/indexed-job.yaml")
	if strings.Join(args, " ") != "scan --shard index/8 --cache /cache --cache-key /key/cache.key /registry" {
		t.Fatalf("the manifest's args changed: %q (update this test with it)", args)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "cache.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	input, _ := filepath.Abs(filepath.Join(fixturesDir, "xz-planted.oci"))
	cache := filepath.Join(dir, "cache")
	paths := strings.NewReplacer("/cache", cache, "/key/cache.key", key, "/registry", input)
	for i := range 8 {
		t.Setenv("JOB_COMPLETION_INDEX", string(rune('0'+i)))
		run := make([]string, len(args))
		for j, a := range args {
			run[j] = paths.Replace(a)
		}
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), testBuild, run, &out, &errOut); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s%s", i, code, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "shard "+string(rune('0'+i))+"/8") {
			t.Errorf("shard %d says:\n%s", i, out.String())
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1711670400")
	report := func(extra ...string) string {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), testBuild, append([]string{"scan", "-q", "--format", "jsonl"}, append(extra, input)...), &out, &errOut)
		if code != exitFindings {
			t.Fatalf("exit %d\n%s", code, errOut.String())
		}
		return out.String()
	}
	assembled := report("--cache", cache, "--cache-key", key)
	if !strings.Contains(assembled, `"results":"cache"`) || strings.Contains(assembled, `"results":"computed"`) {
		t.Errorf("the assembly computed a layer the shards had cached:\n%s", assembled)
	}
	// (Only Linux's file identities are read: elsewhere every blob is
	// read again.)
	if runtime.GOOS == "linux" && (strings.Contains(assembled, `"verification":"read"`) || !strings.Contains(assembled, `"verification":"record","verification_record":{"by":"shard `)) {
		t.Errorf("the assembly read a blob again that a shard had verified, in an image layout folder left as it was:\n%s", assembled)
	}
	// One process says the same, but for where each layer's results
	// came from.
	alone := report()
	if got := layerCache.ReplaceAllString(assembled, ""); got != alone {
		t.Errorf("shards and one process differ:\n%s\n%s", got, alone)
	}
}
