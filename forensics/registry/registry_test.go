package registry

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/integrity"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseLink(t *testing.T) {
	tests := []struct {
		link string
		ok   bool
	}{
		{"sha256:" + hexA, true},
		{"sha512:" + strings.Repeat("b", 128), true},
		{"sha256:" + hexA + "\n", false}, // distribution writes none, and digest.Parse takes none
		{" sha256:" + hexA, false},
		{"sha256:" + strings.ToUpper(hexA), false},
		{"sha256:" + hexA[:63], false},
		{"sha256:../../../etc/passwd", false},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", false},
		{"", false},
		{hexA, false},
	}
	for _, tc := range tests {
		d, err := ParseLink([]byte(tc.link))
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.link, err)
		}
		if err == nil && string(d) != tc.link {
			t.Errorf("%q read as %q", tc.link, d)
		}
	}
}

// tree writes files below root: a name ending in "/" is a folder, content
// starting with "->" a symbolic link to the rest.
func tree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := writeEntry(root, name, content); err != nil {
			t.Fatal(err)
		}
	}
}

func writeEntry(root, name, content string) error {
	p := filepath.Join(root, filepath.FromSlash(name))
	if strings.HasSuffix(name, "/") {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if target, ok := strings.CutPrefix(content, "->"); ok {
		return os.Symlink(target, p)
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

func TestFind(t *testing.T) {
	outside := t.TempDir()
	tree(t, outside, map[string]string{"registry/v2/blobs/": "", "registry/v2/repositories/": ""})
	tests := []struct {
		name  string
		files map[string]string
		base  string // "" when no registry storage is found
	}{
		{"the v2 folder", map[string]string{"blobs/": "", "repositories/": ""}, "."},
		{"a registry's root directory", map[string]string{"docker/registry/v2/repositories/": ""}, "docker/registry/v2"},
		{"one with blobs only", map[string]string{"docker/registry/v2/blobs/sha256/": ""}, "docker/registry/v2"},
		{"its docker folder", map[string]string{"registry/v2/blobs/": ""}, "registry/v2"},
		{"an evidence root", map[string]string{"var/lib/registry/docker/registry/v2/blobs/": "", "etc/os-release": "ID=debian\n"}, "var/lib/registry/docker/registry/v2"},
		{"Debian's docker-registry", map[string]string{"var/lib/docker-registry/docker/registry/v2/repositories/": ""}, "var/lib/docker-registry/docker/registry/v2"},
		{"an OCI layout", map[string]string{"oci-layout": "{}", "index.json": "{}", "blobs/sha256/": ""}, ""},
		{"an empty v2 folder", map[string]string{"docker/registry/v2/": ""}, ""},
		{"a link in the evidence", map[string]string{"real/docker/registry/v2/blobs/": "", "docker": "->real/docker"}, "docker/registry/v2"},
		{"a link out of it", map[string]string{"docker": "->" + outside}, ""},
		{"repositories as a file", map[string]string{"blobs/": "", "repositories": "x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tree(t, root, tc.files)
			ev, err := os.OpenRoot(root)
			if err != nil {
				t.Fatal(err)
			}
			defer ev.Close()
			base, ok := find(ev)
			if ok != (tc.base != "") || base != tc.base {
				t.Errorf("found %q (%v), want %q", base, ok, tc.base)
			}
			if Is(root) != ok {
				t.Error("Is disagrees with find")
			}
		})
	}
}

// fake is a registry storage written by hand, after paths.go, for cases
// the registry's own code never writes.
type fake struct {
	t     testing.TB
	root  string
	files map[string]string
}

func newFake(t testing.TB) *fake {
	return &fake{t: t, root: t.TempDir(), files: map[string]string{"docker/registry/v2/blobs/": "", "docker/registry/v2/repositories/": ""}}
}

func (f *fake) v2(p string) string { return "docker/registry/v2/" + p }

// blob stores content and returns its digest.
func (f *fake) blob(content string) digest.Digest {
	d := digest.FromString(content)
	f.files[f.v2("blobs/sha256/"+d.Encoded()[:2]+"/"+d.Encoded()+"/data")] = content
	return d
}

// manifest stores an image manifest (of a config of its own) or, with
// children, an index.
func (f *fake) manifest(id string, children ...digest.Digest) digest.Digest {
	if children == nil {
		cfg := f.blob(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"id":"` + id + `"}`)
		m, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Versioned: ocispecVersioned,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfg, Size: int64(len(f.files[f.blobFile(cfg)]))}, Layers: []ocispec.Descriptor{}})
		return f.blob(string(m))
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Versioned: ocispecVersioned}
	for _, c := range children {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: c, Size: int64(len(f.files[f.blobFile(c)])),
			Platform: &ocispec.Platform{OS: "linux", Architecture: id}})
	}
	m, _ := json.Marshal(idx)
	return f.blob(string(m))
}

func (f *fake) blobFile(d digest.Digest) string {
	return f.v2("blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded() + "/data")
}

// push links d into repo as a revision, and tags names it, in order.
func (f *fake) push(repo string, d digest.Digest, tags ...string) {
	f.files[f.v2("repositories/"+repo+"/_manifests/revisions/sha256/"+d.Encoded()+"/link")] = d.String()
	for _, tg := range tags {
		f.tag(repo, tg, d)
	}
}

func (f *fake) tag(repo, tg string, d digest.Digest) {
	dir := f.v2("repositories/" + repo + "/_manifests/tags/" + tg)
	f.files[dir+"/index/sha256/"+d.Encoded()+"/link"] = d.String()
	f.files[dir+"/current/link"] = d.String()
}

func (f *fake) open(all bool) *Store {
	f.t.Helper()
	tree(f.t, f.root, f.files)
	s, err := Open(context.Background(), f.root, Options{AllRevisions: all})
	if err != nil || s == nil {
		f.t.Fatalf("open: %v", err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

var ocispecVersioned = specs.Versioned{SchemaVersion: 2}

// names is what index.json names each manifest.
func names(t *testing.T, s *Store) map[digest.Digest][]string {
	t.Helper()
	var idx ocispec.Index
	if err := json.Unmarshal(s.made["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	out := map[digest.Digest][]string{}
	for _, d := range idx.Manifests {
		if d.MediaType == "" || d.Size == 0 {
			t.Errorf("entry %s has no media type or size", d.Digest)
		}
		out[d.Digest] = append(out[d.Digest], d.Annotations[annotationName])
	}
	return out
}

func TestIndexNames(t *testing.T) {
	f := newFake(t)
	a, b, c := f.manifest("a"), f.manifest("b"), f.manifest("c")
	amd, arm := f.manifest("amd64"), f.manifest("arm64")
	multi := f.manifest("multi", amd, arm)
	lone := f.manifest("lone-index-child")
	loneIdx := f.manifest("lone", lone)
	f.push("library/app", a, "1")
	f.push("library/app", b, "1", "2") // 1 moved from a to b; 2 is b
	f.push("library/app", c)           // untagged
	f.tag("library/app", "old", c)     // c is an earlier target of old...
	f.tag("library/app", "old", a)     // ...which now names a
	f.push("library/multi", amd)
	f.push("library/multi", arm)
	f.push("library/multi", multi, "latest")
	f.push("other/x", loneIdx)
	f.push("other/x", lone)
	f.push("other/x", b, "sha256-"+hexA+".sig")

	t.Run("default", func(t *testing.T) {
		got := names(t, f.open(false))
		want := map[digest.Digest][]string{
			a:     {"library/app:old"},
			b:     {"library/app:1", "library/app:2", "other/x:sha256-" + hexA + ".sig"},
			multi: {"library/multi:latest"},
		}
		if !equal(got, want) {
			t.Errorf("names %v, want %v", got, want)
		}
	})
	t.Run("all revisions", func(t *testing.T) {
		s := f.open(true)
		got := names(t, s)
		want := map[digest.Digest][]string{
			// a was 1's target, but old names it now: only its
			// current name, so that its Ref is that.
			a:     {"library/app:old"},
			b:     {"library/app:1", "library/app:2", "other/x:sha256-" + hexA + ".sig"},
			c:     {"library/app:old (earlier)"},
			multi: {"library/multi:latest"},
			// The platforms of an index are named through it; an
			// untagged index's too.
			loneIdx: {"other/x@" + loneIdx.String()},
		}
		if !equal(got, want) {
			t.Errorf("names %v, want %v", got, want)
		}
		var idx ocispec.Index
		json.Unmarshal(s.made["index.json"], &idx)
		for _, d := range idx.Manifests {
			if d.Annotations[annotationName] == "other/x:sha256-"+hexA+".sig" && d.Annotations[ocispec.AnnotationRefName] != "sha256-"+hexA+".sig" {
				t.Errorf("a cosign tag's entry lacks its bare tag: %v", d.Annotations)
			}
		}
	})
}

func equal(a, b map[digest.Digest][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if strings.Join(v, "\n") != strings.Join(w, "\n") {
			return false
		}
	}
	return true
}

func TestLayoutProblems(t *testing.T) {
	tests := []struct {
		name   string
		damage func(f *fake)
		all    bool
		kind   integrity.Kind
		blob   string // a suffix of the record's blob
		detail string
	}{
		{"blob data is a link", func(f *fake) {
			d := f.blob("x")
			f.files[f.blobFile(d)] = "->/etc/passwd"
		}, false, integrity.Inconsistent, digest.FromString("x").String(), "not a regular file"},
		{"blob folder without data", func(f *fake) {
			f.files[f.v2("blobs/sha256/aa/"+hexA+"/")] = ""
		}, false, integrity.Inconsistent, "sha256:" + hexA, "has no data file"},
		{"blob folder named no digest", func(f *fake) {
			f.files[f.v2("blobs/sha256/aa/aaaa/data")] = "x"
		}, false, integrity.Inconsistent, "blobs/sha256/aa/aaaa", "is no sha256 digest"},
		{"unknown algorithm", func(f *fake) {
			f.files[f.v2("blobs/md5/aa/aaaa/data")] = "x"
		}, false, integrity.Inconsistent, "blobs/md5", "no digest algorithm"},
		{"repository folder is a link", func(f *fake) {
			f.files[f.v2("repositories/library/linked")] = "->base"
		}, false, integrity.Inconsistent, "repositories/library/linked", "a link"},
		{"repository named no name", func(f *fake) {
			f.files[f.v2("repositories/Upper/_manifests/tags/")] = ""
		}, false, integrity.Inconsistent, "repositories/Upper", "is no repository name"},
		{"tag named no tag", func(f *fake) {
			f.tag("library/app", ".hidden", f.manifest("a"))
		}, false, integrity.Inconsistent, "tags/.hidden", "is no tag"},
		{"tag without current link", func(f *fake) {
			d := f.manifest("a")
			f.files[f.v2("repositories/library/app/_manifests/tags/1/index/sha256/"+d.Encoded()+"/link")] = d.String()
		}, false, integrity.Inconsistent, "tags/1/current/link", "library/app:1: the tag has no current link"},
		{"link far too long", func(f *fake) {
			f.files[f.v2("repositories/library/app/_manifests/tags/1/current/link")] = strings.Repeat("sha256:"+hexA, 100)
		}, false, integrity.Inconsistent, "tags/1/current/link", "no digest"},
		{"current link is a link", func(f *fake) {
			// os.Root would follow it, staying below the evidence.
			d := f.manifest("a")
			f.files[f.v2("repositories/library/app/_manifests/tags/1/current/elsewhere")] = d.String()
			f.files[f.v2("repositories/library/app/_manifests/tags/1/current/link")] = "->elsewhere"
		}, false, integrity.Inconsistent, "tags/1/current/link", "not a regular file"},
		{"tag's current folder is a link", func(f *fake) {
			f.push("library/app", f.manifest("a"), "2")
			f.files[f.v2("repositories/library/app/_manifests/tags/1/current")] = "->../2/current"
		}, false, integrity.Inconsistent, "tags/1/current/link", "not a folder"},
		{"tags folder is a link", func(f *fake) {
			f.push("library/app", f.manifest("a"), "2")
			f.files[f.v2("repositories/library/other/_manifests/tags")] = "->../../app/_manifests/tags"
		}, false, integrity.Unreadable, "other/_manifests/tags", "not a folder"},
		{"index entry filed under another digest", func(f *fake) {
			a, b := f.manifest("a"), f.manifest("b")
			f.push("library/app", b, "1")
			f.files[f.v2("repositories/library/app/_manifests/tags/1/index/sha256/"+a.Encoded()+"/link")] = b.String()
		}, true, integrity.Inconsistent, "/link", "the link filed as"},
		{"current link written around the registry", func(f *fake) {
			a, b := f.manifest("a"), f.manifest("b")
			f.push("library/app", a, "1")
			f.push("library/app", b)
			f.files[f.v2("repositories/library/app/_manifests/tags/1/current/link")] = b.String()
		}, true, integrity.Inconsistent, "tags/1/current/link", "which its index never recorded"},
		{"revision named no digest", func(f *fake) {
			f.files[f.v2("repositories/library/app/_manifests/revisions/sha256/xyz/link")] = "sha256:" + hexA
		}, true, integrity.Inconsistent, "revisions/sha256/xyz", "names no digest"},
		{"upload without data", func(f *fake) {
			f.files[f.v2("repositories/library/app/_uploads/1234/startedat")] = "2024-03-29T00:00:00Z"
		}, false, integrity.Unreferenced, "_uploads/1234", "started 2024-03-29T00:00:00Z, no data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.push("library/base", f.manifest("base"), "1")
			tc.damage(f)
			s := f.open(tc.all)
			found := false
			for _, p := range s.Problems() {
				found = found || p.Kind == tc.kind && strings.HasSuffix(p.Blob, tc.blob) && strings.Contains(p.Detail, tc.detail)
			}
			if !found {
				t.Errorf("no %s record of …%s saying %q in %v", tc.kind, tc.blob, tc.detail, s.Problems())
			}
			if n := len(names(t, s)); n < 1 {
				t.Error("the intact repository is not read")
			}
		})
	}
}

// TestCustody: the input's digest covers every link read and the
// index.json made from them, so a moved tag changes it.
func TestCustody(t *testing.T) {
	f := newFake(t)
	a, b := f.manifest("a"), f.manifest("b")
	f.push("library/app", a, "1")
	f.push("library/app", b)
	before := f.open(false)
	if n := before.custody.Files(); n != 2 {
		t.Errorf("%d files in custody, want the current link and index.json", n)
	}
	f.tag("library/app", "1", b)
	after := f.open(false)
	if before.Info().SHA256 == after.Info().SHA256 {
		t.Error("moving a tag leaves the input's digest unchanged")
	}
	if after.Info().Format != Format {
		t.Errorf("format %q", after.Info().Format)
	}
	all := f.open(true)
	if n := all.custody.Files(); n != 6 {
		t.Errorf("%d files in custody, want 2 index entries, 2 revisions, the current link and index.json", n)
	}
}

func TestSniff(t *testing.T) {
	tar := make([]byte, 512)
	copy(tar[257:], "ustar")
	for head, want := range map[string]string{
		"\x1f\x8b\x08\x00":       "gzip-compressed",
		"\x28\xb5\x2f\xfd":       "zstd-compressed",
		string(tar):              "a tar's",
		"  {\"schemaVersion\":2": "JSON",
		"hello":                  "",
	} {
		if got := sniff([]byte(head)); !strings.Contains(got, want) || want == "" && got != "" {
			t.Errorf("%q: %q", head, got)
		}
	}
}
