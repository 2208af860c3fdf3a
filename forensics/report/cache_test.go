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
