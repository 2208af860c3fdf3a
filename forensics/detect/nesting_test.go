package detect

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/rules"
)

// Builders of nested fixtures. Every archive is written by Go's own
// writers (archive/tar, archive/zip) or the chosen compression libraries;
// ar, cpio and rpm by the helpers of archive_test.go and nested_test.go,
// checked against the real tools where Debian has them (TestNestedDeb,
// TestNestedPackages, TestNestedRealTools).

// tarNamed is a tar of members named as given (no leading slash taken off).
func tarNamed(t testing.TB, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// xzDictOf is xzOf with a dictionary of dict bytes declared.
func xzDictOf(t testing.TB, b []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: dict}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lzmaOf writes the classic .lzma format (lzma_alone), as old rpm payloads
// are.
func lzmaOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := lzma.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bzip2Of runs the bzip2 tool (Go's library only reads bzip2).
func bzip2Of(t testing.TB, b []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fastGzip compresses big runs of zeros quickly, for the bombs.
func fastGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := kgzip.NewWriterLevel(&buf, kgzip.BestSpeed)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zipMember struct {
	name   string
	body   []byte
	method uint16
}

func zipOf(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// debWith is a .deb whose data member is dataName (data.tar.xz, ...).
func debWith(t testing.TB, dataName string, data []byte) []byte {
	return arOf(
		[2]string{"debian-binary", "2.0\n"},
		[2]string{"control.tar.gz", string(gzipOf(t, tarNamed(t, [2]string{"./control", "Package: liblzma5\nVersion: 5.6.1-1\n"})))},
		[2]string{dataName, string(data)},
	)
}

// rpmWith is rpmOf with a main header naming the payload compressor, as
// rpmbuild writes it (RPMTAG_PAYLOADCOMPRESSOR, a string).
func rpmWith(payload []byte, compressor string) []byte {
	b := rpmOf(nil)
	b = b[:len(b)-16] // the empty main header rpmOf wrote
	data := append([]byte(compressor), 0)
	h := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
	h = binary.BigEndian.AppendUint32(h, 1)
	h = binary.BigEndian.AppendUint32(h, uint32(len(data)))
	h = binary.BigEndian.AppendUint32(h, rpmTagPayloadCompressor)
	h = binary.BigEndian.AppendUint32(h, rpmTypeString)
	h = binary.BigEndian.AppendUint32(h, 0)
	h = binary.BigEndian.AppendUint32(h, 1)
	b = append(b, h...)
	b = append(b, data...)
	return append(b, payload...)
}

func builtinEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// scanFiles scans one layer of files and returns the image's findings and
// the layer's errors. It fails the test on a note of a part left unread,
// which its callers do not expect: scanFilesAll returns those.
func scanFiles(t testing.TB, e *Engine, files ...tfile) ([]finding.Finding, []string) {
	t.Helper()
	r, errs := scanFilesAll(t, e, files...)
	if len(r.Unread) > 0 {
		t.Errorf("notes of parts unread: %v", r.Unread)
	}
	return r.Findings, errs
}

// scanFilesAll scans one layer of files and returns the image's result
// and the layer's errors.
func scanFilesAll(t testing.TB, e *Engine, files ...tfile) (ImageResult, []string) {
	t.Helper()
	img := &image.Image{Names: []string{"test:nesting"}}
	results, tr := scanImage(t, e, img, [][]tfile{files})
	return e.Image(ImageInput{Image: img, Tree: tr, Layers: results}), results[0].Errors
}

const (
	prologueRule = "xz-backdoor-get-cpuid-prologue"
	debLib       = "usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	rpmLib       = "usr/lib64/liblzma.so.5.6.1"
)

// TestNesting finds one look-alike backdoored liblzma through every
// container format, alone and nested in the others, and names it by its
// full nesting path.
func TestNesting(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	libTar := tarNamed(t, [2]string{"./" + debLib, string(lib)})
	libCpio := cpioOf([2]string{"./" + rpmLib, string(lib)}, [2]string{"./etc/xz.conf", "x"})
	cases := []struct {
		name   string
		path   string
		body   func(t *testing.T) []byte
		member string // the nesting path inside the layer file
	}{
		{"gzip file", "/opt/liblzma.so.5.6.1.gz", func(t *testing.T) []byte { return gzipOf(t, lib) }, "liblzma.so.5.6.1"},
		{"gzip of gzip of gzip", "/opt/liblzma.so.5.6.1.gz.gz.gz", func(t *testing.T) []byte { return gzipOf(t, gzipOf(t, gzipOf(t, lib))) },
			"liblzma.so.5.6.1.gz.gz:liblzma.so.5.6.1.gz:liblzma.so.5.6.1"},
		{"tar", "/opt/lib.tar", func(t *testing.T) []byte { return libTar }, debLib},
		{"tar.gz", "/opt/lib.tar.gz", func(t *testing.T) []byte { return gzipOf(t, libTar) }, debLib},
		{"tar.xz", "/opt/lib.tar.xz", func(t *testing.T) []byte { return xzOf(t, libTar) }, debLib},
		{"tar.zst", "/opt/lib.tar.zst", func(t *testing.T) []byte { return zstdOf(t, libTar) }, debLib},
		{"tar.bz2", "/opt/lib.tar.bz2", func(t *testing.T) []byte { return bzip2Of(t, libTar) }, debLib},
		{"tar.lzma", "/opt/lib.tar.lzma", func(t *testing.T) []byte { return lzmaOf(t, libTar) }, debLib},
		{"renamed tar.xz", "/opt/blob.bin", func(t *testing.T) []byte { return xzOf(t, libTar) }, debLib},
		{"deb data.tar.zst", "/var/cache/liblzma5.deb", func(t *testing.T) []byte { return debWith(t, "data.tar.zst", zstdOf(t, libTar)) }, "data.tar.zst:" + debLib},
		{"deb in a tarball in a layer", "/usr/share/x.tar.gz", func(t *testing.T) []byte {
			return gzipOf(t, tarNamed(t, [2]string{"pkgs/liblzma5_5.6.1-1_amd64.deb", string(debWith(t, "data.tar.xz", xzOf(t, libTar)))}))
		}, "pkgs/liblzma5_5.6.1-1_amd64.deb:data.tar.xz:" + debLib},
		{"rpm, lzma payload, in a tarball", "/srv/repo.tar", func(t *testing.T) []byte {
			return tarNamed(t, [2]string{"x86_64/xz-libs-5.6.1-1.x86_64.rpm", string(rpmWith(lzmaOf(t, libCpio), "lzma"))})
		}, "x86_64/xz-libs-5.6.1-1.x86_64.rpm:" + rpmLib},
		{"rpm, xz payload", "/srv/xz-libs.rpm", func(t *testing.T) []byte { return rpmWith(xzOf(t, libCpio), "xz") }, rpmLib},
		{"rpm, zstd payload", "/srv/xz-libs.rpm", func(t *testing.T) []byte { return rpmWith(zstdOf(t, libCpio), "zstd") }, rpmLib},
		{"rpm, bzip2 payload", "/srv/xz-libs.rpm", func(t *testing.T) []byte { return rpmWith(bzip2Of(t, libCpio), "bzip2") }, rpmLib},
		{"cpio.gz (an initramfs)", "/boot/initrd.img", func(t *testing.T) []byte { return gzipOf(t, libCpio) }, rpmLib},
		{"apk in a zip", "/downloads/packages.zip", func(t *testing.T) []byte {
			return zipOf(t, zipMember{"alpine/xz-libs-5.6.1-r1.apk", apkOf(map[string][]byte{"usr/lib/liblzma.so.5.6.1": lib}), zip.Store})
		}, "alpine/xz-libs-5.6.1-r1.apk:usr/lib/liblzma.so.5.6.1"},
		{"wheel", "/root/.cache/pip/lzma_shim-1.0-py3-none-manylinux_2_17_x86_64.whl", func(t *testing.T) []byte {
			return zipOf(t, zipMember{"lzma_shim/__init__.py", []byte("pass\n"), zip.Deflate}, zipMember{"lzma_shim.libs/liblzma.so.5.6.1", lib, zip.Deflate})
		}, "lzma_shim.libs/liblzma.so.5.6.1"},
		{"jar in a war", "/opt/app.war", func(t *testing.T) []byte {
			jar := zipOf(t, zipMember{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\n"), zip.Deflate}, zipMember{"native/linux-x86_64/liblzma.so.5.6.1", lib, zip.Deflate})
			return zipOf(t, zipMember{"WEB-INF/lib/xz-native.jar", jar, zip.Store})
		}, "WEB-INF/lib/xz-native.jar:native/linux-x86_64/liblzma.so.5.6.1"},
		{"rpm with lzma payload in a tar.zst in a zip", "/x.zip", func(t *testing.T) []byte {
			inner := zstdOf(t, tarNamed(t, [2]string{"pkg.rpm", string(rpmWith(lzmaOf(t, libCpio), "lzma"))}))
			return zipOf(t, zipMember{"inner.tar.zst", inner, zip.Deflate})
		}, "inner.tar.zst:pkg.rpm:" + rpmLib},
	}
	e := builtinEngine(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, errs := scanFiles(t, e, file(c.path, c.body(t)))
			if len(errs) > 0 {
				t.Errorf("errors: %q", errs)
			}
			if len(fs) != 1 || line(fs[0]) != prologueRule+" nested L0 "+c.path+" present high" {
				for _, f := range fs {
					t.Log(line(f), "|", f.Evidence)
				}
				t.Fatalf("%d findings, want the prologue inside %s", len(fs), c.path)
			}
			if want := "member " + c.member + " (sha256 "; !strings.HasPrefix(fs[0].Evidence, want) || !strings.Contains(fs[0].Evidence, "offset 0x47f0") {
				t.Errorf("evidence %q, want it to start %q and name offset 0x47f0", fs[0].Evidence, want)
			}
		})
	}
}

// TestNestedRealTools nests packages the real tools built: a .deb by
// dpkg-deb inside a tarball, and an rpm whose payload rpmbuild compressed
// with the old lzma format.
func TestNestedRealTools(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	e := builtinEngine(t, Options{})
	t.Run("deb by dpkg-deb in a tarball in a layer", func(t *testing.T) {
		deb := buildDeb(t, lib)
		tgz := gzipOf(t, tarNamed(t, [2]string{"mirror/pool/main/x/xz-utils/liblzma5_5.6.1-1_amd64.deb", string(deb)}))
		fs, errs := scanFiles(t, e, file("/usr/share/x.tar.gz", tgz))
		if len(errs) > 0 || len(fs) != 1 {
			t.Fatalf("findings %v, errors %q", fs, errs)
		}
		want := "member mirror/pool/main/x/xz-utils/liblzma5_5.6.1-1_amd64.deb:data.tar.xz:" + debLib + " (sha256 "
		if !strings.HasPrefix(fs[0].Evidence, want) || fs[0].Severity != finding.High {
			t.Errorf("finding %s | %s", line(fs[0]), fs[0].Evidence)
		}
	})
	t.Run("rpm by rpmbuild with an lzma payload", func(t *testing.T) {
		if _, err := exec.LookPath("rpmbuild"); err != nil {
			t.Skip("rpmbuild not installed")
		}
		rpm := buildRPMPayload(t, lib, "w9.lzdio")
		if !bytes.Contains(rpm, []byte("lzma\x00")) {
			t.Fatal("rpmbuild did not name lzma as the payload compressor")
		}
		fs, errs := scanFiles(t, e, file("/srv/repo.tar", tarNamed(t, [2]string{"xz-libs.rpm", string(rpm)})))
		if len(errs) > 0 || len(fs) != 1 {
			t.Fatalf("findings %v, errors %q", fs, errs)
		}
		if want := "member xz-libs.rpm:" + rpmLib + " (sha256 "; !strings.HasPrefix(fs[0].Evidence, want) {
			t.Errorf("evidence %q, want %q", fs[0].Evidence, want)
		}
	})
}

// buildRPMPayload is rpmbuild with the payload compression io given
// (w9.lzdio: the classic lzma format).
func buildRPMPayload(t *testing.T, lib []byte, io string) []byte {
	t.Helper()
	b, err := rpmbuildWith(t, lib, io)
	if err != nil {
		t.Skip(err)
	}
	return b
}

// chain nests lib n tar.gz archives deep: l0.tar.gz holds l1.tar.gz, and
// so on; the last holds lib.
func chain(t testing.TB, n int, lib []byte) []byte {
	body := gzipOf(t, tarNamed(t, [2]string{"liblzma.so.5.6.1", string(lib)}))
	for i := n - 1; i >= 1; i-- {
		body = gzipOf(t, tarNamed(t, [2]string{fmt.Sprintf("l%d.tar.gz", i), string(body)}))
	}
	return body
}

func chainPath(from, to int) string {
	var parts []string
	for i := from; i <= to; i++ {
		parts = append(parts, fmt.Sprintf("l%d.tar.gz", i))
	}
	return strings.Join(parts, ":")
}

func random(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestNestedLimits reaches every bound: each is a finding that names the
// file and where reading stopped, and what was read before it counts.
func TestNestedLimits(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	type want struct {
		rule     string // "" for the prologue finding
		evidence string // the start of its evidence
	}
	cases := []struct {
		name  string
		opts  Options
		files func(t *testing.T) []tfile
		want  []want
	}{
		{
			name:  "10 deep, within the default depth",
			files: func(t *testing.T) []tfile { return []tfile{file("/deep/l0.tar.gz", chain(t, 10, lib))} },
			want:  []want{{"", "member " + chainPath(1, 9) + ":liblzma.so.5.6.1 (sha256 "}},
		},
		{
			name:  "20 deep, past a depth limit of 5",
			opts:  Options{MaxNestedDepth: 5},
			files: func(t *testing.T) []tfile { return []tfile{file("/deep/l0.tar.gz", chain(t, 20, lib))} },
			want:  []want{{LimitRulePrefix + limitDepth, "at " + chainPath(1, 5) + ": depth limit 5 reached"}},
		},
		{
			name: "byte budget, then a later archive not opened",
			opts: Options{MaxNestedBytes: 300 << 10},
			files: func(t *testing.T) []tfile {
				return []tfile{
					file("/a.tar", tarNamed(t, [2]string{"liblzma.so.5.6.1", string(lib)}, [2]string{"more", string(random(200 << 10))})),
					file("/b.tar.gz", gzipOf(t, tarNamed(t, [2]string{"liblzma.so.5.6.1", string(lib)}))),
				}
			},
			want: []want{
				{LimitRulePrefix + limitBytes, "at more: nested byte budget 307200 reached; after it, 1 more archive files of this layer were not opened (/b.tar.gz)"},
				{"", "member liblzma.so.5.6.1 (sha256 "},
			},
		},
		{
			name: "a zip over the memory bound",
			opts: Options{MaxNestedMemory: 1 << 20},
			files: func(t *testing.T) []tfile {
				return []tfile{file("/opt/big.zip", zipOf(t, zipMember{"noise", random(2 << 20), zip.Store}, zipMember{"liblzma.so.5.6.1", lib, zip.Deflate}))}
			},
			want: []want{{LimitRulePrefix + limitMemory, "at the file itself: a zip archive of "}},
		},
		{
			name: "an xz dictionary over the memory bound, in a tar",
			opts: Options{MaxNestedMemory: 4 << 20},
			files: func(t *testing.T) []tfile {
				return []tfile{file("/opt/a.tar", tarNamed(t, [2]string{"lib.tar.xz", string(xzDictOf(t, tarNamed(t, [2]string{"liblzma.so.5.6.1", string(lib)}), 8<<20))}))}
			},
			want: []want{{LimitRulePrefix + limitMemory, "at lib.tar.xz: a xz decoder needing "}},
		},
		{
			name: "a gzip bomb in a tarball",
			files: func(t *testing.T) []tfile {
				return []tfile{file("/srv/x.tar", tarNamed(t, [2]string{"zeros.gz", string(fastGzip(t, make([]byte, 80<<20)))}, [2]string{"liblzma.so.5.6.1", string(lib)}))}
			},
			// The bomb is stopped, and the member after it still read.
			want: []want{
				{LimitRulePrefix + limitRatio, "at zeros.gz: decompression expanded to "},
				{"", "member liblzma.so.5.6.1 (sha256 "},
			},
		},
		{
			name: "many small bombs in one file, each under the grace",
			files: func(t *testing.T) []tfile {
				z := fastGzip(t, make([]byte, 20<<20))
				var ms []zipMember
				for i := range 16 {
					ms = append(ms, zipMember{fmt.Sprintf("%02d.gz", i), z, zip.Store})
				}
				return []tfile{file("/srv/x.zip", zipOf(t, ms...))}
			},
			// The zip is read whole (some 330 KB) before its members: past
			// the file's grace of 256 MiB, the 16th passes 1000:1.
			want: []want{{LimitRulePrefix + limitRatio, "at 15.gz:15: "}},
		},
		{
			name: "a zip member expanding beyond the ratio",
			files: func(t *testing.T) []tfile {
				return []tfile{file("/srv/x.zip", zipOf(t, zipMember{"zeros", make([]byte, 80<<20), zip.Deflate}))}
			},
			want: []want{{LimitRulePrefix + limitRatio, "at zeros: decompression expanded to "}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := builtinEngine(t, c.opts)
			r, errs := scanFilesAll(t, e, c.files(t)...)
			if len(errs) > 0 {
				t.Errorf("errors: %q", errs)
			}
			// Nothing ordinary nests 16 deep or expands a thousandfold
			// (findings); a big archive is only a part unread (a note).
			findingKinds := map[string]bool{limitDepth: true, limitRatio: true}
			var wantFindings, wantNotes []want
			for _, w := range c.want {
				if kind, ok := strings.CutPrefix(w.rule, LimitRulePrefix); ok && !findingKinds[kind] {
					wantNotes = append(wantNotes, w)
				} else {
					wantFindings = append(wantFindings, w)
				}
			}
			fs := r.Findings
			ok := len(fs) == len(wantFindings)
			for i := 0; ok && i < len(fs); i++ {
				w := wantFindings[i]
				rule := w.rule
				if rule == "" {
					rule = prologueRule
				}
				ok = fs[i].Rule == rule && fs[i].Kind == finding.Nested && strings.HasPrefix(fs[i].Evidence, w.evidence)
				if w.rule != "" {
					ok = ok && fs[i].Severity == finding.Low && strings.HasPrefix(fs[i].Message, "inside ") && fs[i].SHA256 != ""
				}
			}
			if !ok {
				for _, f := range fs {
					t.Log(line(f), "|", f.Evidence, "|", f.Message)
				}
				t.Fatalf("findings do not match %+v", wantFindings)
			}
			ok = len(r.Unread) == len(wantNotes)
			for i := 0; ok && i < len(r.Unread); i++ {
				p, w := r.Unread[i], wantNotes[i]
				msg := limitMessage(strings.TrimPrefix(w.rule, LimitRulePrefix))
				ok = p.Kind == integrity.Degraded && strings.Contains(p.Detail, ": inside ") && strings.Contains(p.Detail, msg+" ("+w.evidence)
			}
			if !ok {
				t.Fatalf("notes %+v do not match %+v", r.Unread, wantNotes)
			}
		})
	}
}

// TestNestedMemberLimit reads a zip of more members than one file may
// have (its directory in the zip64 format, as Go writes past 65,534
// entries).
func TestNestedMemberLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a zip of 100,001 members")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range maxNestedMembers + 1 {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%06d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	// A zip of many members is ordinary: the part unread is a note.
	r, errs := scanFilesAll(t, builtinEngine(t, Options{}), file("/many.zip", buf.Bytes()))
	if len(errs) > 0 || len(r.Findings) != 0 || len(r.Unread) != 1 || !strings.Contains(r.Unread[0].Detail, fmt.Sprintf("(at f%06d: member limit", maxNestedMembers)) {
		for _, f := range r.Findings {
			t.Log(line(f), "|", f.Evidence)
		}
		t.Fatalf("%d findings, notes %v, errors %q", len(r.Findings), r.Unread, errs)
	}
}

// TestNestedBroken reads archives that break inside others: the break is
// an error naming the nesting path, the archive around it reads on, and
// what lies beside it is still found.
func TestNestedBroken(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	good := [2]string{"liblzma.so.5.6.1", string(lib)}
	badGzip := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 600)...)
	libZip := zipOf(t, zipMember{"liblzma.so.5.6.1", lib, zip.Deflate})
	// The CRC-32 of the member, in its directory record, flipped.
	crcBad := bytes.Clone(libZip)
	if i := bytes.LastIndex(crcBad, []byte("PK\x01\x02")); i >= 0 {
		crcBad[i+16] ^= 0xff
	}
	cases := []struct {
		name, path string
		body       []byte
		found      bool   // the library is still found
		err        string // in the layer's error
	}{
		{"corrupt gzip member beside the library", "/a.tar", tarNamed(t, [2]string{"broken.gz", string(badGzip)}, good), true, "/a.tar (tar): member broken.gz (gzip): "},
		{"truncated deb in a tarball", "/a.tar.gz", gzipOf(t, tarNamed(t, [2]string{"x.deb", string(debWith(t, "data.tar.xz", xzOf(t, tarNamed(t, good)))[:300])}, good)), true, "member x.deb (ar): "},
		{"zip member CRC mismatch", "/a.zip", crcBad, true, "member liblzma.so.5.6.1 (zip): malformed archive: read CRC-32"},
		{"zip cut before its directory", "/a.zip", libZip[:len(libZip)-30], false, "/a.zip (zip): zip: offset"},
		{"package name, other bytes", "/a.deb", gzipOf(t, []byte("not an ar archive")), false, "/a.deb (deb): ar: offset 8: malformed archive: no ar magic"},
	}
	e := builtinEngine(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, errs := scanFiles(t, e, file(c.path, c.body))
			if (len(fs) == 1 && fs[0].Rule == prologueRule) != c.found || !c.found && len(fs) > 0 {
				for _, f := range fs {
					t.Log(line(f), "|", f.Evidence)
				}
				t.Errorf("%d findings, want the library found: %v", len(fs), c.found)
			}
			if len(errs) != 1 || !strings.Contains(errs[0], c.err) {
				t.Errorf("errors %q, want one containing %q", errs, c.err)
			}
		})
	}
}

// TestSniffKind names containers from their bytes, never their names.
func TestSniffKind(t *testing.T) {
	lib := fakeELF(t, elfSpec{soname: "liblzma.so.5"})
	tarHead := tarNamed(t, [2]string{"a", "b"})[:512]
	v7 := bytes.Clone(tarHead)
	copy(v7[257:265], make([]byte, 8)) // no ustar magic: a v7 tar, checksum fixed below
	var sum int64
	for i, b := range v7 {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
	}
	copy(v7[148:156], fmt.Sprintf("%06o\x00 ", sum))
	badSum := bytes.Clone(tarHead)
	badSum[0] ^= 1
	cases := []struct {
		name, base string
		head       []byte
		want       string
	}{
		{"gzip", "x", gzipOf(t, []byte("x")), "gzip"},
		{"gzip magic, not deflate", "x.gz", []byte{0x1f, 0x8b, 7, 0}, ""},
		{"xz", "x", xzOf(t, []byte("x")), "xz"},
		{"zstd", "x", zstdOf(t, []byte("x")), "zstd"},
		{"zstd skippable frame first", "x", append([]byte{0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}, zstdOf(t, []byte("x"))...), "zstd"},
		{"bzip2 text look-alike", "x", []byte("BZh9 is not a stream"), ""},
		{"lzma by name", "x.lzma", lzmaOf(t, []byte("x")), "lzma"},
		{"lzma bytes, other name", "x", lzmaOf(t, []byte("x")), ""},
		{"lzma name, text", "x.lzma", []byte("plain text, not lzma"), ""},
		{"ustar", "x", tarHead, "tar"},
		{"v7 tar", "x", v7, "tar"},
		{"tar with a bad checksum", "x", badSum, ""},
		{"ar", "x", []byte(arMagic + "debian-binary"), "ar"},
		{"rpm", "x", rpmOf(nil), "rpm"},
		{"cpio newc", "x", cpioOf([2]string{"a", "b"}), "cpio"},
		{"cpio odc", "x", []byte("070707"), ""},
		{"zip", "x", zipOf(t, zipMember{"a", []byte("b"), zip.Store}), "zip"},
		{"ELF named .deb", "x.deb", lib, ""},
		{"empty", "x.tar.gz", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := c.head
			if len(head) > sniffLen {
				head = head[:sniffLen]
			}
			if got := sniffKind(c.base, head); got != c.want {
				t.Errorf("sniffKind(%q) = %q, want %q", c.base, got, c.want)
			}
		})
	}
}

func TestDecompressedName(t *testing.T) {
	for in, want := range map[string]string{
		"x.tar.gz": "x.tar", "x.tgz": "x.tar", "liblzma.so.5.gz": "liblzma.so.5", "data.tar.xz": "data.tar",
		"x.tzst": "x.tar", "a.bz2": "a", "blob": "blob", ".gz": ".gz", "x.lzma": "x",
	} {
		if got := decompressedName(in); got != want {
			t.Errorf("decompressedName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestArLongNames reads GNU and BSD long member names, as ar writes them
// for static libraries.
func TestArLongNames(t *testing.T) {
	gnu := arOf(
		[2]string{"/", "symbols"},
		[2]string{"//", "liblzma_la-crc64_fast.o/\nliblzma_la-crc32_fast.o/\n"},
		[2]string{"/0", "a"},
		[2]string{"/25", "b"},
		[2]string{"short.o/", "c"},
	)
	got, err := readAr(gnu)
	if err != nil || got != "/=symbols,liblzma_la-crc64_fast.o=a,liblzma_la-crc32_fast.o=b,short.o=c" {
		t.Errorf("GNU: %q, %v", got, err)
	}
	bsd := arOf([2]string{"#1/23", "liblzma_la-crc64_fast.oobject"})
	got, err = readAr(bsd)
	if err != nil || got != "liblzma_la-crc64_fast.o=object" {
		t.Errorf("BSD: %q, %v", got, err)
	}
	if _, err := readAr(arOf([2]string{"/99", "x"})); err == nil || !strings.Contains(err.Error(), "outside the long-name table") {
		t.Errorf("dangling long name: %v", err)
	}
}

// TestZipDir walks zip directories as archive/zip and the zip tool write
// them, and refuses broken ones without reading out of bounds.
func TestZipDir(t *testing.T) {
	z := zipOf(t, zipMember{"a/", nil, zip.Store}, zipMember{"a/b.txt", []byte("hello"), zip.Deflate}, zipMember{"c", []byte("world"), zip.Store})
	withComment := append(bytes.Clone(z[:len(z)-2]), 5, 0, 'h', 'e', 'l', 'l', 'o')
	stub := append([]byte("#!/bin/sh\nexit 0\n"), z...) // a self-extracting stub before the archive
	cases := []struct {
		name string
		b    []byte
		want string
		err  string
	}{
		{"plain", z, "a/=,a/b.txt=hello,c=world", ""},
		{"comment", withComment, "a/=,a/b.txt=hello,c=world", ""},
		{"stub before", stub, "a/=,a/b.txt=hello,c=world", ""},
		{"no end record", z[:len(z)-22], "", "no end of central directory"},
		{"too short", []byte("PK"), "", "too short"},
		{"directory cut", append(bytes.Clone(z[:len(z)-40]), z[len(z)-22:]...), "a/=,a/b.txt=hello", "central directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readZipDir(c.b)
			if got != c.want {
				t.Errorf("members %q, want %q", got, c.want)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

// readZipDir lists a zip's members and contents through zipDir.
func readZipDir(b []byte) (string, error) {
	z, err := openZipDir(b)
	if err != nil {
		return "", err
	}
	var out []string
	for {
		e, err := z.next()
		if err == io.EOF {
			return strings.Join(out, ","), nil
		}
		if err != nil {
			return strings.Join(out, ","), err
		}
		data, err := z.data(e)
		if err != nil {
			return strings.Join(out, ","), err
		}
		var body []byte
		switch e.method {
		case zipStored:
			body = data
		case zipDeflate:
			fr := flateReader(data)
			body, err = io.ReadAll(io.LimitReader(fr, 1<<20))
			if err != nil {
				return strings.Join(out, ","), err
			}
		}
		out = append(out, e.name+"="+string(body))
	}
}

func flateReader(b []byte) io.Reader { return flate.NewReader(bytes.NewReader(b)) }

// FuzzZipDir walks arbitrary bytes as a zip directory, and as a zip file
// nested in a layer: no panic, no read out of bounds, no hang.
func FuzzZipDir(f *testing.F) {
	f.Add(zipOf(f, zipMember{"a/b.txt", []byte("hello"), zip.Deflate}, zipMember{"c", []byte("world"), zip.Store}))
	f.Add(zipOf(f, zipMember{"inner.zip", zipOf(f, zipMember{"x", []byte("y"), zip.Deflate}), zip.Store}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	e := builtinEngine(f, Options{MaxNestedBytes: 16 << 20, MaxNestedMemory: 32 << 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		readZipDir(b)
		ns := &nestedScan{e: e, lim: e.nestLimits(), ln: &layerNest{budgetAt: -1}, label: "zip", base: "x.zip", limits: map[string]*limitHit{}, raw: &countingReader{n: int64(len(b))}}
		if err := ns.walkZipBytes("", b, 1); err != nil && !isStop(err) && !strings.Contains(err.Error(), "zip") {
			t.Fatalf("error names no zip: %v", err)
		}
		if ns.ln.held != 0 {
			t.Fatalf("%d bytes of memory still held", ns.ln.held)
		}
	})
}

// FuzzRPMPayload reads arbitrary bytes as an rpm payload, compressed with
// the classic lzma format the main header names, and uncompressed.
func FuzzRPMPayload(f *testing.F) {
	libCpio := cpioOf([2]string{"./usr/lib64/liblzma.so.5.6.1", "x"})
	f.Add(lzmaOf(f, libCpio), "lzma")
	f.Add(xzOf(f, libCpio), "xz")
	f.Add(libCpio, "")
	e := builtinEngine(f, Options{MaxNestedBytes: 16 << 20, MaxNestedMemory: 32 << 20})
	f.Fuzz(func(t *testing.T, payload []byte, compressor string) {
		b := rpmWith(payload, compressor)
		ns := &nestedScan{e: e, lim: e.nestLimits(), ln: &layerNest{budgetAt: -1}, label: "rpm", base: "x.rpm", limits: map[string]*limitHit{}}
		ns.top(kindRPM, bytes.NewReader(b), int64(len(b)))
		if ns.ln.held != 0 {
			t.Fatalf("%d bytes of memory still held", ns.ln.held)
		}
	})
}
