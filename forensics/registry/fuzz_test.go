package registry

import (
	"context"
	"encoding/json"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/strata-forensics/strata/forensics/blob"
)

// FuzzParseLink: whatever a link file holds, ParseLink returns a digest
// that is safe to make a path of, or an error; never a panic.
func FuzzParseLink(f *testing.F) {
	for _, s := range []string{"sha256:" + hexA, "sha512:" + strings.Repeat("b", 128), "sha256:../x", "", "sha256:" + hexA + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseLink(data)
		if err != nil {
			return
		}
		if blob.Validate(d) != nil || string(d) != string(data) {
			t.Fatalf("%q accepted as %q", data, d)
		}
		if p := blob.Path(d); p == "" || strings.Contains(p, "..") || path.Clean(p) != p {
			t.Fatalf("%q makes the path %q", data, p)
		}
	})
}

// FuzzOpen opens a storage of one repository whose names, links,
// manifest and upload the fuzzer chooses (a whole tree from fuzzed paths
// costs a folder per path and explores little more): never a panic, never
// an error, and always an index.json that is an OCI index whose every
// entry names a blob the store serves.
func FuzzOpen(f *testing.F) {
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:` + hexA + `"}]}`
	d := digest.FromString(m)
	f.Add("library/app", "1", d.String(), d.Encoded(), d.String(), m, []byte("\x1f\x8b"), true)
	f.Add("a", "latest", "sha256:"+hexA, hexA, "sha256:"+hexA, "{}", []byte(nil), false)
	f.Add("../x", "..", "->../../../../etc/passwd", "zz", "", "", []byte("{"), true)
	f.Fuzz(func(t *testing.T, repo, tag, current, indexHex, indexLink, manifest string, upload []byte, all bool) {
		root := t.TempDir()
		v2 := "docker/registry/v2/"
		md := digest.FromString(manifest)
		files := map[string]string{
			v2 + "blobs/sha256/" + md.Encoded()[:2] + "/" + md.Encoded() + "/data": manifest,
			v2 + "blobs/sha256/" + hexA[:2] + "/" + hexA + "/data":                 manifest,
		}
		if r := path.Clean("/" + repo); r != "/" && len(r) < 256 && !strings.ContainsRune(r, 0) {
			rd := v2 + "repositories" + r + "/"
			files[rd+"_uploads/u/data"] = string(upload)
			if tg := path.Clean("/" + tag); tg != "/" && len(tg) < 256 && !strings.ContainsRune(tg, 0) {
				files[rd+"_manifests/tags"+tg+"/current/link"] = current
				if x := path.Clean("/" + indexHex); x != "/" && len(x) < 256 && !strings.ContainsRune(x, 0) {
					files[rd+"_manifests/tags"+tg+"/index/sha256"+x+"/link"] = indexLink
					files[rd+"_manifests/revisions/sha256"+x+"/link"] = indexLink
				}
			}
		}
		for name, content := range files {
			_ = writeEntry(root, name, content) // a name below a file cannot be written
		}
		s, err := Open(context.Background(), root, Options{AllRevisions: all})
		if err != nil || s == nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		var index ocispec.Index
		if err := json.Unmarshal(s.made["index.json"], &index); err != nil || index.SchemaVersion != 2 {
			t.Fatalf("index.json: %v\n%s", err, s.made["index.json"])
		}
		served := map[string]bool{}
		for _, m := range s.Members() {
			served[m.Name] = true
		}
		for _, d := range index.Manifests {
			if !served[blob.Path(d.Digest)] {
				t.Fatalf("index.json names %s, which the store does not serve", d.Digest)
			}
			rc, err := s.Open(blob.Path(d.Digest))
			if err != nil {
				t.Fatalf("index.json names %s, which cannot be opened: %v", d.Digest, err)
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	})
}
