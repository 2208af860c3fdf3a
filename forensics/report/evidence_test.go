package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

// fakeOpener serves the hand-made layers' bytes by path, as the scan
// result would read them from the archive.
type fakeOpener struct {
	override map[string]string // path -> bytes served instead
	opened   []string
}

func (f *fakeOpener) Open(idx int, e *layer.Entry) (io.ReadCloser, error) {
	f.opened = append(f.opened, e.Path)
	b, ok := f.override[e.Path]
	if !ok {
		b, ok = fileBytes[e.Path]
	}
	if !ok {
		return nil, errors.New("no such file")
	}
	return io.NopCloser(strings.NewReader(b)), nil
}

// evidence writes the evidence folder of the sources, every image's bytes
// read through op.
func evidence(t *testing.T, dir string, op Opener, sources ...Source) error {
	t.Helper()
	return NewDocument(testMeta(t), withContent(op, sources...)...).WriteEvidence(dir)
}

func withContent(op Opener, sources ...Source) []Source {
	for _, src := range sources {
		for i := range src.Images {
			src.Images[i].Content = op
		}
	}
	return sources
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestWriteEvidence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case-42")
	op := &fakeOpener{}
	if err := evidence(t, dir, op, sampleSource(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{"SHA256SUMS", "files.tsv",
		"files/" + sha(fileBytes["/opt/old/liblzma.so.5.6.0"]),
		"files/" + sha(fileBytes["/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"]),
		"files/" + sha(fileBytes["/var/lib/dpkg/status"]),
		"report.cdx.json", "report.html", "report.json", "report.md", "report.openvex.json", "report.sarif"}
	sort.Strings(want)
	got := listDir(t, dir)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("evidence folder holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{"/opt/old/liblzma.so.5.6.0", "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"} {
		b, err := os.ReadFile(filepath.Join(dir, "files", sha(fileBytes[p])))
		if err != nil || string(b) != fileBytes[p] {
			t.Errorf("copy of %s: %q, %v", p, b, err)
		}
	}
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sums), "\n"); n != len(want)-1 {
		t.Errorf("SHA256SUMS has %d lines, want one per other file (%d)", n, len(want)-1)
	}
	tsv, _ := os.ReadFile(filepath.Join(dir, "files.tsv"))
	if !strings.Contains(string(tsv), "\t/opt/old/liblzma.so.5.6.0\tfalse\tTEST-signature\n") {
		t.Errorf("files.tsv does not say where the deleted copy came from:\n%s", tsv)
	}

	if sum, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sum, "-c", "--strict", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, out)
		}
		// And it must fail once a byte of evidence changes.
		victim := filepath.Join(dir, "report.json")
		os.Chmod(victim, 0o644)
		b, _ := os.ReadFile(victim)
		b[10] ^= 1
		os.WriteFile(victim, b, 0o644)
		cmd = exec.Command(sum, "-c", "--quiet", "SHA256SUMS")
		cmd.Dir = dir
		if err := cmd.Run(); err == nil {
			t.Error("sha256sum -c accepts a changed report")
		}
	} else {
		t.Log("sha256sum not installed; SHA256SUMS format checked by hand only")
	}
}

func TestWriteEvidenceDeterministic(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, d := range []string{a, b} {
		if err := evidence(t, d, &fakeOpener{}, sampleSource(t), cleanSource(t)); err != nil {
			t.Fatal(err)
		}
	}
	sa, _ := os.ReadFile(filepath.Join(a, "SHA256SUMS"))
	sb, _ := os.ReadFile(filepath.Join(b, "SHA256SUMS"))
	if string(sa) != string(sb) || len(sa) == 0 {
		t.Fatalf("two evidence folders differ:\n%s\n%s", sa, sb)
	}
}

func TestWriteEvidenceRefuses(t *testing.T) {
	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := evidence(t, dir, &fakeOpener{}, sampleSource(t))
		if !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("got %v, want ErrNotEmpty", err)
		}
		if got := listDir(t, dir); len(got) != 1 {
			t.Errorf("wrote into a non-empty folder: %v", got)
		}
	})
	t.Run("empty folder accepted", func(t *testing.T) {
		if err := evidence(t, t.TempDir(), &fakeOpener{}, cleanSource(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bytes that do not match their digest", func(t *testing.T) {
		dir := t.TempDir()
		op := &fakeOpener{override: map[string]string{"/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1": "LOOK-alike liblzma bytes\n"}}
		err := evidence(t, dir, op, sampleSource(t))
		if err == nil || !strings.Contains(err.Error(), "hash") {
			t.Fatalf("got %v, want a digest error", err)
		}
		for _, p := range listDir(t, dir) {
			if strings.HasPrefix(p, "files/"+sha(fileBytes["/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"])) {
				t.Errorf("left %s behind", p)
			}
		}
	})
}

func TestMatchedEntry(t *testing.T) {
	src := sampleSource(t)
	layers := src.Images[0].Layers
	// A hardlink in layer 2 to the liblzma of layer 1: the bytes come from
	// layer 1's entry.
	lib := "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	layers[2].Entries = append(layers[2].Entries, &layer.Entry{Path: "/lib/liblzma.so.5", Type: layer.Hardlink, Link: lib, SHA256: sha(fileBytes[lib])})
	cases := []struct {
		name      string
		layer     int
		path      string
		wantPath  string
		wantLayer int
	}{
		{"file in its layer", 1, lib, lib, 1},
		{"hardlink to a lower layer", 2, "/lib/liblzma.so.5", lib, 1},
		{"path the layer did not write", 2, lib, "", -1},
		{"whiteout", 2, "/opt/old", "", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := src.Findings[0]
			f.Layer, f.Path = c.layer, c.path
			e, from := matchedEntry(layers, f)
			switch {
			case c.wantPath == "" && e != nil:
				t.Errorf("got %s from layer %d, want nothing", e.Path, from)
			case c.wantPath != "" && (e == nil || e.Path != c.wantPath || from != c.wantLayer):
				t.Errorf("got %v from layer %d, want %s from %d", e, from, c.wantPath, c.wantLayer)
			}
		})
	}
}

func TestTSVField(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/lib/liblzma.so.5":    "/usr/lib/liblzma.so.5",
		"/tmp/a\tb\nc\rd":          "/tmp/a^Ib^Jc^Md",
		"/etc/evil\x1b]0;x\x07":    "/etc/evil^[]0;x^G",
		"strata-fixtures/x:latest": "strata-fixtures/x:latest",
	} {
		if got := tsvField(in); got != want {
			t.Errorf("tsvField(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAddReleasesListings: a document built input by input keeps what it
// reports and what its evidence folder copies, not the sources' layer
// listings, so that each input's listings and tree can go once added.
func TestAddReleasesListings(t *testing.T) {
	want := render(t, NewDocument(testMeta(t), both(t)...), JSON, TextOptions{})
	wantDir := filepath.Join(t.TempDir(), "want")
	if err := evidence(t, wantDir, &fakeOpener{}, both(t)...); err != nil {
		t.Fatal(err)
	}
	d := NewDocument(testMeta(t))
	for _, src := range withContent(&fakeOpener{}, both(t)...) {
		d.Add(src)
		for _, img := range src.Images {
			for _, l := range img.Layers {
				clear(l.Entries) // what a released listing would read as
			}
		}
	}
	if got := render(t, d, JSON, TextOptions{}); !bytes.Equal(got, want) {
		t.Fatalf("report differs once the listings are gone:\n%s", golden.Diff(want, got))
	}
	dir := filepath.Join(t.TempDir(), "got")
	if err := d.WriteEvidence(dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	sums, _ := os.ReadFile(filepath.Join(wantDir, "SHA256SUMS"))
	if len(got) == 0 || string(got) != string(sums) {
		t.Fatalf("evidence differs once the listings are gone:\n%s\nwant\n%s", got, sums)
	}
}
