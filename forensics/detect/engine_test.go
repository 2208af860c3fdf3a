package detect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/rules"
)

const (
	libPath    = "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	debPath    = "/var/cache/apt/archives/liblzma5_5.6.1-1_amd64.deb"
	dpkgDB     = "/var/lib/dpkg/status"
	srcTarball = "/usr/src/xz-5.6.1.tar.gz"
)

// backdooredLib is a look-alike liblzma: a valid ELF header and dynamic
// section, and the detect.sh prologue at the offset the Debian build has it
// (0x47f0), which also lies across a 64 KiB chunk boundary when shifted.
func backdooredLib(t testing.TB, off int) []byte {
	return fakeELF(t, elfSpec{soname: "liblzma.so.5", needed: []string{"libc.so.6"}, payload: map[int][]byte{off: unhexPattern(t, hexPrologue)}, size: 200 << 10})
}

func cleanLib(t testing.TB) []byte {
	return fakeELF(t, elfSpec{soname: "liblzma.so.5", needed: []string{"libc.so.6"}, size: 200 << 10})
}

func sshd(t testing.TB, needed ...string) []byte {
	return fakeELF(t, elfSpec{interp: glibcLoader, needed: needed})
}

func dpkgStatus(pkgs ...string) []byte {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: %s\nDescription: test\n\n", name, version)
	}
	return []byte(b.String())
}

func apkInstalled(pkgs ...string) []byte {
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, "C:Q1abcdefghijklmnopqrstuvwxyz0=\nP:%s\nV:%s\nA:x86_64\nS:1\nI:1\nT:test\n\n", name, version)
	}
	return []byte(b.String())
}

// sourceTarball is an xz-5.6.1.tar.gz look-alike: a tiny tree whose
// build-to-host.m4 carries the injected line.
func sourceTarball(t testing.TB, m4 string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{"xz-5.6.1/README", "XZ Utils look-alike for tests\n"},
		{"xz-5.6.1/m4/build-to-host.m4", "# build-to-host.m4 serial 30\n" + m4},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// buildDeb runs the real dpkg-deb on a package carrying lib.
func buildDeb(t *testing.T, lib []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	root := filepath.Join(t.TempDir(), "pkg")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), 0o755))
	must(os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte("Package: liblzma5\nVersion: 5.6.1-1\nArchitecture: amd64\nMaintainer: strata tests <tests@example.invalid>\nDescription: look-alike for tests\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"), lib, 0o644))
	out := root + ".deb"
	if b, err := exec.Command("dpkg-deb", "-Zxz", "--root-owner-group", "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	must(err)
	return b
}

// line summarises a finding for comparison.
func line(f finding.Finding) string {
	state := "deleted"
	if f.Present {
		state = "present"
	}
	s := fmt.Sprintf("%s %s L%d %s %s %s", f.Rule, f.Kind, f.Layer, f.Path, state, f.Severity)
	if f.Package != nil {
		s += " " + f.Package.Name + "=" + f.Package.Version
	}
	return s
}

func TestImage(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	artefact := []byte("strata test artefact\n")
	systemdSSHD := sshd(t, "libsystemd.so.0", "libcrypto.so.3", "libc.so.6")
	tests := []struct {
		name     string
		deep     bool
		manifest digest.Digest
		layers   [][]tfile
		want     []string
		why      string // substring every finding's message must contain
	}{
		{
			name:   "backdoored liblzma with sshd linking libsystemd",
			layers: [][]tfile{{file(libPath, lib)}, {file("/usr/sbin/sshd", systemdSSHD)}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present critical"},
			why:    "loads liblzma through libsystemd.so.0",
		},
		{
			name:   "backdoored liblzma without sshd",
			layers: [][]tfile{{file(libPath, lib)}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present high"},
			why:    "no /usr/sbin/sshd",
		},
		{
			name:   "sshd without libsystemd",
			layers: [][]tfile{{file(libPath, lib), file("/usr/sbin/sshd", sshd(t, "libcrypto.so.3", "libc.so.6"))}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present high"},
			why:    "links neither libsystemd nor liblzma",
		},
		{
			name:   "signature across a chunk boundary",
			layers: [][]tfile{{file(libPath, backdooredLib(t, 64<<10-10))}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present high"},
		},
		{
			name:   "renamed library found by its soname",
			layers: [][]tfile{{file("/opt/app/libcompress.so.1", lib)}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 /opt/app/libcompress.so.1 present high"},
		},
		{
			name:   "static binary needs --deep",
			layers: [][]tfile{{file("/usr/bin/app", fakeELF(t, elfSpec{needed: []string{"libc.so.6"}, payload: map[int][]byte{0x5000: unhexPattern(t, hexPrologue)}}))}},
			want:   nil,
		},
		{
			name:   "static binary with --deep",
			deep:   true,
			layers: [][]tfile{{file("/usr/bin/app", fakeELF(t, elfSpec{needed: []string{"libc.so.6"}, payload: map[int][]byte{0x5000: unhexPattern(t, hexPrologue)}}))}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 /usr/bin/app present high"},
		},
		{
			name: "three code fragments together",
			layers: [][]tfile{{file(libPath, fakeELF(t, elfSpec{soname: "liblzma.so.5", payload: map[int][]byte{
				0x3000: unhexPattern(t, hexOp1), 0x3100: unhexPattern(t, hexOp2), 0x9000: unhexPattern(t, hexOp3)}}))}},
			want: []string{"xz-backdoor-code-fragments signature L0 " + libPath + " present high"},
		},
		{
			name: "two of three code fragments",
			layers: [][]tfile{{file(libPath, fakeELF(t, elfSpec{soname: "liblzma.so.5", payload: map[int][]byte{
				0x3000: unhexPattern(t, hexOp1), 0x3100: unhexPattern(t, hexOp2)}}))}},
			want: nil,
		},
		{
			name:   "signature bytes in a non-ELF file",
			layers: [][]tfile{{file("/usr/lib/liblzma.so.5.6.1.txt", append([]byte("text "), unhexPattern(t, hexPrologue)...))}},
			want:   nil,
		},
		{
			name:   "test-rule digest",
			layers: [][]tfile{{file("/opt/artefact.txt", artefact)}},
			want:   []string{"test-artefact-digest digest L0 /opt/artefact.txt present high"},
		},
		{
			name:   "copy deleted by a later layer",
			layers: [][]tfile{{file(libPath, lib), file("/opt/artefact.txt", artefact)}, {file("/usr/sbin/sshd", systemdSSHD), whiteout(libPath), whiteout("/opt/artefact.txt")}},
			want: []string{
				"test-artefact-digest digest L0 /opt/artefact.txt deleted high",
				"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " deleted high",
			},
			why: "later layer",
		},
		{
			name:   "copy overwritten by a clean build",
			layers: [][]tfile{{file(libPath, lib)}, {file(libPath, cleanLib(t))}},
			want:   []string{"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " deleted high"},
		},
		{
			name:   "dpkg lists an affected liblzma5",
			layers: [][]tfile{{file("/etc/os-release", []byte("ID=debian\n"))}, {file(dpkgDB, dpkgStatus("libc6=2.37-15", "liblzma5=5.6.1-1"))}},
			want:   []string{"xz-affected-package-dpkg package L1 " + dpkgDB + " present low liblzma5=5.6.1-1"},
			why:    "no backdoored liblzma binary",
		},
		{
			name:   "dpkg fixed version 5.6.1+really5.4.5-1",
			layers: [][]tfile{{file(dpkgDB, dpkgStatus("liblzma5=5.6.1+really5.4.5-1", "xz-utils=5.6.1+really5.4.5-1"))}},
			want:   nil,
		},
		{
			name:   "dpkg upgraded to the fix in a later layer",
			layers: [][]tfile{{file(dpkgDB, dpkgStatus("liblzma5=5.6.0-0.2"))}, {file(dpkgDB, dpkgStatus("liblzma5=5.6.1+really5.4.5-1"))}},
			want:   []string{"xz-affected-package-dpkg package L0 " + dpkgDB + " deleted low liblzma5=5.6.0-0.2"},
		},
		{
			name:   "affected package and backdoored binary",
			layers: [][]tfile{{file(dpkgDB, dpkgStatus("liblzma5=5.6.1-1", "openssh-server=1:9.7p1-2")), file(libPath, lib), file("/usr/sbin/sshd", systemdSSHD)}},
			want: []string{
				"xz-backdoor-get-cpuid-prologue signature L0 " + libPath + " present critical",
				"xz-affected-package-dpkg package L0 " + dpkgDB + " present medium liblzma5=5.6.1-1",
			},
		},
		{
			name:   "apk lists an affected xz-libs (musl)",
			layers: [][]tfile{{file("/lib/apk/db/installed", apkInstalled("musl=1.2.5-r0", "xz-libs=5.6.1-r1"))}},
			want:   []string{"xz-affected-package-apk package L0 /lib/apk/db/installed present low xz-libs=5.6.1-r1"},
		},
		{
			name:   "apk fixed r2",
			layers: [][]tfile{{file("/lib/apk/db/installed", apkInstalled("xz-libs=5.6.1-r2"))}},
			want:   nil,
		},
		{
			name:   "source tarball look-alike with the m4 marker",
			layers: [][]tfile{{file(srcTarball, sourceTarball(t, m4Marker))}},
			want: []string{
				"xz-build-to-host-m4-injection nested L0 " + srcTarball + " present medium",
				"xz-release-tarball-name marker L0 " + srcTarball + " present low",
			},
		},
		{
			name:   "build-to-host.m4 in a build tree",
			layers: [][]tfile{{file("/build/xz/m4/build-to-host.m4", []byte("dnl serial 30\n"+m4Marker))}},
			want:   []string{"xz-build-to-host-m4-injection marker L0 /build/xz/m4/build-to-host.m4 present medium"},
		},
		{
			name:     "known affected image digest",
			manifest: "sha256:0aff2113f50451631f0f8c22d85c97aad855d73545b6018fcbe9f0a78ae26583",
			layers:   [][]tfile{{file("/etc/os-release", []byte("ID=debian\n"))}},
			want:     []string{"xz-backdoor-known-image image L-1  present high"},
			why:      "debian:sid-20240311",
		},
		{
			name: "clean control",
			layers: [][]tfile{
				{file("/usr/lib/x86_64-linux-gnu/liblzma.so.5.4.5", cleanLib(t)), file("/usr/sbin/sshd", systemdSSHD)},
				{file(dpkgDB, dpkgStatus("liblzma5=5.4.5-0.3", "openssh-server=1:9.6p1-3")), file("/usr/src/xz-5.4.5.tar.gz", sourceTarball(t, "dnl clean\n"))},
				{file("/lib/apk/db/installed", apkInstalled("xz-libs=5.4.6-r0"))},
			},
			want: nil,
		},
	}
	rs, err := rules.Load(filepath.Join("testdata", "test.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(rs, Options{Deep: tc.deep})
			if err != nil {
				t.Fatal(err)
			}
			img := &image.Image{Names: []string{"test:" + strings.ReplaceAll(tc.name, " ", "-")}, ManifestDigest: tc.manifest}
			results, tr := scanImage(t, e, img, tc.layers)
			for i, r := range results {
				if len(r.Errors) > 0 {
					t.Errorf("layer %d errors: %v", i, r.Errors)
				}
			}
			fs := e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings
			var got []string
			for _, f := range fs {
				got = append(got, line(f))
				if f.Image != img.Ref() || f.Message == "" || f.Evidence == "" {
					t.Errorf("finding lacks image, message or evidence: %+v", f)
				}
				if f.Layer >= 0 && f.LayerDigest != img.Layers[f.Layer].Digest.String() {
					t.Errorf("layer digest %s for layer %d", f.LayerDigest, f.Layer)
				}
				if tc.why != "" && !strings.Contains(f.Message, tc.why) && !strings.Contains(f.Evidence, tc.why) {
					t.Errorf("message %q does not say %q", f.Message, tc.why)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				for _, f := range fs {
					t.Logf("%s | %s | %s", line(f), f.Evidence, f.Message)
				}
			}
		})
	}
}

func TestNestedDeb(t *testing.T) {
	lib := backdooredLib(t, 0x47f0)
	deb := buildDeb(t, lib)
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := &image.Image{Names: []string{"test:deb"}}
	results, tr := scanImage(t, e, img, [][]tfile{{file(debPath, deb)}, {whiteout(debPath)}})
	fs := e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings
	if len(fs) != 1 {
		for _, f := range fs {
			t.Log(line(f), f.Evidence)
		}
		t.Fatalf("%d findings, want 1; errors %v", len(fs), results[0].Errors)
	}
	f := fs[0]
	if got := line(f); got != "xz-backdoor-get-cpuid-prologue nested L0 "+debPath+" deleted high" {
		t.Errorf("finding %s", got)
	}
	if !strings.Contains(f.Evidence, "member data.tar.xz:usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1") || !strings.Contains(f.Evidence, "offset 0x47f0") {
		t.Errorf("evidence %q does not name the member and offset", f.Evidence)
	}
}

func TestLayerResultJSON(t *testing.T) {
	rs, _ := rules.Builtin()
	e, _ := New(rs, Options{})
	img := &image.Image{Names: []string{"test:json"}}
	results, _ := scanImage(t, e, img, [][]tfile{{file(libPath, backdooredLib(t, 0x47f0)), file(dpkgDB, dpkgStatus("liblzma5=5.6.1-1")), file("/usr/sbin/sshd", sshd(t, "libsystemd.so.0"))}})
	r := results[0]
	if len(r.Packages[dpkgDB]) != 1 || r.Facts["elf-needed:/usr/sbin/sshd"][0] != "libsystemd.so.0" || r.Facts["elf-interp:/usr/sbin/sshd"][0] != glibcLoader {
		t.Fatalf("result %+v", r)
	}
	b, err := jsonRoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Findings) != len(r.Findings) || b.Findings[0].Severity != r.Findings[0].Severity || b.Packages[dpkgDB][0] != r.Packages[dpkgDB][0] {
		t.Errorf("round trip changed the result: %+v", b)
	}
}
