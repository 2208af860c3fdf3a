//go:build unix

package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/scan"
)

// fsFile is one path of a flattened filesystem.
type fsFile struct {
	hdr  tar.Header
	body []byte
}

// flattenDockerSave applies the layers of the one image of a docker save
// bottom-up, whiteouts and opaque folders included: the filesystem a
// container of it starts with.
func flattenDockerSave(t *testing.T, p string) map[string]fsFile {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	members := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		members[path.Clean(h.Name)] = b
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	fs := map[string]fsFile{}
	remove := func(p string, self bool) {
		for k := range fs {
			if (self && k == p) || strings.HasPrefix(k, p+"/") {
				delete(fs, k)
			}
		}
	}
	for _, l := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(members[l]))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			dir, base := path.Split(name)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case base == ".wh..wh..opq":
				remove(dir, false)
				continue
			case strings.HasPrefix(base, ".wh."):
				remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
				continue
			}
			body, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			fs[name] = fsFile{hdr: *h, body: body}
		}
	}
	return fs
}

// dockerExport writes fs as `docker export` writes a container's
// filesystem. What docker adds: the mount points of moby's
// daemon/initlayer (setup_unix.go: /dev/pts, /dev/shm, /proc and /sys
// folders; /.dockerenv, /etc/resolv.conf, /etc/hosts, /etc/hostname and
// /dev/console empty files; /etc/mtab a link to /proc/mounts), on top of
// the image's layers. How: daemon/export.go tars the mounted RW layer with
// chrootarchive.Tar, which is go-archive's TarWithOptions: a WalkDir of
// the root (each folder's names sorted, the root itself left out),
// headers from FileInfoHeader (PAX, times to the second, no access or
// change time, no user or group names, folders ending in a slash).
func dockerExport(t *testing.T, fs map[string]fsFile) []byte {
	t.Helper()
	fs = maps(fs)
	when := time.Date(2024, 3, 29, 4, 0, 0, 0, time.UTC)
	add := func(name string, typ byte, link string) {
		fs[name] = fsFile{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: 0o755, ModTime: when}}
	}
	for _, d := range []string{"dev", "dev/pts", "dev/shm", "proc", "sys", "etc"} {
		if _, ok := fs[d]; !ok {
			add(d, tar.TypeDir, "")
		}
	}
	for _, f := range []string{".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console"} {
		add(f, tar.TypeReg, "")
	}
	add("etc/mtab", tar.TypeSymlink, "/proc/mounts")
	for name := range fs {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := fs[d]; !ok {
				add(d, tar.TypeDir, "")
			}
		}
	}
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	// WalkDir's order: a folder, then its names sorted.
	slices.SortFunc(names, func(a, b string) int { return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/")) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := fs[n]
		h := f.hdr
		h.Name, h.Format = n, tar.FormatPAX
		h.ModTime, h.AccessTime, h.ChangeTime = h.ModTime.Truncate(time.Second), time.Time{}, time.Time{}
		h.Uname, h.Gname = "", ""
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func maps(fs map[string]fsFile) map[string]fsFile {
	out := make(map[string]fsFile, len(fs))
	for k, v := range fs {
		out[k] = v
	}
	return out
}

// writeRootFolder writes fs into a new folder named host, with a link to
// /etc and one to a file outside the folder, and returns the folder and
// what the outside file holds.
func writeRootFolder(t *testing.T, fs map[string]fsFile) (dir, secret string) {
	t.Helper()
	base := t.TempDir()
	secret = "SECRET-OUTSIDE-" + filepath.Base(base)
	if err := os.WriteFile(filepath.Join(base, "outside"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(base, "host")
	for name, f := range fs {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch f.hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(f.hdr.Linkname, p)
		case tar.TypeReg:
			err = os.WriteFile(p, f.body, os.FileMode(f.hdr.Mode).Perm())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"etc/host-etc": "/etc", "etc/escape": "../../outside"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret
}

const plantedLib = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"

// A docker export and a root-filesystem folder are one image of one layer
// with no history: scanned like any other, the planted liblzma is found
// in them, and every output says there was nothing to verify them against.
func TestRootFilesystemInputs(t *testing.T) {
	fs := flattenDockerSave(t, filepath.Join(fixturesDir, "xz-planted.docker.tar"))
	if _, ok := fs[strings.TrimPrefix(plantedLib, "/")]; !ok {
		t.Fatalf("the flattened fixture lacks %s", plantedLib)
	}
	export := dockerExport(t, fs)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(export)
	zw.Close()
	folder, secret := writeRootFolder(t, fs)
	write := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o444); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notRootfs := write("src.tar", func() []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, n := range []string{"xz-5.6.1/configure", "xz-5.6.1/etc/x", "xz-5.6.1/usr/y"} {
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644})
		}
		tw.Close()
		return buf.Bytes()
	}())
	exportDigest := "sha256:" + sha256Hex(export)

	eng := builtinEngine(t)
	for _, tc := range []struct {
		name, path string
		format     archive.Format
		name0      string // the image's name
		container  bool
		diffID     string // "" when it is the layer's digest
		err        error
	}{
		{name: "docker export", path: write("export.tar", export), format: archive.RootfsTar, name0: "export.tar", container: true},
		{name: "folder", path: folder, format: archive.RootfsDir, name0: "host"},
		{name: "gzip docker export", path: write("export.tar.gz", gz.Bytes()), format: archive.RootfsTar, name0: "export.tar.gz", container: true, diffID: exportDigest},
		{name: "not a root filesystem", path: notRootfs, err: archive.ErrUnknownFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := scan.Run(context.Background(), tc.path, scan.Options{Engine: eng, Parallel: 2})
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "not a docker-archive, OCI layout or OCI archive") {
					t.Fatalf("scan: %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if res.Input.Format != tc.format || len(res.Images) != 1 {
				t.Fatalf("format %s with %d images, want %s with one", res.Input.Format, len(res.Images), tc.format)
			}
			ir := res.Images[0]
			img := ir.Image
			if img.Ref() != tc.name0 || img.Platform != "" || img.ConfigDigest != "" || img.ManifestDigest != "" || len(img.Layers) != 1 {
				t.Errorf("image %q (%s), config %q, manifest %q, %d layers", img.Ref(), img.Platform, img.ConfigDigest, img.ManifestDigest, len(img.Layers))
			}
			l, ld := img.Layers[0], ir.LayerDigest(0)
			wantDiff := tc.diffID
			if wantDiff == "" {
				wantDiff = ld.String()
			}
			if ld.String() != "sha256:"+res.Input.SHA256 || l.DiffID.String() != wantDiff || l.CreatedBy != "" {
				t.Errorf("layer digest %s, diff_id %s; input sha256 %s, want diff_id %s", ld, l.DiffID, res.Input.SHA256, wantDiff)
			}
			if tc.format == archive.RootfsTar && tc.diffID == "" && ld.String() != exportDigest {
				t.Errorf("the export's layer digest %s is not its sha256 %s", ld, exportDigest)
			}

			// Integrity: informational only, and says why.
			rep := res.Integrity()
			if !rep.OK || len(rep.Notes) != 1 {
				t.Fatalf("integrity %+v, want ok with one note", rep)
			}
			n := rep.Notes[0]
			if n.Kind != integrity.Unverifiable || n.Reason != integrity.NoLayerHistory || !strings.Contains(n.Detail, "unverifiable") ||
				!strings.Contains(n.Detail, "which build step brought a file in cannot be known") || strings.Contains(n.Detail, "verified") {
				t.Errorf("note %+v", n)
			}
			if got := strings.Contains(n.Detail, "docker export"); got != tc.container {
				t.Errorf("note says docker export: %v, want %v: %s", got, tc.container, n.Detail)
			}

			// Detection runs on the one layer.
			found := false
			for _, f := range res.Findings {
				if f.Path == plantedLib && f.Rule == "xz-backdoor-code-fragments" && f.Layer == 0 && f.Present && f.Image == tc.name0 {
					found = true
				}
				if strings.HasPrefix(f.Path, "/var/cache/apt/archives/") || strings.HasPrefix(f.Path, "/tmp/") {
					t.Errorf("a file the image deleted is in its export: %+v", f)
				}
			}
			if !found {
				t.Errorf("the planted %s is not found: %+v", plantedLib, res.Findings)
			}

			// Its bytes read back (ls, blame, extract and explore read them so).
			node := ir.Tree.Node(plantedLib)
			if node == nil || !node.Present() || node.Introduced() != 0 {
				t.Fatalf("%s: %+v", plantedLib, node)
			}
			e := node.Final()
			rc, err := res.Open(ir, 0, e)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || sha256Hex(b) != e.SHA256 || !bytes.Equal(b, fs[strings.TrimPrefix(plantedLib, "/")].body) {
				t.Errorf("reading %s back: %d bytes, %v", plantedLib, len(b), err)
			}

			if tc.format == archive.RootfsDir {
				// Links are links, never followed; nothing outside was read.
				for p, to := range map[string]string{"/etc/host-etc": "/etc", "/etc/escape": "../../outside", "/usr/lib/x86_64-linux-gnu/liblzma.so.5": "liblzma.so.5.6.1"} {
					n := ir.Tree.Node(p)
					if n == nil || n.Final().Type != layer.Symlink || n.Final().Link != to {
						t.Errorf("%s: want a link to %s", p, to)
					}
				}
				secretSum := sha256Hex([]byte(secret))
				for _, e := range ir.Layers[0].Summary.Entries {
					if e.SHA256 == secretSum || !strings.HasPrefix(e.Path, "/") || strings.Contains(e.Path, "..") {
						t.Errorf("entry %s (%s) comes from outside the folder", e.Path, e.SHA256)
					}
				}
			}
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A hostile folder (a link loop, a FIFO, a socket, an unreadable file) is
// scanned without blocking: what cannot be read is named, the rest is
// examined.
func TestRootFilesystemFolderHostile(t *testing.T) {
	fs := flattenDockerSave(t, filepath.Join(fixturesDir, "xz-planted.docker.tar"))
	dir, _ := writeRootFolder(t, fs)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "loop"), 0o755))
	must(os.Symlink("../loop", filepath.Join(dir, "loop/self")))
	must(os.Symlink("b", filepath.Join(dir, "loop/a")))
	must(os.Symlink("a", filepath.Join(dir, "loop/b")))
	must(syscall.Mkfifo(filepath.Join(dir, "tmp/fifo"), 0o644))
	if l, err := net.Listen("unix", filepath.Join(dir, "tmp/sock")); err == nil {
		defer l.Close()
	}
	unreadable := os.Geteuid() != 0 // root reads whatever the permissions
	if unreadable {
		must(os.Chmod(filepath.Join(dir, "etc/motd"), 0))
		defer os.Chmod(filepath.Join(dir, "etc/motd"), 0o644)
	}

	type outcome struct {
		res *scan.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := scan.Run(context.Background(), dir, scan.Options{Engine: builtinEngine(t), Parallel: 2})
		done <- outcome{res, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("scanning a folder with a FIFO blocks")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.res.Close()
	ir := o.res.Images[0]
	if n := ir.Tree.Node("/tmp/fifo"); n == nil || n.Final().Type != layer.FIFO {
		t.Error("/tmp/fifo is not listed as a FIFO")
	}
	if n := ir.Tree.Node("/loop/self"); n == nil || n.Final().Type != layer.Symlink {
		t.Error("/loop/self is not listed as a link")
	}
	rep := o.res.Integrity()
	if unreadable {
		if rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Kind != integrity.Unreadable || rep.Problems[0].Blob != "/etc/motd" {
			t.Errorf("integrity %+v, want /etc/motd unreadable", rep)
		}
	} else if !rep.OK {
		t.Errorf("integrity %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp/sock")); err == nil && !strings.Contains(rep.Notes[0].Detail, "/tmp/sock: a socket") {
		t.Errorf("the note does not say the socket was left out: %s", rep.Notes[0].Detail)
	}
	found := false
	for _, f := range o.res.Findings {
		found = found || f.Path == plantedLib
	}
	if !found {
		t.Error("the planted liblzma is not found")
	}
}
