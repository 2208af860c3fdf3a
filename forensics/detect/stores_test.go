package detect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/tree"
	ib "github.com/strata-forensics/strata/internal/testkit/imagebuild"
)

// Store paths of the Nix cases: well-formed hashes, made-up contents.
const (
	nixGlibc  = "nix/store/0123456789abcdfghijklmnpqrsvwxyz-glibc-2.39-52"
	nixXZBin  = "nix/store/1123456789abcdfghijklmnpqrsvwxyz-xz-5.6.1-bin"
	nixXZOut  = "nix/store/2123456789abcdfghijklmnpqrsvwxyz-xz-5.6.1"
	nixXZOld  = "nix/store/3123456789abcdfghijklmnpqrsvwxyz-xz-5.4.6"
	linuxbrew = "home/linuxbrew/.linuxbrew/Cellar/"
)

// pacmanDesc is a desc record as pacman writes it (see the real ones in
// forensics/pkgdb/testdata/pacman, written by pacman itself).
func pacmanDesc(name, version string) ib.Entry {
	return ib.F("var/lib/pacman/local/"+name+"-"+version+"/desc",
		"%NAME%\n"+name+"\n\n%VERSION%\n"+version+"\n\n%BASE%\n"+name+"\n\n%ARCH%\nx86_64\n\n%VALIDATION%\npgp\n\n")
}

// realPacmanDesc is a desc file pacman itself wrote (fixtures/pkgdb/gen-pacman.sh).
func realPacmanDesc(t testing.TB, state, entry string) ib.Entry {
	b, err := os.ReadFile(filepath.Join("..", "pkgdb", "testdata", "pacman", state, "local", entry, "desc"))
	if err != nil {
		t.Fatal(err)
	}
	return ib.FB("var/lib/pacman/local/"+entry+"/desc", b)
}

func brewReceipt(version string, poured bool) string {
	p := "false"
	if poured {
		p = "true"
	}
	return `{"homebrew_version":"4.2.15","poured_from_bottle":` + p + `,"source":{"spec":"stable","versions":{"stable":"` + version +
		`"},"tap":"homebrew/core"},"arch":"x86_64","built_on":{"os":"Linux","glibc_version":"2.35"}}`
}

// nixDBFile writes a Nix database (Nix's ValidPaths table) listing paths.
func nixDBFile(t testing.TB, paths ...string) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`create table ValidPaths (id integer primary key autoincrement not null, path text unique not null,
		hash text not null, registrationTime integer not null, deriver text, narSize integer, ultimate integer, sigs text, ca text)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := db.Exec(`insert into ValidPaths (path, hash, registrationTime) values (?, 'sha256:0', 1711929600)`, "/"+p); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scanLayers builds each layer with imagebuild, walks it with the engine's
// sinks as a scan does, and returns the layer results and the tree.
func scanLayers(t testing.TB, e *Engine, img *image.Image, layers [][]ib.Entry) ([]*LayerResult, *tree.Tree) {
	t.Helper()
	tr := tree.New()
	var results []*LayerResult
	for i, entries := range layers {
		var buf bytes.Buffer
		if err := (&ib.Layer{Entries: entries}).WriteTar(&buf); err != nil {
			t.Fatal(err)
		}
		ls := e.NewLayerScan()
		sum, err := layer.Walk(context.Background(), bytes.NewReader(buf.Bytes()), layer.Options{Sinks: ls.Sinks})
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		tr.Apply(i, sum.Entries)
		results = append(results, ls.Result())
		d := sha256.Sum256(buf.Bytes())
		img.Layers = append(img.Layers, &image.Layer{Index: i, Digest: digest.NewDigestFromBytes(digest.SHA256, d[:])})
	}
	return results, tr
}

// TestStores builds images with each package store and checks the package
// findings: the rule, the layer that installed the package, whether it is
// still there, the severity, and the words that say why.
func TestStores(t *testing.T) {
	lib := cleanLib(t)
	base := []ib.Entry{ib.F("etc/os-release", "ID=arch\n"), ib.F("var/lib/pacman/local/ALPM_DB_VERSION", "9\n"), pacmanDesc("glibc", "2.39-1")}
	tests := []struct {
		name   string
		layers [][]ib.Entry
		want   []string
		why    []string // substrings of every finding's message or evidence
	}{
		{
			name:   "archlinux image of late March 2024 with xz 5.6.1-1",
			layers: [][]ib.Entry{base, {pacmanDesc("xz", "5.6.1-1"), ib.FB("usr/lib/liblzma.so.5.6.1", lib), ib.L("usr/lib/liblzma.so.5", "liblzma.so.5.6.1")}},
			want:   []string{"xz-affected-package-pacman package L1 /var/lib/pacman/local/xz-5.6.1-1/desc present low xz=5.6.1-1"},
			why:    []string{"no backdoored liblzma binary", "makepkg", "the version alone is low"},
		},
		{
			name:   "desc files written by pacman itself",
			layers: [][]ib.Entry{base, {realPacmanDesc(t, "affected", "xz-5.6.1-1"), realPacmanDesc(t, "affected", "lib32-xz-5.6.0-1"), realPacmanDesc(t, "affected", "openssh-9.7p1-1")}},
			want: []string{
				"xz-affected-package-pacman package L1 /var/lib/pacman/local/lib32-xz-5.6.0-1/desc present low lib32-xz=5.6.0-1",
				"xz-affected-package-pacman package L1 /var/lib/pacman/local/xz-5.6.1-1/desc present low xz=5.6.1-1",
			},
		},
		{
			name:   "arch fixed at 5.6.1-2",
			layers: [][]ib.Entry{base, {realPacmanDesc(t, "fixed", "xz-5.6.1-2")}},
		},
		{
			name:   "arch at 5.4.6",
			layers: [][]ib.Entry{base, {pacmanDesc("xz", "5.4.6-1")}},
		},
		{
			name:   "arch upgraded by a later layer",
			layers: [][]ib.Entry{base, {pacmanDesc("xz", "5.6.1-1")}, {ib.WH("var/lib/pacman/local/xz-5.6.1-1"), pacmanDesc("xz", "5.6.1-2")}},
			want:   []string{"xz-affected-package-pacman package L1 /var/lib/pacman/local/xz-5.6.1-1/desc deleted low xz=5.6.1-1"},
			why:    []string{"a later layer removed or changed it"},
		},
		{
			name:   "arch with a backdoored liblzma copied in",
			layers: [][]ib.Entry{base, {pacmanDesc("xz", "5.6.1-1")}, {ib.FB("usr/lib/liblzma.so.5.6.1", backdooredLib(t, 0x47f0))}},
			want: []string{
				"xz-affected-package-pacman package L1 /var/lib/pacman/local/xz-5.6.1-1/desc present medium xz=5.6.1-1",
				"xz-backdoor-get-cpuid-prologue signature L2 /usr/lib/liblzma.so.5.6.1 present high",
			},
		},
		{
			name: "Homebrew on Linux, poured from a bottle",
			layers: [][]ib.Entry{{ib.F("etc/os-release", "ID=ubuntu\n")}, {
				ib.F(linuxbrew+"xz/5.6.1/INSTALL_RECEIPT.json", brewReceipt("5.6.1", true)),
				ib.FB(linuxbrew+"xz/5.6.1/lib/liblzma.so.5.6.1", lib),
				ib.F(linuxbrew+"xz/5.6.1/bin/xz", "#!/bin/false\n"),
				ib.L("home/linuxbrew/.linuxbrew/opt/xz", "../Cellar/xz/5.6.1"),
			}},
			want: []string{"xz-affected-package-brew package L1 /" + linuxbrew + "xz/5.6.1 present low xz=5.6.1"},
			why:  []string{"installed by layer 1", "neither as a deb nor as an rpm", "poured from bottle"},
		},
		{
			name:   "Homebrew keg with a revision, no receipt",
			layers: [][]ib.Entry{{ib.FB("usr/local/Cellar/xz/5.6.1_1/lib/liblzma.5.dylib", lib)}},
			want:   []string{"xz-affected-package-brew package L0 /usr/local/Cellar/xz/5.6.1_1 present low xz=5.6.1_1"},
		},
		{
			name:   "Homebrew at 5.4.6",
			layers: [][]ib.Entry{{ib.F(linuxbrew+"xz/5.4.6/INSTALL_RECEIPT.json", brewReceipt("5.4.6", true)), ib.FB(linuxbrew+"xz/5.4.6/lib/liblzma.so.5.4.6", lib)}},
		},
		{
			name: "Homebrew keg replaced by the revert",
			layers: [][]ib.Entry{
				{ib.F(linuxbrew+"xz/5.6.1/INSTALL_RECEIPT.json", brewReceipt("5.6.1", false))},
				{ib.WH(linuxbrew + "xz/5.6.1"), ib.F(linuxbrew+"xz/5.4.6/INSTALL_RECEIPT.json", brewReceipt("5.4.6", true))},
			},
			want: []string{"xz-affected-package-brew package L0 /" + linuxbrew + "xz/5.6.1 deleted low xz=5.6.1"},
			why:  []string{"built from source", "removed or changed"},
		},
		{
			name: "Nix-built image: one store path per output",
			layers: [][]ib.Entry{
				{ib.F(nixGlibc+"/lib/libc.so.6", "libc")},
				{ib.FB(nixXZOut+"/lib/liblzma.so.5.6.1", lib), ib.L(nixXZOut+"/lib/liblzma.so.5", "liblzma.so.5.6.1"), ib.F(nixXZBin+"/bin/xz", "xz")},
				{ib.FB("nix/var/nix/db/db.sqlite", nixDBFile(t, nixGlibc, nixXZBin, nixXZOut))},
			},
			want: []string{
				"xz-affected-package-nix package L1 /" + nixXZBin + " present low xz=5.6.1",
				"xz-affected-package-nix package L1 /" + nixXZOut + " present low xz=5.6.1",
			},
			why: []string{"installed by layer 1", "nixpkgs builds neither debs nor rpms"},
		},
		{
			name: "Nix store path of hard links only, found in the tree",
			layers: [][]ib.Entry{
				{ib.FB("nix/store/.links/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", lib)},
				{ib.H(nixXZOut+"/lib/liblzma.so.5.6.1", "nix/store/.links/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
			},
			want: []string{"xz-affected-package-nix package L1 /" + nixXZOut + " present low xz=5.6.1"},
		},
		{
			name: "Nix database lists a store path no layer carries",
			layers: [][]ib.Entry{
				{ib.F(nixXZOld+"/lib/liblzma.so.5.4.6", "old")},
				{ib.FB("nix/var/nix/db/db.sqlite", nixDBFile(t, nixXZOld, nixXZOut))},
			},
			want: []string{"xz-affected-package-nix package L1 /nix/var/nix/db/db.sqlite present low xz=5.6.1"},
			why:  []string{"which is in no layer that was read"},
		},
		{
			name:   "Nix at 5.4.6",
			layers: [][]ib.Entry{{ib.F(nixXZOld+"/bin/xz", "xz"), ib.FB("nix/var/nix/db/db.sqlite", nixDBFile(t, nixXZOld))}},
		},
		{
			name:   "Gentoo xz-utils 5.6.1-r1",
			layers: [][]ib.Entry{{ib.F("var/db/pkg/app-arch/xz-utils-5.6.1-r1/PF", "xz-utils-5.6.1-r1\n"), ib.F("var/db/pkg/app-arch/xz-utils-5.6.1-r1/CATEGORY", "app-arch\n")}},
			want:   []string{"xz-affected-package-portage package L0 /var/db/pkg/app-arch/xz-utils-5.6.1-r1 present low app-arch/xz-utils=5.6.1-r1"},
			why:    []string{"GLSA 202403-04"},
		},
		{
			name:   "Gentoo at 5.4.2",
			layers: [][]ib.Entry{{ib.F("var/db/pkg/app-arch/xz-utils-5.4.2/PF", "xz-utils-5.4.2\n")}},
		},
		{
			name: "conda environment, with a user rule",
			layers: [][]ib.Entry{{ib.F("opt/conda/envs/work/conda-meta/xz-5.6.1-hbcca054_0.json",
				`{"name":"xz","version":"5.6.1","build":"hbcca054_0","subdir":"linux-64","files":["lib/liblzma.so.5.6.1"]}`)}},
			want: []string{"test-conda-xz package L0 /opt/conda/envs/work/conda-meta/xz-5.6.1-hbcca054_0.json present low xz=5.6.1"},
			why:  []string{"conda builds are not deb or rpm builds"},
		},
	}
	rs, err := rules.Load(filepath.Join("testdata", "test.rules.json"), filepath.Join("testdata", "stores.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := &image.Image{Names: []string{"test:" + strings.ReplaceAll(tc.name, " ", "-")}}
			results, tr := scanLayers(t, e, img, tc.layers)
			for i, r := range results {
				if len(r.Errors) > 0 {
					t.Errorf("layer %d errors: %v", i, r.Errors)
				}
			}
			fs := e.Image(ImageInput{Image: img, Tree: tr, Layers: results}).Findings
			var got []string
			for _, f := range fs {
				got = append(got, line(f))
				if f.Layer >= 0 && f.LayerDigest != img.Layers[f.Layer].Digest.String() {
					t.Errorf("layer digest %s for layer %d", f.LayerDigest, f.Layer)
				}
				for _, w := range tc.why {
					if f.Kind == "package" && !strings.Contains(f.Message, w) && !strings.Contains(f.Evidence, w) {
						t.Errorf("%s: message %q / evidence %q do not say %q", f.Rule, f.Message, f.Evidence, w)
					}
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

// TestStoreRecords checks what the layer results keep: a keg's record
// enriched by its receipt, one record per store folder, the database rows.
func TestStoreRecords(t *testing.T) {
	rs, _ := rules.Builtin()
	e, _ := New(rs, Options{})
	img := &image.Image{Names: []string{"test:records"}}
	results, _ := scanLayers(t, e, img, [][]ib.Entry{{
		ib.FB(linuxbrew+"xz/5.6.1/lib/liblzma.so.5.6.1", []byte("lib")),
		ib.F(linuxbrew+"xz/5.6.1/INSTALL_RECEIPT.json", brewReceipt("5.6.1", true)),
		ib.F(nixXZBin+"/bin/xz", "xz"), ib.F(nixXZBin+"/bin/unxz", "xz"),
		ib.F("var/db/pkg/app-arch/xz-utils-5.6.1/PF", "xz-utils-5.6.1\n"),
	}})
	pk := results[0].Packages
	if len(pk) != 3 {
		t.Fatalf("records %v", pk)
	}
	keg := pk["/"+linuxbrew+"xz/5.6.1"]
	if len(keg) != 1 || keg[0].Status != "poured from bottle" || keg[0].Arch != "x86_64" || keg[0].Path != "/"+linuxbrew+"xz/5.6.1" {
		t.Errorf("keg record %+v", keg)
	}
	if n := pk["/"+nixXZBin]; len(n) != 1 || n[0].Name != "xz" || n[0].Version != "5.6.1" {
		t.Errorf("nix record %+v", n)
	}
	if g := pk["/var/db/pkg/app-arch/xz-utils-5.6.1"]; len(g) != 1 || g[0].Name != "app-arch/xz-utils" {
		t.Errorf("portage record %+v", g)
	}
}
