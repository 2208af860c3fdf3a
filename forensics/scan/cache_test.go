package scan

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
)

// testCacheKey is the key the tests' cache folders are authenticated with:
// never the user's own.
func testCacheKey(t testing.TB) *layercache.Key {
	return cacheKey(t, "test")
}

func cacheKey(t testing.TB, seed string) *layercache.Key {
	t.Helper()
	k, err := layercache.NewKey([]byte(strings.Repeat(seed, layercache.MinKeyBytes)[:layercache.MinKeyBytes]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// diskMemo is a memo over the cache folder dir (memory only for ""),
// authenticated with testCacheKey.
func diskMemo(t testing.TB, dir string) *Memo {
	t.Helper()
	return openMemo(t, layercache.Config{Dir: dir})
}

func openMemo(t testing.TB, cfg layercache.Config) *Memo {
	t.Helper()
	if cfg.Dir != "" && cfg.Key == nil {
		cfg.Key = testCacheKey(t)
	}
	m, err := OpenMemo(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// entryFiles are the layer entries of a cache folder.
func entryFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".entry") && !strings.Contains(filepath.ToSlash(p), "/diffid/") {
			out = append(out, p)
		}
		return err
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("no entries in %s: %v", dir, err)
	}
	return out
}

// editEntries rewrites every layer entry of dir that edit changes: the
// results decoded with key, the bytes written back with the MAC they had,
// as an intruder without the key would leave them.
func editEntries(t *testing.T, dir string, edit func(*detect.LayerResult) bool) int {
	t.Helper()
	n := 0
	for _, p := range entryFiles(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, body, err := layercache.Decode(b, testCacheKey(t))
		if err != nil {
			t.Fatal(err)
		}
		sum, det, err := layercache.UnmarshalResults(body)
		if err != nil {
			t.Fatal(err)
		}
		if det == nil {
			det = &detect.LayerResult{}
		}
		if !edit(det) {
			continue
		}
		edited, err := layercache.MarshalResults(sum, det)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		// Any key will do to frame it: the MAC is the old one.
		if err := layercache.Encode(&out, testCacheKey(t), h, edited); err != nil {
			t.Fatal(err)
		}
		forged := out.Bytes()
		mac := b[bytes.LastIndex(b, []byte("mac hmac-sha256 ")):]
		forged = append(forged[:bytes.LastIndex(forged, []byte("mac hmac-sha256 "))], mac...)
		if err := os.WriteFile(p, forged, 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func high(fs []finding.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity >= finding.High {
			n++
		}
	}
	return n
}

// The case and its kin: an entry of a cache folder that cannot be
// trusted is never taken. Its layer is read and judged again, the finding
// an intruder dropped is back, and the rejection is named in the result,
// to the caller as it happens, and in the report's chain of custody. A
// later scan takes the rewritten entries, and says so, layer by layer.
func TestUntrustedCacheEntriesAreRecomputed(t *testing.T) {
	eng := testEngine(t)
	_, deep := builtin.Engine(t, detect.Options{Deep: true})
	cases := []struct {
		name   string
		reason layercache.Reason
		tool   string // the version of the scans after the spoiling
		spoil  func(t *testing.T, dir string)
	}{
		{name: "a finding dropped", reason: layercache.Unauthenticated, spoil: func(t *testing.T, dir string) {
			if n := editEntries(t, dir, func(d *detect.LayerResult) bool {
				if len(d.Findings) == 0 {
					return false
				}
				d.Findings = d.Findings[1:]
				return true
			}); n == 0 {
				t.Fatal("no entry holds a finding")
			}
		}},
		{name: "truncated", reason: layercache.Truncated, spoil: func(t *testing.T, dir string) {
			for _, p := range entryFiles(t, dir) {
				b, _ := os.ReadFile(p)
				os.WriteFile(p, b[:len(b)*2/3], 0o644)
			}
		}},
		{name: "another key", reason: layercache.OtherKey, spoil: func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			scanOnce(t, openMemo(t, layercache.Config{Dir: dir, Key: cacheKey(t, "intruder")}), eng)
		}},
		{name: "another ruleset", reason: layercache.OtherRuleset, spoil: func(t *testing.T, dir string) {
			other := t.TempDir()
			scanOnce(t, diskMemo(t, other), deep)
			for _, p := range entryFiles(t, other) {
				rel, _ := filepath.Rel(other, p)
				parts := strings.SplitN(filepath.ToSlash(rel), "/", 2)
				b, _ := os.ReadFile(p)
				os.WriteFile(filepath.Join(dir, eng.Fingerprint()[:16], parts[1]), b, 0o644)
			}
		}},
		{name: "another tool version", reason: layercache.OtherToolVersion, tool: "2.0.0"},
		{name: "two entries swapped", reason: layercache.Wrong, spoil: func(t *testing.T, dir string) {
			ps := entryFiles(t, dir)
			if len(ps) < 2 {
				t.Fatal("fewer than two entries")
			}
			a, _ := os.ReadFile(ps[0])
			b, _ := os.ReadFile(ps[1])
			os.WriteFile(ps[0], b, 0o644)
			os.WriteFile(ps[1], a, 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			made := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
			cold := scanOnce(t, openMemo(t, layercache.Config{Dir: dir, ToolVersion: "1.0.0", Now: func() time.Time { return made }}), eng)
			if high(cold.Findings) == 0 {
				t.Fatal("the fixture has no high finding")
			}
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			tool := tc.tool
			if tool == "" {
				tool = "1.0.0"
			}
			var mu sync.Mutex
			var named []layercache.Rejection
			memo := openMemo(t, layercache.Config{Dir: dir, ToolVersion: tool, Rejected: func(r layercache.Rejection) {
				mu.Lock()
				named = append(named, r)
				mu.Unlock()
			}})
			warm := scanOnce(t, memo, eng)
			if len(warm.Findings) != len(cold.Findings) || high(warm.Findings) != high(cold.Findings) {
				t.Fatalf("after the spoiling: %d findings (%d high), want %d (%d high)", len(warm.Findings), high(warm.Findings), len(cold.Findings), high(cold.Findings))
			}
			if warm.Cache == nil || len(warm.Cache.Rejected) == 0 || len(named) != len(warm.Cache.Rejected) {
				t.Fatalf("rejections: result %+v, named %d", warm.Cache, len(named))
			}
			for _, r := range warm.Cache.Rejected {
				if r.Reason != tc.reason {
					t.Errorf("rejected for %s (%s), want %s", r.Reason, r.Detail, tc.reason)
				}
			}
			for _, lr := range warm.Images[0].Layers {
				for _, r := range warm.Cache.Rejected {
					if r.Digest == lr.Digest && lr.Cache != nil {
						t.Errorf("layer %s taken from the cache after its entry was rejected", lr.Digest)
					}
				}
			}
			doc := report.NewDocument(report.Meta{Version: "test"}, warm.ReportSource())
			c := doc.Custody.Cache
			if c == nil || c.KeyID != testCacheKey(t).ID() || len(c.Rejected) != len(warm.Cache.Rejected) || c.LayersComputed == 0 {
				t.Fatalf("custody: %+v", c)
			}
			var text bytes.Buffer
			if err := doc.WriteText(&text, report.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "cache-rejected  "+string(tc.reason)) || !strings.Contains(text.String(), "COMPROMISED") {
				t.Errorf("text report:\n%s", text.String())
			}

			// The layers computed again were written back: a third scan
			// takes every layer from the cache, and says so.
			third := openMemo(t, layercache.Config{Dir: dir, ToolVersion: tool})
			again := scanOnce(t, third, eng)
			if len(again.Findings) != len(cold.Findings) || len(again.Cache.Rejected) != 0 {
				t.Fatalf("third scan: %d findings, rejected %+v", len(again.Findings), again.Cache.Rejected)
			}
			doc = report.NewDocument(report.Meta{Version: "test"}, again.ReportSource())
			for _, l := range doc.Inputs[0].Images[0].Layers {
				if l.Cache == nil || l.Cache.Results != report.FromCache || l.Cache.KeyID != testCacheKey(t).ID() || l.Cache.ToolVersion != tool || l.Cache.Created.IsZero() {
					t.Errorf("layer %d: %+v", l.Index, l.Cache)
				}
			}
			if c := doc.Custody.Cache; c.LayersComputed != 0 || c.LayersFromCache != len(doc.Inputs[0].Images[0].Layers) {
				t.Errorf("custody of a scan all from the cache: %+v", c)
			}
		})
	}
}

// scanOnce scans the planted fixture with the memo and closes the input.
func scanOnce(t *testing.T, m *Memo, eng *detect.Engine) *Result {
	t.Helper()
	res, err := Run(context.Background(), planted, Options{Engine: eng, Memo: m})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	return res
}

// A scan with no cache folder records nothing of one; a first scan with a
// folder computes every layer, and says so.
func TestCacheProvenance(t *testing.T) {
	eng := testEngine(t)
	res := scanOnce(t, NewMemo(""), eng)
	doc := report.NewDocument(report.Meta{}, res.ReportSource())
	if res.Cache != nil || doc.Custody.Cache != nil || doc.Inputs[0].Images[0].Layers[0].Cache != nil {
		t.Errorf("no folder, yet cache records: %+v %+v", res.Cache, doc.Custody.Cache)
	}
	res = scanOnce(t, diskMemo(t, t.TempDir()), eng)
	doc = report.NewDocument(report.Meta{}, res.ReportSource())
	for _, l := range doc.Inputs[0].Images[0].Layers {
		if l.Cache == nil || l.Cache.Results != report.Computed || l.Cache.KeyID != "" {
			t.Errorf("layer %d of a first scan: %+v", l.Index, l.Cache)
		}
	}
	if c := doc.Custody.Cache; c == nil || c.LayersFromCache != 0 || c.LayersComputed != len(doc.Inputs[0].Images[0].Layers) || len(c.Rejected) != 0 {
		t.Errorf("custody of a first scan: %+v", c)
	}
}

// NewMemo with a folder authenticates it with the default key, made in
// the user's configuration folder on first use; a key that cannot be
// used leaves it in memory.
func TestNewMemoDefaultKey(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
	t.Setenv("AppData", cfg)
	dir := t.TempDir()
	scanOnce(t, NewMemo(dir), nil)
	warm := NewMemo(dir)
	scanOnce(t, warm, nil)
	if warm.Hits == 0 {
		t.Error("the default key did not authenticate its own entries")
	}
	p, _ := layercache.DefaultKeyPath()
	k, err := layercache.LoadKey(p)
	if err != nil || warm.KeyID() != k.ID() {
		t.Errorf("key %v, memo's key id %s", err, warm.KeyID())
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if m := NewMemo(dir); m.KeyID() != "" {
		t.Error("a world-readable default key used")
	}
}
