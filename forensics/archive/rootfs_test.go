package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rfsEntry is one entry of a test tar.
type rfsEntry struct {
	name, body, link string
	typ              byte
}

func rfsTar(t testing.TB, es ...rfsEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.link}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rfsGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rfsWrite(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// dockerExportOf is what `docker export` writes of a container from
// scratch holding one static binary: the mount points of moby's
// daemon/initlayer (setup_unix.go) and the binary, in the lexical order of
// go-archive's TarWithOptions walk, folders ending in a slash.
var dockerExportOf = []rfsEntry{
	{name: ".dockerenv"},
	{name: "app", body: "\x7fELF static"},
	{name: "dev/", typ: tar.TypeDir},
	{name: "dev/console"},
	{name: "dev/pts/", typ: tar.TypeDir},
	{name: "dev/shm/", typ: tar.TypeDir},
	{name: "etc/", typ: tar.TypeDir},
	{name: "etc/hostname"},
	{name: "etc/hosts"},
	{name: "etc/mtab", typ: tar.TypeSymlink, link: "/proc/mounts"},
	{name: "etc/resolv.conf"},
	{name: "proc/", typ: tar.TypeDir},
	{name: "sys/", typ: tar.TypeDir},
}

func names(es []rfsEntry) ([]string, []byte) {
	var ns []string
	var ts []byte
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		ns = append(ns, e.name)
		ts = append(ts, typ)
	}
	return ns, ts
}

func TestLooksLikeRootFS(t *testing.T) {
	d := func(n string) rfsEntry { return rfsEntry{name: n, typ: tar.TypeDir} }
	f := func(n string) rfsEntry { return rfsEntry{name: n} }
	l := func(n, to string) rfsEntry { return rfsEntry{name: n, typ: tar.TypeSymlink, link: to} }
	for _, tc := range []struct {
		name string
		es   []rfsEntry
		want bool
	}{
		{"docker export of a scratch container", dockerExportOf, true},
		{"alpine", []rfsEntry{d("bin/"), f("bin/busybox"), d("etc/"), f("etc/alpine-release"), d("lib/"), f("lib/ld-musl-x86_64.so.1")}, true},
		{"merged /usr, links at the top", []rfsEntry{l("bin", "usr/bin"), l("lib", "usr/lib"), f("usr/bin/ls")}, true},
		{"folders implied by their files", []rfsEntry{f("./usr/bin/ls"), f("./var/lib/dpkg/status")}, true},
		{"os-release alone", []rfsEntry{f("etc/os-release")}, true},
		{"os-release a link", []rfsEntry{l("etc/os-release", "../usr/lib/os-release")}, true},
		{"usr/lib/os-release", []rfsEntry{f("usr/lib/os-release")}, true},
		{"one usual folder", []rfsEntry{d("etc/"), f("etc/passwd"), f("README")}, false},
		{"files named like folders", []rfsEntry{f("bin"), f("etc"), f("lib"), f("usr")}, false},
		{"a project below one folder", []rfsEntry{f("project/etc/os-release"), f("project/usr/bin/x"), f("project/bin/y")}, false},
		{"a source tarball", []rfsEntry{f("xz-5.6.1/configure"), f("xz-5.6.1/m4/build-to-host.m4")}, false},
		{"a docker save's members", []rfsEntry{f("manifest.json"), f("repositories"), f("0123/layer.tar")}, false},
		{".dockerenv without its mount points", []rfsEntry{f(".dockerenv"), f("app")}, false},
		{".dockerenv a folder", []rfsEntry{d(".dockerenv/"), d("proc/"), d("sys/")}, false},
		{"os-release a folder", []rfsEntry{d("etc/os-release/")}, false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, ts := names(tc.es)
			if got := LooksLikeRootFS(ns, ts); got != tc.want {
				t.Errorf("LooksLikeRootFS(%q) = %v, want %v", ns, got, tc.want)
			}
		})
	}
}

// FuzzLooksLikeRootFS checks the heuristic's properties on any list of
// names: it never panics, the order of entries does not matter, adding
// entries never makes a root filesystem stop being one, and whatever lies
// below one folder that is not a usual one (a project, a source tree) is
// never one.
func FuzzLooksLikeRootFS(f *testing.F) {
	seed := func(es []rfsEntry) {
		ns, ts := names(es)
		f.Add(strings.Join(ns, "\n"), ts)
	}
	seed(dockerExportOf)
	seed([]rfsEntry{{name: "bin", typ: tar.TypeSymlink}, {name: "usr/bin/ls"}})
	seed([]rfsEntry{{name: "etc/os-release"}})
	seed([]rfsEntry{{name: "manifest.json"}, {name: "index.json"}, {name: "oci-layout"}})
	f.Fuzz(func(t *testing.T, list string, types []byte) {
		ns := strings.Split(list, "\n")
		got := LooksLikeRootFS(ns, types)
		if LooksLikeRootFS(ns, types) != got {
			t.Fatal("not deterministic")
		}
		// Reversed, with the types kept to their names.
		rn, rt := slices.Clone(ns), make([]byte, len(ns))
		for i := range ns {
			typ := byte(tar.TypeReg)
			if i < len(types) {
				typ = types[i]
			}
			rt[len(ns)-1-i] = typ
		}
		slices.Reverse(rn)
		if LooksLikeRootFS(rn, rt) != got {
			t.Fatalf("order matters: %q", ns)
		}
		if got && !LooksLikeRootFS(append(slices.Clone(ns), "extra/file"), types) {
			t.Fatalf("an entry more made %q no root filesystem", ns)
		}
		for _, n := range ns {
			if strings.Contains(n, "..") {
				return // may climb out of the folder below
			}
		}
		nested := make([]string, len(ns))
		for i, n := range ns {
			nested[i] = "project/" + n
		}
		if LooksLikeRootFS(nested, types) {
			t.Fatalf("below one folder, %q is a root filesystem", ns)
		}
	})
}

func TestOpenRootfsTar(t *testing.T) {
	raw := rfsTar(t, dockerExportOf...)
	gz := rfsGzip(t, raw)
	for _, tc := range []struct {
		name   string
		file   []byte
		tmpDir bool
	}{
		{"uncompressed", raw, false},
		{"gzip", gz, false},
		{"gzip with a decompressed copy", gz, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rfsWrite(t, "export.tar", tc.file)
			opts := Options{}
			tmp := t.TempDir()
			if tc.tmpDir {
				opts.TmpDir = tmp
			}
			a, err := Open(context.Background(), p, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.Wait(); err != nil {
				t.Fatal(err)
			}
			if a.Info.Format != RootfsTar || a.Info.SHA256 != sha256Hex(tc.file) || a.Info.Size != int64(len(tc.file)) {
				t.Errorf("Info = %+v", a.Info)
			}
			r, ok := a.RootFS()
			if !ok || r.Name != "export.tar" || !r.Container || r.Layer != (Member{Name: "export.tar", Size: int64(len(tc.file))}) {
				t.Fatalf("RootFS() = %+v, %v", r, ok)
			}
			if ms := a.Members(); len(ms) != 1 || ms[0] != r.Layer {
				t.Errorf("Members() = %+v, want the layer alone", ms)
			}
			// The layer is the input as stored, whatever its compression.
			var got []byte
			err = a.Visit(context.Background(), []string{r.Layer.Name}, 2, func(_ string, rd io.Reader) error {
				got, err = io.ReadAll(rd)
				return err
			})
			if err != nil || !bytes.Equal(got, tc.file) {
				t.Errorf("Visit read %d bytes (%v), want the input's %d", len(got), err, len(tc.file))
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("the decompressed copy is left in the temporary folder: %v", ents)
			}
		})
	}
}

// A tar that is neither an image nor a root filesystem stays refused with
// the error it always had; a root filesystem with a manifest.json is read
// as the docker save it claims to be.
func TestOpenNotRootfs(t *testing.T) {
	p := rfsWrite(t, "src.tar", rfsTar(t, rfsEntry{name: "xz-5.6.1/configure", body: "#!/bin/sh"}, rfsEntry{name: "xz-5.6.1/etc/x"}))
	_, err := Open(context.Background(), p, Options{})
	if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "not a docker-archive, OCI layout or OCI archive") {
		t.Errorf("Open(source tarball) = %v, want ErrUnknownFormat", err)
	}
	p = rfsWrite(t, "save.tar", rfsTar(t, append(slices.Clone(dockerExportOf), rfsEntry{name: "manifest.json", body: "[]"})...))
	a, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.RootFS(); ok || a.Info.Format != DockerArchive {
		t.Errorf("a tar with a manifest.json is %s", a.Info.Format)
	}
}

// FuzzOpenRootfs checks that Open applies the heuristic as LooksLikeRootFS
// says: a tar of any entries that holds no image is a root filesystem
// exactly when the heuristic says so, and otherwise refused as before.
func FuzzOpenRootfs(f *testing.F) {
	ns, ts := names(dockerExportOf)
	f.Add(strings.Join(ns, "\n"), ts)
	f.Add("etc/os-release\nREADME", []byte{tar.TypeSymlink, tar.TypeReg})
	f.Add("project/usr/x\nproject/etc/y", []byte{tar.TypeReg, tar.TypeReg})
	f.Fuzz(func(t *testing.T, list string, types []byte) {
		var es []rfsEntry
		var ns []string
		var ts []byte
		regular := 0
		for i, n := range strings.Split(list, "\n") {
			typ := byte(tar.TypeReg)
			if i < len(types) {
				typ = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeFifo}[types[i]%4]
			}
			switch cleanName(n) {
			case "", "manifest.json", "index.json", "oci-layout":
				continue
			}
			if typ == tar.TypeReg {
				regular++
			}
			es = append(es, rfsEntry{name: n, typ: typ, link: "x"})
			ns, ts = append(ns, n), append(ts, typ)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range es {
			if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644}); err != nil {
				return // a name tar cannot hold
			}
		}
		tw.Close()
		a, err := Open(context.Background(), rfsWrite(t, "in.tar", buf.Bytes()), Options{MaxMembers: 1000})
		want := LooksLikeRootFS(ns, ts)
		if err != nil {
			if want || (regular > 0 && !errors.Is(err, ErrUnknownFormat)) {
				t.Fatalf("Open(%q): %v; the heuristic says root filesystem: %v", ns, err, want)
			}
			return
		}
		defer a.Close()
		if _, ok := a.RootFS(); !ok || !want || a.Info.Format != RootfsTar {
			t.Fatalf("Open(%q) is %s, the heuristic says root filesystem: %v", ns, a.Info.Format, want)
		}
	})
}
