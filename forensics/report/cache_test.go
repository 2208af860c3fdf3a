package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// cachedSource is sampleSource as a scan with a cache folder gives it:
// layers 0 and 2 taken from the cache, layer 1 computed again after its
// entry was rejected.
func cachedSource(t testing.TB) Source {
	src := sampleSource(t)
	made := t0.Add(-time.Hour)
	from := &LayerCache{Results: FromCache, KeyID: "0123456789abcdef", Created: made, ToolVersion: "v0.0.0-test (0123abc)"}
	img := &src.Images[0]
	img.Layers[0].Cache = from
	img.Layers[1].Cache = &LayerCache{Results: Computed}
	later := *from
	later.Created = made.Add(time.Minute)
	img.Layers[2].Cache = &later
	src.Images[1].Layers[0].Cache = from
	src.Cache = &SourceCache{Folder: "/var/cache/strata", KeyID: "0123456789abcdef", Rejected: []CacheRejection{{
		Kind: "layer", Digest: digest.FromString("layer1").String(), Entry: "0123456789abcdef/sha256/" + digest.FromString("layer1").Encoded() + ".entry",
		Reason: "unauthenticated", Detail: "its MAC does not match under key 0123456789abcdef: edited or damaged since it was written",
	}}}
	return src
}

func TestCacheCustody(t *testing.T) {
	d := NewDocument(testMeta(t), cachedSource(t), cleanSource(t))
	c := d.Custody.Cache
	if c == nil || c.KeyID != "0123456789abcdef" || c.LayersFromCache != 2 || c.LayersComputed != 1 || len(c.Rejected) != 1 {
		t.Fatalf("custody %+v", c)
	}
	words := "2 layers taken from the cache folder /var/cache/strata under key id 0123456789abcdef (entries made by strata v0.0.0-test (0123abc), 2024-03-29 11:00:00 UTC to 2024-03-29 11:01:00 UTC); 1 layer computed; 1 entry rejected and its layer computed again"
	if c.Words() != words {
		t.Errorf("words:\n%s\nwant\n%s", c.Words(), words)
	}

	out := render(t, d, JSON, TextOptions{})
	if err := validate(t, reportSchema(t), out); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
	var rep struct {
		Custody struct {
			Cache struct {
				KeyID    string           `json:"key_id"`
				FromC    int              `json:"layers_from_cache"`
				Rejected []CacheRejection `json:"rejected"`
			} `json:"cache"`
		} `json:"custody"`
		Inputs []struct {
			Images []struct {
				Layers []struct {
					Cache *LayerCache `json:"cache"`
				} `json:"layers"`
			} `json:"images"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	ls := rep.Inputs[0].Images[0].Layers
	if rep.Custody.Cache.KeyID != "0123456789abcdef" || rep.Custody.Cache.FromC != 2 || len(rep.Custody.Cache.Rejected) != 1 ||
		ls[0].Cache.Results != "cache" || ls[0].Cache.ToolVersion == "" || ls[0].Cache.Created.IsZero() || ls[1].Cache.Results != "computed" || ls[1].Cache.KeyID != "" {
		t.Errorf("json: %s", out)
	}
	if !bytes.Contains(out, []byte(`"cache": {
                "results": "computed"
              }`)) {
		t.Errorf("a computed layer records more than that: %s", out)
	}

	text := string(render(t, d, Text, TextOptions{}))
	for _, want := range []string{"cache: " + words, "cache-rejected  unauthenticated  layer sha256:", ".entry: its MAC does not match"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	md := string(render(t, d, Markdown, TextOptions{}))
	for _, want := range []string{"| Layer cache | 2 layers taken from the cache folder /var/cache/strata under key id 0123456789abcdef", "### Rejected cache entries", "| unauthenticated | its MAC does not match"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	html := string(render(t, d, HTML, TextOptions{}))
	for _, want := range []string{"<tr><th>Layer cache</th><td>2 layers taken from the cache folder /var/cache/strata", "<h3>Rejected cache entries</h3>", "<td>unauthenticated</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

// A scan with no cache folder writes what it always wrote: no cache
// field, no custody line (the goldens hold the rest).
func TestNoCacheNoRecord(t *testing.T) {
	d := NewDocument(testMeta(t), sampleSource(t))
	for _, f := range []Format{JSON, Text, Markdown, HTML} {
		out := string(render(t, d, f, TextOptions{}))
		if strings.Contains(out, `"cache"`) || strings.Contains(strings.ToLower(out), "layer cache") || strings.Contains(out, "cache-rejected") {
			t.Errorf("%s mentions a cache:\n%s", f, out)
		}
	}
}

// A layer whose blob was not read, taken as verified by a shard's record,
// says so: in its cache record, with the record's making and the file
// identity it matched, and in the custody's line of every format; a
// rejected verification record says its blob was read again.
func TestCacheCustodyVerifiedByRecord(t *testing.T) {
	src := cachedSource(t)
	img := &src.Images[0]
	rec := &VerificationRecord{By: "shard 1/4", At: t0.Add(-time.Hour), KeyID: "0123456789abcdef", ToolVersion: "v0.0.0-test (0123abc)",
		File: FileIdentity{Size: 3457, Mtime: 1711666800_000000001, Ctime: 1711666800_000000002, Inode: 42}}
	l0 := *img.Layers[0].Cache
	l0.Verification, l0.Record = VerifiedRecord, rec
	img.Layers[0].Cache = &l0
	img.Layers[1].Cache.Verification = VerifiedRead
	src.Cache.Rejected = append(src.Cache.Rejected, CacheRejection{Kind: "verified", Digest: digest.FromString("layer2").String(),
		Entry: "verified/sha256/" + digest.FromString("layer2").Encoded() + ".entry", Reason: "other-key", Detail: `written under key id "fedcba9876543210", not this key (0123456789abcdef)`})
	d := NewDocument(testMeta(t), src, cleanSource(t))
	c := d.Custody.Cache
	if c.LayersVerifiedByRecord != 1 || len(c.VerifiedBy) != 1 || c.VerifiedBy[0] != "shard 1/4" {
		t.Fatalf("custody %+v", c)
	}
	words := "; 1 layer verified by the records of shard 1/4, not read again (their files unchanged since)"
	if !strings.Contains(c.Words(), words) {
		t.Errorf("words %q lack %q", c.Words(), words)
	}
	out := render(t, d, JSON, TextOptions{})
	if err := validate(t, reportSchema(t), out); err != nil {
		t.Fatalf("does not validate: %v", err)
	}
	for _, want := range []string{`"verification": "record"`, `"by": "shard 1/4"`, `"inode": 42`, `"ctime_ns": 1711666800000000002`,
		`"verification": "read"`, `"layers_verified_by_record": 1`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("json lacks %s", want)
		}
	}
	text := string(render(t, d, Text, TextOptions{}))
	for _, want := range []string{words, "cache-rejected  other-key  verification of layer sha256:", "; blob read and hashed again"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []Format{Markdown, HTML} {
		if out := string(render(t, d, f, TextOptions{})); !strings.Contains(out, "verified by the records of shard 1/4, not read again") {
			t.Errorf("%s lacks the records' line", f)
		}
	}
}
