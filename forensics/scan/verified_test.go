//go:build linux

package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// verifiedRegistry is a registry's storage holding the planted image, and
// the registry.
func verifiedRegistry(t *testing.T) *registrystore.Registry {
	t.Helper()
	reg := registrystore.New(t, t.TempDir())
	reg.Push(t, "library/xz", registrystore.FromLayout(t, "../../fixtures/testdata/xz-planted.oci"), "5.6.1")
	return reg
}

var epoch = func() time.Time { return time.Unix(1711670400, 0).UTC() }

// scanWith scans root with a memo over cache folder dir under key (each
// call a process of its own: a memo of its own), as shard s when not nil.
func scanWith(t *testing.T, eng *detect.Engine, root, dir string, key *layercache.Key, s *Shard) *Result {
	t.Helper()
	m := openMemo(t, layercache.Config{Dir: dir, Key: key, ToolVersion: "test", Now: epoch})
	res, err := Run(context.Background(), root, Options{Engine: eng, Memo: m, Shard: s, Now: epoch})
	if err != nil {
		t.Fatal(err)
	}
	res.Close()
	return res
}

// layerVerifications are, by blob digest, who vouched for each layer's
// blob: "" when the scan read it, else the record's By.
func layerVerifications(res *Result) map[string]string {
	out := map[string]string{}
	for _, ir := range res.Images {
		for _, lr := range ir.Layers {
			if lr == nil {
				continue
			}
			out[lr.Digest.String()] = ""
			if lr.Verified != nil {
				out[lr.Digest.String()] = lr.Verified.By
			}
		}
	}
	return out
}

// Shards verify and scan the registry's blobs into the cache; the
// assembling scan then reads none of them, taking each as verified by the
// shard's record, and says so in the report. A blob rewritten since (same
// size, mtime set back: its ctime is new) is read again, and its damage
// reported.
func TestAssemblyTakesShardsVerification(t *testing.T) {
	eng := testEngine(t)
	reg := verifiedRegistry(t)
	dir, key := t.TempDir(), testCacheKey(t)
	for i := range 2 {
		scanWith(t, eng, reg.Root, dir, key, &Shard{i, 2})
	}
	res := scanWith(t, eng, reg.Root, dir, key, nil)
	got := layerVerifications(res)
	if len(got) < 2 {
		t.Fatalf("layers: %v", got)
	}
	var shards []string
	for d, by := range got {
		if want := fmt.Sprintf("shard %d/2", shardOf(digest.Digest(d), 2)); by != want {
			t.Errorf("layer %s: verified by %q, not taken from its shard's record (%s)", d, by, want)
		}
		if !slices.Contains(shards, by) {
			shards = append(shards, by)
		}
	}
	slices.Sort(shards)
	if iv := res.Integrity(); !iv.OK {
		t.Errorf("integrity not verified: %v", iv.Problems)
	}
	doc := report.NewDocument(report.Meta{}, res.ReportSource())
	c := doc.Custody.Cache
	if c == nil || c.LayersVerifiedByRecord != len(got) || !reflect.DeepEqual(c.VerifiedBy, shards) {
		t.Errorf("custody: %+v", c)
	}
	for _, l := range doc.Inputs[0].Images[0].Layers {
		r := l.Cache.Record
		if l.Cache.Verification != report.VerifiedRecord || r == nil || r.KeyID != key.ID() || !r.At.Equal(epoch()) || r.ToolVersion != "test" || r.File.Inode == 0 {
			t.Errorf("layer %d: %+v %+v", l.Index, l.Cache, r)
		}
	}

	// The backdoored layer's blob rewritten in place: same size, its
	// mtime set back.
	ir := res.Images[0]
	victim := ir.Layers[1].Digest
	p := reg.BlobFile(victim)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	time.Sleep(10 * time.Millisecond) // a ctime the clock tells apart
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	res = scanWith(t, eng, reg.Root, dir, key, nil)
	got = layerVerifications(res)
	for d, by := range got {
		switch {
		case d == victim.String() && by != "":
			t.Errorf("the rewritten blob taken as verified by %q", by)
		case d != victim.String() && by == "":
			t.Errorf("layer %s read again, though its file is unchanged", d)
		}
	}
	if !hasProblem(res.Problems, integrity.DigestMismatch, victim.String()) {
		t.Errorf("the rewritten blob's mismatch is not reported: %v", res.Problems)
	}
}

func hasProblem(ps []integrity.Problem, kind integrity.Kind, blob string) bool {
	for _, p := range ps {
		if p.Kind == kind && p.Blob == blob {
			return true
		}
	}
	return false
}

// A verification record edited, swapped with another blob's, made under
// another key, or naming another file (another inode) is not taken: the
// blob is read and hashed again, and a rejected record is named as any
// rejected entry. The scan that read the blob records it anew.
func TestVerificationRecordsNotTaken(t *testing.T) {
	eng := testEngine(t)
	reg := verifiedRegistry(t)
	dir, key := t.TempDir(), testCacheKey(t)
	first := scanWith(t, eng, reg.Root, dir, key, nil)
	if by := layerVerifications(first); len(by) < 2 {
		t.Fatalf("layers: %v", by)
	}
	ds := first.Images[0].Layers
	a, b := ds[0].Digest, ds[1].Digest
	pa, pb := filepath.Join(dir, layercache.VerifiedPath(a)), filepath.Join(dir, layercache.VerifiedPath(b))
	orig, err := os.ReadFile(pa)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := os.ReadFile(pb)
	c := openMemo(t, layercache.Config{Dir: dir, Key: key, ToolVersion: "test", Now: epoch}).cache
	v, ok, _ := c.GetVerified(a)
	if !ok || v.By != "scan" {
		t.Fatalf("the first scan's record: %+v, %v", v, ok)
	}
	otherInode := v
	otherInode.File.Inode++
	for _, tc := range []struct {
		name   string
		damage func()
		reason layercache.Reason // "" when the record is taken as a miss, not named
	}{
		{"edited", func() { os.WriteFile(pa, bytes.Replace(orig, []byte(`"by":"scan"`), []byte(`"by":"SCAN"`), 1), 0o644) }, layercache.Unauthenticated},
		{"swapped", func() { os.WriteFile(pa, rb, 0o644) }, layercache.Wrong},
		{"another inode", func() { c.PutVerified(otherInode) }, ""},
		{"other key", func() {
			openMemo(t, layercache.Config{Dir: dir, Key: cacheKey(t, "other"), ToolVersion: "test"}).cache.PutVerified(v)
		}, layercache.OtherKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage()
			res := scanWith(t, eng, reg.Root, dir, key, nil)
			if by := layerVerifications(res); by[a.String()] != "" || by[b.String()] == "" {
				t.Errorf("taken as verified: %v", by)
			}
			named := false
			for _, r := range res.Cache.Rejected {
				if r.Kind == layercache.KindVerified && r.Digest == a {
					named = r.Reason == tc.reason
				}
			}
			if named != (tc.reason != "") {
				t.Errorf("rejections: %+v, want %q for %s's record", res.Cache.Rejected, tc.reason, a)
			}
			if iv := res.Integrity(); !iv.OK {
				t.Errorf("integrity not verified: %v", iv.Problems)
			}
			// The blob read and verified again is recorded anew, under
			// the scan's key.
			if v, ok, _ := openMemo(t, layercache.Config{Dir: dir, Key: key, ToolVersion: "test"}).cache.GetVerified(a); !ok || v.File != fileID(t, reg.BlobFile(a)) {
				t.Errorf("record after the scan: %+v, %v", v, ok)
			}
			if err := os.WriteFile(pa, orig, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Four shards then the assembly report, image by image, what one process
// without a cache reports: the same findings, the same verdicts; only the
// cache's provenance is added.
func TestShardsReportAsOneProcess(t *testing.T) {
	eng := testEngine(t)
	reg := verifiedRegistry(t)
	dir, key := t.TempDir(), testCacheKey(t)
	for i := range 4 {
		scanWith(t, eng, reg.Root, dir, key, &Shard{i, 4})
	}
	assembled := scanWith(t, eng, reg.Root, dir, key, nil)
	m := openMemo(t, layercache.Config{})
	alone, err := Run(context.Background(), reg.Root, Options{Engine: eng, Memo: m, Now: epoch})
	if err != nil {
		t.Fatal(err)
	}
	alone.Close()
	if n := len(layerVerifications(assembled)); n == 0 {
		t.Fatal("no layer")
	}
	for d, by := range layerVerifications(assembled) {
		if by == "" {
			t.Errorf("layer %s read again by the assembly", d)
		}
	}
	if got, want := withoutCache(t, assembled), withoutCache(t, alone); !reflect.DeepEqual(got, want) {
		t.Errorf("4 shards and assembly report otherwise than one process:\n%s\n%s", got, want)
	}
}

// withoutCache is the result's JSON report with no "cache" member
// anywhere: what a scan reports but for the cache's provenance.
func withoutCache(t *testing.T, res *Result) any {
	t.Helper()
	var buf bytes.Buffer
	if err := report.NewDocument(report.Meta{}, res.ReportSource()).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "cache")
			for _, x := range v {
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	return v
}

// fileID is the identity of the file at p now.
func fileID(t *testing.T, p string) archive.FileID {
	t.Helper()
	root, err := os.OpenRoot(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	id, ok := archive.LstatID(root, filepath.Base(p))
	if !ok {
		t.Fatalf("%s: no identity", p)
	}
	return id
}
