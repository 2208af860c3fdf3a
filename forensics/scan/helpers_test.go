package scan_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/imagebuild"
)

// fixturesDir holds the generated fixtures; real/ below it holds the
// archives written by skopeo, umoci and go-containerregistry.
var fixturesDir = filepath.Join("..", "..", "fixtures", "testdata")

// input is one archive a test reads: a file (tar, possibly compressed as a
// whole) or an OCI image-layout folder.
type input struct {
	name string // relative to fixturesDir
	path string
}

// fixtureInputs lists every archive under fixtures/testdata and
// fixtures/testdata/real: files, and folders holding an oci-layout.
func fixtureInputs(t *testing.T) []input {
	t.Helper()
	var out []input
	for _, dir := range []string{"", "real"} {
		ents, err := os.ReadDir(filepath.Join(fixturesDir, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(fixturesDir, dir, e.Name())
			if e.IsDir() {
				if _, err := os.Stat(filepath.Join(p, "oci-layout")); err != nil {
					continue
				}
			}
			out = append(out, input{name: filepath.ToSlash(filepath.Join(dir, e.Name())), path: p})
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d fixtures found under %s", len(out), fixturesDir)
	}
	return out
}

// builtinEngine is the engine of the built-in rules, every bound at its
// default.
func builtinEngine(t testing.TB) *detect.Engine {
	t.Helper()
	_, eng := builtin.Engine(t, detect.Options{})
	return eng
}

// runScan scans p with default options and closes the result at the end of
// the test.
func runScan(t testing.TB, p string) *scan.Result {
	t.Helper()
	res, err := scan.Run(context.Background(), p, scan.Options{Parallel: 2})
	if err != nil {
		t.Fatalf("scan.Run(%s): %v", p, err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// decompressWhole returns p itself when it is not compressed as a whole,
// else the path of a decompressed copy in a temporary folder. The
// decompressors are the libraries', independent of strata's sniffing.
func decompressWhole(t *testing.T, p string) string {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		return p
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	var r io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case bytes.HasPrefix(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		r = xr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return p
	}
	out := filepath.Join(t.TempDir(), "plain.tar")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, r); err != nil {
		t.Fatalf("decompressing %s: %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tarMembers lists the member names of an uncompressed tar.
func tarMembers(t *testing.T, p string) map[string]bool {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[path.Clean(h.Name)] = true
	}
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	if err := imagebuild.UntarFile(file, dir); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a folder of regular files (an OCI layout) to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fileDigest is the hex sha256 of a file, or of every file of a folder
// (path and content), to prove an input was left unchanged.
func fileDigest(t *testing.T, p string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fmt.Fprintf(h, "%s\x00", q)
		f, err := os.Open(q)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fsEntry is what the oracle comparisons look at for one path of a final
// filesystem.
type fsEntry struct {
	Type   layer.Type
	Perm   fs.FileMode // permission bits plus setuid, setgid, sticky
	Size   int64       // regular files only
	SHA256 string      // regular files (and hardlinks: the target's)
	Link   string      // symlink target as written; hardlink target as an absolute path
}

func (e fsEntry) String() string {
	s := fmt.Sprintf("%s %s", e.Type, e.Perm)
	switch e.Type {
	case layer.File, layer.Hardlink:
		s += fmt.Sprintf(" size=%d sha256=%.12s", e.Size, e.SHA256)
	}
	if e.Link != "" {
		s += " -> " + e.Link
	}
	return s
}

const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// finalTree maps every path present in the final filesystem of tr to its
// entry, the root excluded.
func finalTree(tr *tree.Tree) map[string]fsEntry {
	out := map[string]fsEntry{}
	tr.Walk("/", func(n *tree.Node) bool {
		e := n.Final()
		if e == nil {
			return true
		}
		fe := fsEntry{Type: e.Type, Perm: e.Mode & permBits, Link: e.Link}
		if e.Type == layer.File || e.Type == layer.Hardlink {
			fe.Size, fe.SHA256 = e.Size, e.SHA256
		}
		out[n.Path()] = fe
		return true
	})
	return out
}

// sortedPaths returns the keys of m, sorted.
func sortedPaths[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// absPath turns a tar name into the absolute, cleaned path strata uses.
func absPath(name string) string { return path.Clean("/" + strings.TrimPrefix(name, "./")) }
