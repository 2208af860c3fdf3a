package detect

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
)

// rpmOf wraps a cpio payload (compressed or not) in the least an rpm
// needs: the lead, a signature header whose 3 data bytes need padding, and
// an empty main header.
func rpmOf(payload []byte) []byte {
	b := make([]byte, 96, 96+2*16+8+len(payload))
	copy(b, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	intro := func(count, data uint32) []byte {
		h := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
		h = binary.BigEndian.AppendUint32(h, count)
		return binary.BigEndian.AppendUint32(h, data)
	}
	b = append(b, intro(0, 3)...)
	b = append(b, 'a', 'b', 'c', 0, 0, 0, 0, 0) // 3 data bytes, 5 of padding
	b = append(b, intro(0, 0)...)
	return append(b, payload...)
}

func gzipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nestedFiles are where FuzzNested puts its bytes: one file for each name
// that decides how a layer file is opened (a package name forces its
// format; any other file is opened when its bytes say it is a container).
var nestedFiles = []struct{ path, kind string }{
	{debPath, "deb"},
	{"/var/cache/dnf/xz-libs-5.6.1-1.fc41.x86_64.rpm", "rpm"},
	{"/var/cache/apk/xz-libs-5.6.1-r1.apk", "apk"},
	{srcTarball, ""},
}

// nestedBudget is how long FuzzNested waits for one layer's walk; a walk
// of four small files takes milliseconds.
const nestedBudget = 10 * time.Second

// FuzzNested lays the same bytes in a layer as a .deb, an .rpm, an .apk and
// a source tarball, and walks the layer with the sinks a scan uses, so that
// the ar, cpio, rpm and zip readers, the tar and decompression underneath,
// the nesting of any of them in any other, and the pipes to their
// goroutines all see them. Whatever the bytes: the walk ends within
// nestedBudget and without error (a broken nested archive is a per-file
// error, never the layer's, and a parser that gives up never blocks the
// walk); each file has at most one error line, naming it and its kind;
// every nested finding names the file, its sha256 and a clean nesting
// path, or is a limit finding saying where reading stopped.
func FuzzNested(f *testing.F) {
	lib := fakeELF(f, elfSpec{soname: "liblzma.so.5", needed: []string{"libc.so.6"}, payload: map[int][]byte{0x800: unhexPattern(f, hexPrologue)}})
	libTar := tarOf(f, []tfile{file("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", lib)})
	libCpio := cpioOf([2]string{"./usr/lib64/liblzma.so.5.6.1", string(lib)}, [2]string{"./etc/x", "12"})
	// The real .deb (dpkg-deb -Zxz) the fixture generator plants, and the
	// real .rpm TestNestedPackages builds where rpmbuild is installed.
	seed(f, "../../fixtures/gen/inputs/*.deb",
		arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar", string(tarOf(f, []tfile{file("/control", []byte("Package: liblzma5\n"))}))}, [2]string{"data.tar", string(libTar)}),
		arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", string(gzipOf(f, libTar))}),
		rpmOf(libCpio),
		rpmOf(gzipOf(f, libCpio)),
		apkOf(map[string][]byte{"usr/lib/liblzma.so.5.6.1": lib}),
		sourceTarball(f, m4Marker),
		libTar,
		// A member naming the root, once reported with neither its name
		// nor its sha256.
		tarOf(f, []tfile{file("/.", lib)}),
		// Nested to any depth: a zip holding a tar.zst holding an rpm
		// whose payload is classic lzma; a .deb in a tar.gz; a chain.
		zipOf(f, zipMember{"inner.tar.zst", zstdOf(f, tarNamed(f, [2]string{"p.rpm", string(rpmWith(lzmaOf(f, libCpio), "lzma"))})), zip.Deflate}),
		gzipOf(f, tarNamed(f, [2]string{"pkgs/x.deb", string(debWith(f, "data.tar.xz", xzOf(f, libTar)))})),
		chain(f, 4, lib),
	)
	if b, err := rpmbuild(f, backdooredLib(f, 0x47f0)); err == nil {
		f.Add(b)
	} else {
		f.Logf("no rpmbuild seed: %v", err)
	}
	rs, err := rules.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	// A small byte budget and memory bound, so that a small bomb costs
	// milliseconds rather than gigabytes.
	e, err := New(rs, Options{MaxNestedBytes: 16 << 20, MaxNestedMemory: 32 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var files []tfile
		for _, nf := range nestedFiles {
			files = append(files, file(nf.path, b))
		}
		blob := tarOf(t, files)
		type walked struct {
			res *LayerResult
			err error
		}
		done := make(chan walked, 1)
		go func() {
			ls := e.NewLayerScan()
			_, err := layer.Walk(context.Background(), bytes.NewReader(blob), layer.Options{Sinks: ls.Sinks})
			done <- walked{ls.Result(), err}
		}()
		var w walked
		select {
		case w = <-done:
		case <-time.After(nestedBudget):
			t.Fatalf("walk of %d bytes as nested archives still running after %v", len(b), nestedBudget)
		}
		if w.err != nil {
			t.Fatalf("walk: %v", w.err)
		}
		sum := sha256.Sum256(b)
		sha := hex.EncodeToString(sum[:])
		errs := map[string]int{}
		for _, msg := range w.res.Errors {
			named := false
			for _, nf := range nestedFiles {
				if strings.HasPrefix(msg, nf.path+" (") && strings.Contains(msg, "): ") {
					errs[nf.path]++
					named = true
				}
			}
			if !named {
				t.Fatalf("error names no nested file: %q", msg)
			}
		}
		for p, n := range errs {
			if n > 1 {
				t.Fatalf("%d errors for %s: %q", n, p, w.res.Errors)
			}
		}
		for _, fd := range w.res.Findings {
			if fd.Kind != finding.Nested {
				continue
			}
			known := false
			for _, nf := range nestedFiles {
				known = known || fd.Path == nf.path
			}
			if !known || fd.SHA256 != sha || !strings.HasPrefix(fd.Message, "inside "+path.Base(fd.Path)+": ") || fd.Rule == "" {
				t.Fatalf("nested finding %+v", fd)
			}
			if strings.HasPrefix(fd.Rule, LimitRulePrefix) {
				if !strings.HasPrefix(fd.Evidence, "at ") {
					t.Fatalf("limit finding %+v says not where", fd)
				}
				continue
			}
			ev, ok := strings.CutPrefix(fd.Evidence, "member ")
			if !ok {
				// A digest of a compressed archive's decompressed stream.
				if !strings.HasPrefix(fd.Evidence, "decompressed ") {
					t.Fatalf("evidence %q names no member", fd.Evidence)
				}
				continue
			}
			member, _, _ := strings.Cut(ev, " (sha256 ")
			if !cleanNestingPath(member) {
				t.Fatalf("member %q is not a clean nesting path", member)
			}
		}
	})
}

// cleanNestingPath reports whether m is a nesting path as findings show
// it: relative, cleaned, no step climbing out.
func cleanNestingPath(m string) bool {
	if m == "." {
		return true
	}
	if m == "" || strings.HasPrefix(m, "/") {
		return false
	}
	for _, part := range strings.Split(m, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}
