package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/archive"
)

type tarMember struct {
	name, body string
	typ        byte
}

func mkTar(t testing.TB, ms ...tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o644}
		if typ == tar.TypeReg {
			h.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, m.body)
	}
	tw.Close()
	return buf.Bytes()
}

// The background hash compares members with other bytes as it passes them
// and still hashes the whole input: same bytes only when every byte and
// the length match; anything it cannot read or reach is not the same.
func TestHashComparisons(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", compareChunk/8+5) // spans reads
	flipped := big[:len(big)-1] + "X"
	raw := mkTar(t,
		tarMember{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		tarMember{name: "index.json", body: `{"schemaVersion":2,"manifests":[]}`},
		tarMember{name: "blobs/", typ: tar.TypeDir},
		tarMember{name: "blobs/sha256/aaaa", body: strings.Repeat("big", 1<<19)},
		tarMember{name: "./blobs/sha256/bbbb", body: "small"},
		tarMember{name: "blobs/sha256/cccc", body: big},
		tarMember{name: "blobs/sha256/empty", body: ""},
		tarMember{name: "blobs/sha256/dddd", body: "tail"})
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, raw, 0o444); err != nil {
		t.Fatal(err)
	}
	bytesOf := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	closed := func() (io.ReadCloser, error) { return nil, os.ErrClosed }
	cases := []struct {
		name string
		c    *comparison
		same bool
	}{
		{"same, across reads", &comparison{Member: "blobs/sha256/cccc", Open: bytesOf(big), Size: int64(len(big))}, true},
		{"last byte differs", &comparison{Member: "blobs/sha256/cccc", Open: bytesOf(flipped), Size: int64(len(big))}, false},
		{"other bytes shorter than said", &comparison{Member: "blobs/sha256/cccc", Open: bytesOf(big[:100]), Size: int64(len(big))}, false},
		{"other bytes longer than said", &comparison{Member: "blobs/sha256/dddd", Open: bytesOf("tail+"), Size: 4}, false},
		{"another size", &comparison{Member: "blobs/sha256/dddd", Open: bytesOf("tai"), Size: 3}, false},
		{"empty member", &comparison{Member: "blobs/sha256/empty", Open: bytesOf(""), Size: 0}, true},
		{"small member, same", &comparison{Member: "./blobs/sha256/bbbb", Open: bytesOf("small"), Size: 5}, true},
		{"other bytes unreadable", &comparison{Member: "blobs/sha256/aaaa", Open: closed, Size: int64(3 << 19)}, false},
		{"no such member", &comparison{Member: "blobs/sha256/none", Open: bytesOf("x"), Size: 1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := archive.Open(context.Background(), p, archive.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if !a.StartHash(newComparer(a, []*comparison{tc.c})) {
				t.Fatal("StartHash did not start the hash of an uncompressed tar")
			}
			if a.StartHash(nil) {
				t.Fatal("StartHash started a second hash")
			}
			if got := tc.c.Same(context.Background()); got != tc.same {
				t.Fatalf("Same = %v, want %v", got, tc.same)
			}
			if err := a.Wait(); err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(raw); a.Info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("input sha256 %s, want %x", a.Info.SHA256, sum)
			}
		})
	}
	// comparisons decided together, in one pass.
	a, err := archive.Open(context.Background(), p, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cs := []*comparison{cases[0].c, cases[5].c, cases[6].c, {Member: "blobs/sha256/dddd", Open: bytesOf("tail"), Size: 4}}
	for i := range cs[:3] {
		cs[i] = &comparison{Member: cs[i].Member, Open: cs[i].Open, Size: cs[i].Size}
	}
	a.StartHash(newComparer(a, cs))
	for _, c := range cs {
		if !c.Same(context.Background()) {
			t.Errorf("%s: not the same in a pass with others", c.Member)
		}
	}
	// An archive closed before its hash started does not wait for it.
	b, err := archive.Open(context.Background(), p, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	late := &comparison{Member: "blobs/sha256/dddd", Open: bytesOf("tail"), Size: 4}
	if b.StartHash(newComparer(b, []*comparison{late})) {
		t.Fatal("StartHash started after Close")
	}
	if late.Same(context.Background()) {
		t.Fatal("a comparison no hash took reports the same bytes")
	}
}
