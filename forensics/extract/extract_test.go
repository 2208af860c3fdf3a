package extract_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/extract"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/scan"
	ib "github.com/strata-forensics/strata/internal/testkit/imagebuild"
	"github.com/strata-forensics/strata/internal/testkit/strataexe"
)

// The extract tests build images whose layers carry hostile entries (names
// climbing out of the root, absolute names, symlinks and hardlinks aimed at
// the host, loops) and check that extraction writes nothing outside the
// destination, follows links only inside the image, never overwrites
// without force, never writes exec or setuid bits, and that the sha256 it
// returns is that of the bytes written.

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// hostile is the image every case reads: layer 0 a small root, layer 1 the
// hostile entries, layer 2 a later change so --layer matters.
func hostile() *ib.Image {
	return &ib.Image{
		Flavor: ib.OCI,
		Layers: []*ib.Layer{
			{CreatedBy: "ADD rootfs /", Entries: []ib.Entry{
				ib.D("etc"),
				ib.F("etc/passwd", "root:x:0:0:image:/root:/bin/sh\n"),
				ib.F("etc/shadow", "root:!:image shadow:\n"),
				ib.F("etc/hostname", "image-host\n"),
				{Path: "usr/bin/su", Type: ib.File, Mode: 0o4755, Content: []byte("setuid look-alike\n")},
				ib.FM("usr/bin/tool", "exec look-alike\n", 0o755),
				ib.F("doomed.txt", "deleted later\n"),
			}},
			{CreatedBy: "RUN hostile", Entries: []ib.Entry{
				ib.Raw("../../escape.txt", "climbed\n"),
				ib.Raw("/abs.txt", "absolute\n"),
				// A symlink to the host's /etc, then a file written through it.
				ib.L("x", "/etc"),
				ib.Raw("x/passwd", "through the link\n"),
				ib.L("shadow-link", "../../../../etc/shadow"),
				ib.L("nowhere-link", "../../../../no/such/file"),
				{RawName: "hl-outside", Type: ib.Hardlink, Link: "../../../etc/hostname"},
				ib.H("hl-nothing", "no/such/target"),
				ib.L("loop1", "loop2"),
				ib.L("loop2", "loop1"),
				ib.L("dirlink", "/usr/bin"),
			}},
			{CreatedBy: "RUN rm", Entries: []ib.Entry{ib.WH("doomed.txt")}},
		},
	}
}

// writeImage writes an OCI archive of hostile() and scans it.
func writeImage(t *testing.T) (string, *scan.Result) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hostile.oci.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ib.WriteOCIArchive(f, &ib.Index{Manifests: []ib.Child{ib.Tagged(hostile(), "latest")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), p, scan.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	if len(res.Images) != 1 {
		t.Fatalf("%d images", len(res.Images))
	}
	return p, res
}

// snapshot records every path below root (links not followed) with its
// type, mode and content digest or link target, skipping skip's subtree.
func snapshot(t *testing.T, root, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return fs.SkipDir
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + sha(b)
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hostFiles are files a broken extraction could reach through an image's
// links; their digests must not change.
var hostFiles = []string{"/etc/passwd", "/etc/shadow", "/etc/hostname", "/escape.txt", "/abs.txt"}

func hostDigests() map[string]string {
	out := map[string]string{}
	for _, p := range hostFiles {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out[p] = "absent"
		case err != nil:
			out[p] = "unreadable: " + err.Error()
		default:
			out[p] = sha(b)
		}
	}
	return out
}

// sandbox is a parent folder holding DEST and an "outside" folder with a
// sentinel file, which links planted in DEST point at.
type sandbox struct {
	parent, dest, outside string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	parent := t.TempDir()
	s := sandbox{parent: parent, dest: filepath.Join(parent, "dest"), outside: filepath.Join(parent, "outside")}
	if err := os.MkdirAll(s.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.outside, "passwd"), []byte("host sentinel\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileHostile(t *testing.T) {
	_, res := writeImage(t)
	ir := res.Images[0]
	passwd := []byte("root:x:0:0:image:/root:/bin/sh\n")
	tests := []struct {
		name  string
		path  string
		layer int // extract as after this layer; 0 is the final filesystem
		// prepare plants things in DEST before extraction.
		prepare func(t *testing.T, s sandbox)
		force   bool
		// written is where the file must land, relative to DEST; empty
		// when extraction must fail.
		written string
		content []byte
		errText string
	}{
		{name: "dot-dot name is cleaned to the root", path: "/escape.txt", written: "escape.txt", content: []byte("climbed\n")},
		{name: "dot-dot in the requested path", path: "../../../escape.txt", written: "escape.txt", content: []byte("climbed\n")},
		{name: "absolute name", path: "/abs.txt", written: "abs.txt", content: []byte("absolute\n")},
		// x was a symlink to /etc; the entry x/passwd replaced it with a
		// folder inside the image, never the host's /etc.
		{name: "file written through a symlink to /etc", path: "/x/passwd", written: "x/passwd", content: []byte("through the link\n")},
		// Resolved inside the image: ../../../../etc/shadow stops at the
		// image root and lands on the image's own /etc/shadow.
		{name: "symlink climbing to /etc/shadow", path: "/shadow-link", written: "etc/shadow", content: []byte("root:!:image shadow:\n")},
		{name: "symlink climbing to nothing", path: "/nowhere-link", errText: "no such path"},
		{name: "hardlink climbing out", path: "/hl-outside", written: "hl-outside", content: []byte("image-host\n")},
		{name: "hardlink to nothing", path: "/hl-nothing", errText: "not a regular file"},
		{name: "symlink loop", path: "/loop1", errText: "too many levels"},
		{name: "path through an absolute folder link", path: "/dirlink/tool", written: "usr/bin/tool", content: []byte("exec look-alike\n")},
		{name: "setuid file", path: "/usr/bin/su", written: "usr/bin/su", content: []byte("setuid look-alike\n")},
		{name: "deleted file at its last layer", path: "/doomed.txt", layer: 1, written: "doomed.txt", content: []byte("deleted later\n")},
		{name: "deleted file in the final filesystem", path: "/doomed.txt", errText: "its earlier bytes ship in layer 0"},
		{name: "folder", path: "/etc", errText: "not a regular file"},
		{name: "existing file without force", path: "/etc/passwd", prepare: func(t *testing.T, s sandbox) {
			mustWrite(t, filepath.Join(s.dest, "etc", "passwd"), "already here\n")
		}, errText: "destination exists"},
		{name: "existing file with force", path: "/etc/passwd", force: true, prepare: func(t *testing.T, s sandbox) {
			mustWrite(t, filepath.Join(s.dest, "etc", "passwd"), "already here\n")
		}, written: "etc/passwd", content: passwd},
		// DEST/etc is a link to a folder outside DEST: the file must not
		// reach it.
		{name: "DEST folder link to outside", path: "/etc/passwd", prepare: func(t *testing.T, s sandbox) {
			mustSymlink(t, s.outside, filepath.Join(s.dest, "etc"))
		}},
		{name: "DEST folder link to outside, forced", path: "/etc/passwd", force: true, prepare: func(t *testing.T, s sandbox) {
			mustSymlink(t, s.outside, filepath.Join(s.dest, "etc"))
		}},
		// DEST/etc/passwd is a link to a file outside DEST: never written
		// through, with or without force.
		{name: "DEST file link to outside", path: "/etc/passwd", prepare: func(t *testing.T, s sandbox) {
			mustSymlink(t, filepath.Join(s.outside, "passwd"), filepath.Join(s.dest, "etc", "passwd"))
		}},
		{name: "DEST file link to outside, forced", path: "/etc/passwd", force: true, prepare: func(t *testing.T, s sandbox) {
			mustSymlink(t, filepath.Join(s.outside, "passwd"), filepath.Join(s.dest, "etc", "passwd"))
		}},
		{name: "DEST link to an absolute host path, forced", path: "/etc/shadow", force: true, prepare: func(t *testing.T, s sandbox) {
			mustSymlink(t, "/etc/shadow", filepath.Join(s.dest, "etc", "shadow"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			if err := os.MkdirAll(s.dest, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(t, s)
			}
			host := hostDigests()
			outside := snapshot(t, s.parent, s.dest)
			layer := tc.layer
			if layer == 0 {
				layer = -1 // no case extracts after layer 0: 0 is the final filesystem
			}
			written, sum, err := extract.File(context.Background(), ir.Tree, res.Content(ir), tc.path, layer, s.dest, tc.force)

			if got := snapshot(t, s.parent, s.dest); fmt.Sprint(got) != fmt.Sprint(outside) {
				t.Errorf("something changed outside DEST:\nbefore %v\nafter  %v", outside, got)
			}
			if got := hostDigests(); fmt.Sprint(got) != fmt.Sprint(host) {
				t.Fatalf("HOST FILES CHANGED: before %v, after %v", host, got)
			}
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Errorf("error %v, want one saying %q", err, tc.errText)
				}
			}
			if tc.written == "" {
				if err == nil {
					// Allowed only if the file landed inside DEST.
					checkInside(t, s.dest, written)
					t.Logf("written inside DEST at %s", written)
				} else {
					t.Logf("refused: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("extract.File: %v", err)
			}
			if want := filepath.Join(s.dest, filepath.FromSlash(tc.written)); written != want {
				t.Errorf("written to %s, want %s", written, want)
			}
			checkWritten(t, written, sum, tc.content)
		})
	}
}

// checkWritten checks the file's bytes, the returned digest and the mode.
func checkWritten(t *testing.T, written, sum string, content []byte) {
	t.Helper()
	b, err := os.ReadFile(written)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(content) {
		t.Errorf("content %q, want %q", b, content)
	}
	if sum != sha(b) {
		t.Errorf("returned sha256 %s, the bytes written hash to %s", sum, sha(b))
	}
	info, err := os.Lstat(written)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Mode().IsRegular() {
		t.Errorf("%s is a %s, not a regular file", written, info.Mode().Type())
	}
	if m := info.Mode(); m&0o111 != 0 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		t.Errorf("written with mode %s: exec, setuid, setgid or sticky bit set", m)
	}
}

// checkInside fails unless p, with every link resolved, is below dest.
func checkInside(t *testing.T, dest, p string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	realDest, err := filepath.EvalSymlinks(dest)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(realDest, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		t.Errorf("written to %s (%s), outside %s", p, real, dest)
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestFileRecordedDigest checks, for every regular file of the image at
// every layer, that the digest File returns is the one the layer walk
// recorded: the bytes written are the evidence the tree describes.
func TestFileRecordedDigest(t *testing.T) {
	_, res := writeImage(t)
	ir := res.Images[0]
	n := 0
	for idx := range ir.Layers {
		for _, p := range ir.Tree.Paths() {
			e, _, ok := ir.Resolve(p, idx)
			if !ok || e.Type != layer.File || strings.Contains(p, "link") {
				continue
			}
			dest := t.TempDir()
			_, sum, err := extract.File(context.Background(), ir.Tree, res.Content(ir), p, idx, dest, false)
			if err != nil {
				t.Errorf("%s@%d: %v", p, idx, err)
				continue
			}
			if sum != e.SHA256 {
				t.Errorf("%s@%d: wrote %s, the walk recorded %s", p, idx, sum, e.SHA256)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d files extracted", n)
	}
}

func TestMain(m *testing.M) { os.Exit(strataexe.Main(m)) }

// TestCLI runs `strata extract` as a user would: it prints
// "<sha256>  <path>" for the file written, and refuses to overwrite.
func TestCLI(t *testing.T) {
	bin := strataexe.Path(t)
	archive, _ := writeImage(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		written string
		content string
	}{
		{"final", []string{"/usr/bin/su"}, 0, "usr/bin/su", "setuid look-alike\n"},
		{"deleted, by layer", []string{"--layer", "1", "/doomed.txt"}, 0, "doomed.txt", "deleted later\n"},
		{"through an image symlink", []string{"/shadow-link"}, 0, "etc/shadow", "root:!:image shadow:\n"},
		{"absent", []string{"/doomed.txt"}, 2, "", ""},
		{"loop", []string{"/loop1"}, 2, "", ""},
		{"layer out of range", []string{"--layer", "9", "/etc/passwd"}, 2, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			before := snapshot(t, s.parent, s.dest)
			args := append([]string{"extract", archive}, tc.args...)
			args = append(args, "-o", s.dest)
			code, stdout, stderr := run(t, bin, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, stdout, stderr)
			}
			if got := snapshot(t, s.parent, s.dest); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("something changed outside DEST")
			}
			if tc.written == "" {
				if stdout != "" {
					t.Errorf("stdout %q on failure", stdout)
				}
				return
			}
			p := filepath.Join(s.dest, filepath.FromSlash(tc.written))
			if want := sha([]byte(tc.content)) + "  " + p + "\n"; stdout != want {
				t.Errorf("stdout %q, want %q", stdout, want)
			}
			checkWritten(t, p, sha([]byte(tc.content)), []byte(tc.content))
			// Again: the file exists, and without --force it stays as it is.
			if err := os.WriteFile(p, []byte("changed\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr = run(t, bin, args...)
			if code != 2 || !strings.Contains(stderr, "--force") {
				t.Errorf("second run: exit %d, stderr %q; want 2 and a hint to use --force", code, stderr)
			}
			if b, _ := os.ReadFile(p); string(b) != "changed\n" {
				t.Errorf("overwritten without --force: %q", b)
			}
			code, stdout, _ = run(t, bin, append(args, "--force")...)
			if code != 0 || !strings.HasPrefix(stdout, sha([]byte(tc.content))) {
				t.Errorf("--force: exit %d, stdout %q", code, stdout)
			}
		})
	}
}

func run(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("running strata: %v", err)
	return -1, "", ""
}
