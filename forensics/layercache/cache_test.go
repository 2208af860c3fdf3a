package layercache

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
)

func entry(name string, n int) Entry {
	sum := &layer.Summary{DiffID: digest.FromString("diff " + name)}
	for range n {
		sum.Entries = append(sum.Entries, &layer.Entry{Path: "/f"})
	}
	det := &detect.LayerResult{Findings: []finding.Finding{
		{Path: "/usr/lib/liblzma.so.5", Rule: "xz-backdoor-signature", Severity: finding.Critical},
		{Path: "/usr/bin/xz", Rule: "xz-version", Severity: finding.High},
	}}
	return Entry{Digest: digest.FromString(name), Summary: sum, Detect: det}
}

const (
	fp      = "0123456789abcdef-rules"
	otherFP = "fedcba9876543210-other"
)

func testKey(t testing.TB, seed string) *Key {
	t.Helper()
	k, err := NewKey([]byte(strings.Repeat(seed, MinKeyBytes)[:MinKeyBytes]))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t testing.TB, cfg Config) *Cache {
	t.Helper()
	if cfg.Dir != "" && cfg.Key == nil {
		cfg.Key = testKey(t, "k")
	}
	if cfg.ToolVersion == "" {
		cfg.ToolVersion = "1.0.0 (test)"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMemoryBound(t *testing.T) {
	c := Memory()
	c.maxEntries = 10
	a, b, d := entry("a", 4), entry("b", 4), entry("d", 4)
	c.Put(a, fp)
	c.Put(b, fp)
	if _, ok, _ := c.Get(a.Digest, fp); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.Put(d, fp) // 12 entries > 10: b, the least recently used, goes
	if _, ok, _ := c.Get(b.Digest, fp); ok {
		t.Error("b kept past the bound")
	}
	for _, e := range []Entry{a, d} {
		if _, ok, _ := c.Get(e.Digest, fp); !ok {
			t.Errorf("%s dropped", e.Digest)
		}
	}
	if c.entries != 8 {
		t.Errorf("%d entries counted, want 8", c.entries)
	}
	big := entry("big", 50) // alone over the bound: kept, the rest dropped
	c.Put(big, fp)
	if _, ok, _ := c.Get(big.Digest, fp); !ok || c.lru.Len() != 1 {
		t.Errorf("a lone entry over the bound: kept %v, %d held", ok, c.lru.Len())
	}
}

// Forget drops an entry from memory, and its entries from the count; the
// others stay.
func TestForget(t *testing.T) {
	c := Memory()
	a, b := entry("a", 4), entry("b", 3)
	c.Put(a, fp)
	c.Put(b, fp)
	c.Forget(a.Digest, fp)
	c.Forget(a.Digest, fp) // twice: nothing more to drop
	if _, ok, _ := c.Get(a.Digest, fp); ok {
		t.Error("a kept after Forget")
	}
	if _, ok, _ := c.Get(b.Digest, fp); !ok || c.entries != 3 || c.lru.Len() != 1 {
		t.Errorf("b kept %v; %d entries counted, %d held; want 3, 1", ok, c.entries, c.lru.Len())
	}
}

// A folder keeps what memory drops, with where it came from: the key, the
// time it was made and the version that made it.
func TestDisk(t *testing.T) {
	dir := t.TempDir()
	made := time.Date(2024, 3, 29, 12, 0, 0, 0, time.UTC)
	c := open(t, Config{Dir: dir, Now: func() time.Time { return made }})
	a := entry("a", 3)
	c.Put(a, fp)
	if got, ok, _ := c.Get(a.Digest, fp); !ok || got.Origin != nil {
		t.Fatalf("computed here: %v, origin %+v", ok, got.Origin)
	}
	// A writer killed mid-write leaves its temporary file beside the
	// entry: no reader looks at it.
	p := filepath.Join(dir, Path(a.Digest, fp))
	if err := os.WriteFile(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".incomplete-42"), []byte(magic+"{"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := open(t, Config{Dir: dir})
	got, ok, rej := fresh.Get(a.Digest, fp)
	if !ok || rej != nil || len(got.Summary.Entries) != 3 || got.Digest != a.Digest || len(got.Detect.Findings) != 2 {
		t.Fatalf("from disk: %+v %v %v", got, ok, rej)
	}
	want := Origin{KeyID: testKey(t, "k").ID(), Created: made, ToolVersion: "1.0.0 (test)"}
	if got.Origin == nil || *got.Origin != want {
		t.Errorf("origin %+v, want %+v", got.Origin, want)
	}
	if d, rej := fresh.DigestFor(a.Summary.DiffID, fp); d != a.Digest || rej != nil {
		t.Errorf("DigestFor = %q %v", d, rej)
	}
	// Other rules keep their entries apart: nothing there, nothing
	// rejected.
	if _, ok, rej := open(t, Config{Dir: dir}).Get(a.Digest, otherFP); ok || rej != nil {
		t.Errorf("an entry of other rules: taken %v, rejection %v", ok, rej)
	}
}

// rewrite applies edit to the bytes of the entry file p.
func rewrite(t *testing.T, p string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reencode decodes the entry at p under k, lets edit change its header and
// body, and writes it back authenticated under k.
func reencode(t *testing.T, p string, k *Key, edit func(*Header, *body)) {
	t.Helper()
	rewrite(t, p, func(b []byte) []byte {
		h, raw, err := Decode(b, k)
		if err != nil {
			t.Fatal(err)
		}
		var bd body
		if h.Kind == KindLayer {
			bd = decodeBody(t, raw)
		}
		edit(&h, &bd)
		if h.Kind == KindLayer {
			raw = encodeBody(t, bd)
		}
		var out bytes.Buffer
		if err := Encode(&out, k, h, raw); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	})
}

func decodeBody(t *testing.T, raw []byte) body {
	t.Helper()
	sum, det, err := UnmarshalResults(raw)
	if err != nil {
		t.Fatal(err)
	}
	return body{Summary: sum, Detect: det}
}

func encodeBody(t *testing.T, bd body) []byte {
	t.Helper()
	b, err := MarshalResults(bd.Summary, bd.Detect)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every entry that cannot be trusted is a miss, with the reason named
// once to Rejected, never an error or a wrong answer.
func TestRejections(t *testing.T) {
	a, b := entry("a", 3), entry("b", 2)
	k := testKey(t, "k")
	cases := []struct {
		name   string
		tool   string // the reading cache's version, when not the writer's
		spoil  func(t *testing.T, dir string)
		lookup digest.Digest
		reason Reason
		detail string
	}{
		{name: "a finding dropped, MAC left as it was", reason: Unauthenticated, detail: "MAC does not match",
			spoil: func(t *testing.T, dir string) {
				p := filepath.Join(dir, Path(a.Digest, fp))
				rewrite(t, p, func(old []byte) []byte {
					h, raw, err := Decode(old, k)
					if err != nil {
						t.Fatal(err)
					}
					bd := decodeBody(t, raw)
					bd.Detect.Findings = bd.Detect.Findings[1:]
					var out bytes.Buffer
					if err := Encode(&out, k, h, encodeBody(t, bd)); err != nil {
						t.Fatal(err)
					}
					// The intruder has no key: the old MAC stays.
					forged := out.Bytes()
					return append(forged[:len(forged)-trailerLen], old[len(old)-trailerLen:]...)
				})
			}},
		{name: "one byte flipped", reason: Unauthenticated, detail: "MAC does not match",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func(b []byte) []byte { b[len(b)-trailerLen-10] ^= 1; return b })
			}},
		{name: "truncated", reason: Truncated, detail: "of the",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func(b []byte) []byte { return b[:len(b)/2] })
			}},
		{name: "truncated in its first line", reason: Truncated, detail: "first line",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func(b []byte) []byte { return b[:5] })
			}},
		{name: "empty", reason: Truncated,
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func([]byte) []byte { return nil })
			}},
		{name: "bytes appended", reason: Unauthenticated, detail: "past the end",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func(b []byte) []byte { return append(b, "more"...) })
			}},
		{name: "MAC removed", reason: Truncated,
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func(b []byte) []byte { return b[:len(b)-trailerLen] })
			}},
		{name: "an older unauthenticated entry", reason: Unauthenticated, detail: "older format",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func([]byte) []byte {
					var zb bytes.Buffer
					zw := gzip.NewWriter(&zb)
					json.NewEncoder(zw).Encode(map[string]any{"format": 3, "digest": a.Digest, "summary": a.Summary})
					zw.Close()
					return zb.Bytes()
				})
			}},
		{name: "not an entry", reason: Unauthenticated, detail: "not a strata cache entry",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, Path(a.Digest, fp)), func([]byte) []byte { return []byte("not gzip") })
			}},
		{name: "written under another key", reason: OtherKey, detail: "not this key",
			spoil: func(t *testing.T, dir string) {
				open(t, Config{Dir: dir, Key: testKey(t, "other")}).Put(a, fp)
			}},
		{name: "another key, this key's id forged", reason: Unauthenticated, detail: "MAC does not match",
			spoil: func(t *testing.T, dir string) {
				other := testKey(t, "other")
				open(t, Config{Dir: dir, Key: other}).Put(a, fp)
				p := filepath.Join(dir, Path(a.Digest, fp))
				rewrite(t, p, func(b []byte) []byte { return bytes.Replace(b, []byte(other.ID()), []byte(k.ID()), 1) })
			}},
		{name: "another ruleset's entry moved in", reason: OtherRuleset, detail: "other rules",
			spoil: func(t *testing.T, dir string) {
				open(t, Config{Dir: dir}).Put(a, otherFP)
				b, err := os.ReadFile(filepath.Join(dir, Path(a.Digest, otherFP)))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, Path(a.Digest, fp)), b, 0o644)
			}},
		{name: "another tool version", tool: "2.0.0", reason: OtherToolVersion, detail: `"1.0.0 (test)"`},
		{name: "another format", reason: OtherFormat, detail: "format 3",
			spoil: func(t *testing.T, dir string) {
				reencode(t, filepath.Join(dir, Path(a.Digest, fp)), k, func(h *Header, _ *body) { h.Format = 3 })
			}},
		{name: "two entries swapped", reason: Wrong, detail: "moved or swapped",
			spoil: func(t *testing.T, dir string) {
				pa, pb := filepath.Join(dir, Path(a.Digest, fp)), filepath.Join(dir, Path(b.Digest, fp))
				if err := os.Rename(pa, pa+".tmp"); err != nil {
					t.Fatal(err)
				}
				os.Rename(pb, pa)
				os.Rename(pa+".tmp", pb)
			}},
		{name: "authenticated, no summary", reason: Wrong, detail: "no walk summary",
			spoil: func(t *testing.T, dir string) {
				reencode(t, filepath.Join(dir, Path(a.Digest, fp)), k, func(_ *Header, bd *body) { bd.Summary = nil })
			}},
		{name: "diff_id index edited", lookup: a.Summary.DiffID, reason: Unauthenticated, detail: "MAC does not match",
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, DiffIDPath(a.Summary.DiffID, fp)), func(old []byte) []byte {
					return bytes.Replace(old, []byte(a.Digest.Encoded()), []byte(b.Digest.Encoded()), 1)
				})
			}},
		{name: "diff_id index truncated", lookup: a.Summary.DiffID, reason: Truncated,
			spoil: func(t *testing.T, dir string) {
				rewrite(t, filepath.Join(dir, DiffIDPath(a.Summary.DiffID, fp)), func(b []byte) []byte { return b[:len(b)-1] })
			}},
		{name: "a layer entry in the diff_id index's place", lookup: a.Summary.DiffID, reason: Wrong, detail: "moved or swapped",
			spoil: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, Path(a.Digest, fp)))
				os.WriteFile(filepath.Join(dir, DiffIDPath(a.Summary.DiffID, fp)), b, 0o644)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := open(t, Config{Dir: dir, Key: k})
			w.Put(a, fp)
			w.Put(b, fp)
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			var named []Rejection
			var mu sync.Mutex
			r := open(t, Config{Dir: dir, Key: k, ToolVersion: tc.tool, Rejected: func(r Rejection) {
				mu.Lock()
				named = append(named, r)
				mu.Unlock()
			}})
			var rej *Rejection
			for range 2 { // named once, however many lookups
				if tc.lookup == a.Summary.DiffID {
					var d digest.Digest
					if d, rej = r.DigestFor(tc.lookup, fp); d != "" {
						t.Fatalf("DigestFor took %s", d)
					}
					continue
				}
				var ok bool
				var got Entry
				if got, ok, rej = r.Get(a.Digest, fp); ok {
					t.Fatalf("taken: %d findings", len(got.Detect.Findings))
				}
			}
			if rej == nil || rej.Reason != tc.reason || !strings.Contains(rej.Detail, tc.detail) {
				t.Fatalf("rejection %+v, want %s with %q", rej, tc.reason, tc.detail)
			}
			if len(named) != 1 || named[0] != *rej {
				t.Fatalf("named %+v, want the rejection once", named)
			}
			if rej.Entry == "" || filepath.IsAbs(rej.Entry) || !strings.Contains(rej.String(), string(tc.reason)) {
				t.Errorf("rejection names %q: %s", rej.Entry, rej)
			}
			// Once the results are computed again, the entry is good.
			r.Put(a, fp)
			again := open(t, Config{Dir: dir, Key: k, ToolVersion: tc.tool})
			if _, ok, rej := again.Get(a.Digest, fp); !ok || rej != nil {
				t.Errorf("rewritten entry: taken %v, rejection %v", ok, rej)
			}
			if d, rej := again.DigestFor(a.Summary.DiffID, fp); d != a.Digest || rej != nil {
				t.Errorf("rewritten diff_id entry: %q %v", d, rej)
			}
		})
	}
}

// A folder needs a key, kept outside it.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Config{Dir: dir}); err == nil {
		t.Error("a folder with no key accepted")
	}
	p := filepath.Join(dir, "cache.key")
	writeKey(t, p, 0o600)
	k, err := LoadKey(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, ".", "sub", "..")} {
		if _, err := New(Config{Dir: d, Key: k}); err == nil || !strings.Contains(err.Error(), "inside the cache folder") {
			t.Errorf("a key in the cache folder %s: %v", d, err)
		}
	}
	for _, d := range []string{t.TempDir(), filepath.Join(dir, "sub")} {
		if _, err := New(Config{Dir: d, Key: k}); err != nil {
			t.Errorf("a key outside the folder %s: %v", d, err)
		}
	}
	// A cache folder holding the key, named through a link.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err == nil {
		if _, err := New(Config{Dir: link, Key: k}); err == nil {
			t.Error("a key in the cache folder, named through a link, accepted")
		}
	}
}

func writeKey(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte("0123456789abcdef0123456789abcdef0123456789abcdef\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	writeKey(t, good, 0o600)
	k, err := LoadKey(good)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewKey([]byte("0123456789abcdef0123456789abcdef0123456789abcdef"))
	if k.ID() != want.ID() || len(k.ID()) != 2*KeyIDBytes || k.Path != good {
		t.Errorf("key id %s (path %s), want %s: the trailing newline is not part of the key", k.ID(), k.Path, want.ID())
	}
	readonly := filepath.Join(dir, "readonly.key")
	writeKey(t, readonly, 0o400)
	if _, err := LoadKey(readonly); err != nil {
		t.Errorf("a key only its owner can read: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		make       func(p string)
	}{
		{"world-readable", "mode 0644", func(p string) { writeKey(t, p, 0o644) }},
		{"group-readable", "mode 0640", func(p string) { writeKey(t, p, 0o640) }},
		{"world-writable", "mode 0602", func(p string) { writeKey(t, p, 0o602) }},
		{"a symbolic link", "symbolic link", func(p string) { os.Symlink(good, p) }},
		{"a folder", "not a regular file", func(p string) { os.Mkdir(p, 0o700) }},
		{"too short", "at least 32", func(p string) { os.WriteFile(p, []byte("short\n"), 0o600) }},
		{"absent", "no such file", func(string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cache.key")
			tc.make(p)
			_, err := LoadKey(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadKey: %v, want an error naming %s and saying %q", err, p, tc.want)
			}
			if _, err := LoadOrCreateKey(p); tc.name != "absent" && err == nil {
				t.Errorf("LoadOrCreateKey accepted it")
			}
		})
	}
}

// The default key is made on first use, 0600 in a 0700 folder of the
// user's configuration, and is the same key for every process after.
func TestDefaultKey(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
	t.Setenv("AppData", cfg)
	p, err := DefaultKeyPath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, cfg) || filepath.Base(p) != "cache.key" {
		t.Fatalf("default key path %s", p)
	}
	keys := make([]*Key, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(p) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if keys[i].ID() != keys[0].ID() {
			t.Fatalf("processes creating the key at once got different keys")
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := os.Stat(filepath.Dir(p))
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("key mode %v in a folder of mode %v", st.Mode().Perm(), dst.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("left beside the key: %v", ents)
	}
	again, err := LoadOrCreateKey(p)
	if err != nil || again.ID() != keys[0].ID() {
		t.Errorf("the key read back: %v %v", again.ID(), err)
	}
}

// Processes sharing a folder write the same entries at once (separate
// Cache values, as separate processes would be) while others read them:
// a read gives a whole entry or nothing, never a rejection.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	k := testKey(t, "k")
	es := []Entry{entry("a", 2000), entry("b", 10), entry("c", 500)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	for w := range 6 {
		wg.Go(func() {
			clock := time.Unix(int64(1711670400+w), 0)
			c := open(t, Config{Dir: dir, Key: k, Now: func() time.Time { return clock }, Rejected: func(r Rejection) {
				mu.Lock()
				problems = append(problems, r.String())
				mu.Unlock()
			}})
			for i := range 30 {
				e := es[(w+i)%len(es)]
				c.Put(e, fp)
			}
		})
		wg.Go(func() {
			for i := range 60 {
				c := open(t, Config{Dir: dir, Key: k, Rejected: func(r Rejection) {
					mu.Lock()
					problems = append(problems, r.String())
					mu.Unlock()
				}})
				e := es[(w+i)%len(es)]
				got, ok, rej := c.Get(e.Digest, fp)
				if rej != nil {
					mu.Lock()
					problems = append(problems, rej.String())
					mu.Unlock()
				}
				if ok && (len(got.Summary.Entries) != len(e.Summary.Entries) || got.Digest != e.Digest) {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s read with %d entries", e.Digest, len(got.Summary.Entries)))
					mu.Unlock()
				}
				if d, rej := c.DigestFor(e.Summary.DiffID, fp); rej != nil || (d != "" && d != e.Digest) {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("diff_id: %q %v", d, rej))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d problems, first: %s", len(problems), problems[0])
	}
	var temps []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "incomplete") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporaries left: %v", temps)
	}
}

// FuzzDecode: whatever bytes an entry file holds, Decode does not panic,
// and takes only what a key holder wrote; what it takes encodes back to
// the very same bytes. A cache reading the bytes as an entry gives a miss
// with a reason, or the entry.
func FuzzDecode(f *testing.F) {
	k := testKey(f, "k")
	dir := f.TempDir()
	c := open(f, Config{Dir: dir, Key: k})
	a := entry("a", 3)
	c.Put(a, fp)
	for _, p := range []string{Path(a.Digest, fp), DiffIDPath(a.Summary.DiffID, fp)} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte(magic + "{}\n"))
	f.Add([]byte(magic + `{"format":4,"kind":"layer","body_size":-1}` + "\n"))
	f.Add([]byte{0x1f, 0x8b, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := Decode(b, k)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("an error with no reason: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, k, h, body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("taken, but not what the key holder wrote:\n%q\n%q", b, out.Bytes())
		}
		// And through the cache, as the file of a's entry.
		d := t.TempDir()
		p := filepath.Join(d, Path(a.Digest, fp))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok, rej := open(t, Config{Dir: d, Key: k}).Get(a.Digest, fp)
		if ok == (rej != nil) || (ok && got.Summary == nil) {
			t.Fatalf("Get: ok %v, rejection %v", ok, rej)
		}
	})
}
