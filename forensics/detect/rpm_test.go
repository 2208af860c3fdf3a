package detect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/rules"
)

// buildRPM runs the real rpmbuild on a package carrying lib as
// /usr/lib64/liblzma.so.5.6.1; without a working rpmbuild it skips t.
func buildRPM(t *testing.T, lib []byte) []byte {
	t.Helper()
	b, err := rpmbuild(t, lib)
	if err != nil {
		t.Skip(err)
	}
	return b
}

// rpmbuild is buildRPM for any test, fuzz targets included: it returns an
// error, rather than skipping, when rpmbuild is not installed or fails.
func rpmbuild(t testing.TB, lib []byte) ([]byte, error) {
	t.Helper()
	return rpmbuildWith(t, lib, "w6.xzdio")
}

// rpmbuildWith is rpmbuild with the payload compression given as rpm's
// _binary_payload names it (w6.xzdio, w9.lzdio for the old lzma format).
func rpmbuildWith(t testing.TB, lib []byte, payload string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		return nil, errors.New("rpmbuild not installed")
	}
	top := t.TempDir()
	src := filepath.Join(top, "liblzma.so.5.6.1")
	if err := os.WriteFile(src, lib, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(top, "xz-libs.spec")
	os.WriteFile(spec, []byte(`Name: xz-libs
Version: 5.6.1
Release: 1.fc41
Summary: look-alike for tests
License: none
BuildArch: x86_64
%description
look-alike for tests
%install
mkdir -p %{buildroot}/usr/lib64
cp `+src+` %{buildroot}/usr/lib64/liblzma.so.5.6.1
%files
/usr/lib64/liblzma.so.5.6.1
`), 0o644)
	cmd := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, "--define", "__strip /bin/true", "--define", "debug_package %{nil}",
		"--define", "_binary_payload "+payload, "--define", "__os_install_post %{nil}", "--target", "x86_64-linux", spec)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rpmbuild failed (%v): %s", err, b)
	}
	ms, _ := filepath.Glob(filepath.Join(top, "RPMS", "*", "*.rpm"))
	if len(ms) != 1 {
		t.Fatalf("rpmbuild wrote %v", ms)
	}
	b, err := os.ReadFile(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	return b, nil
}

// apkOf builds an Alpine-style package: gzip streams of tar segments
// (control, then data), concatenated.
func apkOf(files map[string][]byte) []byte {
	var out bytes.Buffer
	segment := func(entries map[string][]byte, end bool) {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		for name, body := range entries {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write(body)
		}
		tw.Flush()
		b := tb.Bytes()
		if end {
			tw.Close()
			b = tb.Bytes()
		}
		zw := gzip.NewWriter(&out)
		zw.Write(b)
		zw.Close()
	}
	segment(map[string][]byte{".PKGINFO": []byte("pkgname = xz-libs\npkgver = 5.6.1-r1\n")}, false)
	segment(files, true)
	return out.Bytes()
}

func TestNestedPackages(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, member string
		body               func(t *testing.T) []byte
	}{
		{"rpm built by rpmbuild", "/root/rpmbuild/RPMS/x86_64/xz-libs-5.6.1-1.fc41.x86_64.rpm", "member usr/lib64/liblzma.so.5.6.1", func(t *testing.T) []byte { return buildRPM(t, lib) }},
		{"apk look-alike", "/var/cache/apk/xz-libs-5.6.1-r1.apk", "member usr/lib/liblzma.so.5.6.1", func(t *testing.T) []byte {
			return apkOf(map[string][]byte{"usr/lib/liblzma.so.5.6.1": lib})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := &image.Image{Names: []string{"test:nested"}}
			results, tr := scanImage(t, e, img, [][]tfile{{file(c.path, c.body(t))}})
			fs := e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings
			if len(fs) != 1 || line(fs[0]) != "xz-backdoor-get-cpuid-prologue nested L0 "+c.path+" present high" {
				for _, f := range fs {
					t.Log(line(f), f.Evidence)
				}
				t.Fatalf("%d findings; errors %v", len(fs), results[0].Errors)
			}
			if !strings.Contains(fs[0].Evidence, c.member) {
				t.Errorf("evidence %q does not name %s", fs[0].Evidence, c.member)
			}
		})
	}
}
