package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// Every archive written by a real producer (fixtures/testdata/producers,
// fixtures/testdata/real; see fixtures/producers/*/README.md and
// fixtures/real/README.md) reads right in every command: inspect, scan in
// every format, ls, blame, extract and the explorer agree with each other
// and verify. Every damaged twin (-flipped, -nolayer, -swapped; those of
// the real-tool archives are in fixtures/testdata/real-twins, which holds
// twins only) fails integrity with exit code 1 and never crashes ls or
// blame.
//
// The fixtures are discovered by listing the folders, so a new fixture is
// held to the same standard without touching this file.

// pfNoLayers names the genuine fixtures whose READMEs document an image
// carrying no layer (and so an empty merged tree), with the README's
// words. None does today.
var pfNoLayers = map[string]string{}

// pfDamaged tells a damaged twin by its name.
func pfDamaged(name string) bool {
	return strings.Contains(name, "-flipped") || strings.Contains(name, "-nolayer") || strings.Contains(name, "-swapped")
}

type pfFixture struct {
	name, path string
	damaged    bool
}

// pfDiscover lists one fixture folder: archives and layout folders, not
// READMEs or dot files.
func pfDiscover(t *testing.T, dir string) []pfFixture {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []pfFixture
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".tsv") {
			continue
		}
		out = append(out, pfFixture{name: name, path: filepath.Join(dir, name), damaged: pfDamaged(name)})
	}
	return out
}

// pfResult is one in-process run of the command tree.
type pfResult struct {
	args           []string
	stdout, stderr string
	code           int
	panicked       bool
}

func (r pfResult) String() string {
	return fmt.Sprintf("strata %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, pfCut(r.stdout), pfCut(r.stderr))
}

func pfCut(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "\n… (cut)"
	}
	return s
}

// pfStrata runs the command tree in-process through Run, as main does, with
// its own stdout and stderr, and keeps the exit code and what it printed. A
// panic fails the test and reads as exit code -1.
func pfStrata(t *testing.T, args ...string) (r pfResult) {
	t.Helper()
	r.args = args
	var out, errOut bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			r.panicked, r.code = true, -1
			r.stdout, r.stderr = out.String(), errOut.String()
			t.Errorf("strata %s panicked: %v\n%s", strings.Join(args, " "), p, debug.Stack())
		}
	}()
	r.code = Run(t.Context(), testBuild, args, &out, &errOut)
	r.stdout, r.stderr = out.String(), errOut.String()
	return r
}

// pfScanDoc is the part of a strata.report/v1 document checked here.
type pfScanDoc struct {
	Schema  string          `json:"schema"`
	Verdict json.RawMessage `json:"verdict"`
	Inputs  []struct {
		Input     json.RawMessage `json:"input"`
		Images    json.RawMessage `json:"images"`
		Integrity json.RawMessage `json:"integrity"`
		Coverage  json.RawMessage `json:"coverage"`
		Verdict   json.RawMessage `json:"verdict"`
	} `json:"inputs"`
	Findings []json.RawMessage `json:"findings"`
}

type pfVerdict struct {
	Status   string `json:"status"`
	Findings int    `json:"findings"`
	Problems int    `json:"problems"`
}

type pfSARIF struct {
	Version string `json:"version"`
	Runs    []struct {
		Properties struct {
			Verdict json.RawMessage `json:"verdict"`
		} `json:"properties"`
		Artifacts []struct {
			Properties struct {
				Integrity json.RawMessage `json:"integrity"`
			} `json:"properties"`
		} `json:"artifacts"`
		Results []json.RawMessage `json:"results"`
	} `json:"runs"`
}

// pfSame reports whether two JSON values are equal as data.
func pfSame(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func pfDecode(t *testing.T, what string, b []byte, v any) bool {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Errorf("%s: not JSON: %v\n%s", what, err, pfCut(string(b)))
		return false
	}
	return true
}

var (
	pfTags    = regexp.MustCompile(`<[^>]*>`)
	pfMdEsc   = regexp.MustCompile("\\\\([\\\\`*_\\[\\]<>|~#!&])")
	pfSpaces  = regexp.MustCompile(`[ \t]+`)
	pfProblem = regexp.MustCompile(`\b\d+ integrity problems?\b`)
)

// pfPlainHTML is an HTML report's text: tags dropped, entities decoded.
func pfPlainHTML(s string) string {
	return pfSpaces.ReplaceAllString(html.UnescapeString(pfTags.ReplaceAllString(s, "")), " ")
}

// pfPlainMarkdown is a Markdown report's text: escapes and emphasis dropped.
func pfPlainMarkdown(s string) string {
	return strings.ReplaceAll(pfMdEsc.ReplaceAllString(s, "$1"), "**", "")
}

// pfWords is what the library says of the input's coverage, the one line
// every human-readable output must carry (report.Coverage.Words), read with
// the options a command uses.
func pfWords(t *testing.T, path string) (string, bool) {
	t.Helper()
	var in inputFlags
	in.register(&cobra.Command{}, testBuild)
	opts, err := in.options(nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(t.Context(), path, opts)
	if err != nil {
		t.Errorf("scan.Run: %v", err)
		return "", false
	}
	defer res.Close()
	return report.NewInspection(res).Coverage.Words(), true
}

func TestProducerFixturesEveryCommand(t *testing.T) {
	root := fixturesDir
	genuine, twins, runs := 0, 0, 0
	var mu sync.Mutex
	count := func(n int) { mu.Lock(); runs += n; mu.Unlock() }
	for _, c := range []struct {
		dir       string
		twinsOnly bool // every entry is a damaged twin, never a genuine fixture
	}{{"producers", false}, {"real", false}, {"real-twins", true}} {
		dir := c.dir
		fixtures := pfDiscover(t, filepath.Join(root, dir))
		if c.twinsOnly && len(fixtures) == 0 {
			t.Errorf("%s holds no twin", dir)
		}
		for i, f := range fixtures {
			if c.twinsOnly && !f.damaged {
				t.Errorf("%s/%s: not named as a damaged twin, in a folder of twins; held to a twin's verdict", dir, f.name)
				fixtures[i].damaged, f.damaged = true, true
			}
			if f.damaged {
				twins++
			} else {
				genuine++
			}
		}
		t.Run(dir, func(t *testing.T) {
			for _, f := range fixtures {
				t.Run(f.name, func(t *testing.T) {
					t.Parallel()
					if f.damaged {
						count(pfTwin(t, f))
					} else {
						count(pfGenuine(t, f))
					}
				})
			}
		})
	}
	t.Logf("%d genuine fixtures and %d damaged twins found; %d commands run", genuine, twins, runs)
	if genuine < 30 || twins < 20 {
		t.Errorf("found %d genuine fixtures and %d twins; expected at least 30 and 20", genuine, twins)
	}
}

// pfGenuine holds one genuine fixture to every command; it returns the
// number of commands run.
func pfGenuine(t *testing.T, f pfFixture) int {
	runs := 0
	strata := func(t *testing.T, args ...string) pfResult {
		t.Helper()
		runs++
		return pfStrata(t, args...)
	}

	// 1. inspect --json: images, layers, integrity and coverage.
	var insp report.Inspection
	var inspRaw struct {
		Input     json.RawMessage `json:"input"`
		Images    json.RawMessage `json:"images"`
		Integrity json.RawMessage `json:"integrity"`
		Coverage  json.RawMessage `json:"coverage"`
	}
	ok := t.Run("inspect", func(t *testing.T) {
		r := strata(t, "inspect", "--json", f.path)
		if r.code != exitOK {
			t.Fatalf("want exit 0 (a genuine archive verifies)\n%s", r)
		}
		if !pfDecode(t, "inspect --json", []byte(r.stdout), &insp) || !pfDecode(t, "inspect --json", []byte(r.stdout), &inspRaw) {
			t.FailNow()
		}
		if len(insp.Images) == 0 {
			t.Fatalf("no image\n%s", r)
		}
		for _, img := range insp.Images {
			if len(img.Layers) == 0 && pfNoLayers[f.name] == "" {
				t.Errorf("image %s (%s) has no layer, and the README documents none", img.Ref, img.Platform)
			}
			for i, l := range img.Layers {
				if l.Index != i {
					t.Errorf("image %s: layer %d has index %d", img.Ref, i, l.Index)
				}
			}
		}
		if !insp.Integrity.OK {
			t.Errorf("integrity not ok on a genuine archive: %+v", insp.Integrity.Problems)
		}
	})
	if !ok || len(insp.Images) == 0 {
		return runs // the later steps stand on inspect's answer (and -run may leave it out)
	}
	last := insp.Images[len(insp.Images)-1]
	// The commands that work on one image are pointed at the last one when
	// there are several.
	var sel []string
	if len(insp.Images) > 1 {
		d := last.ManifestDigest
		if d == "" {
			d = last.ConfigDigest
		}
		sel = []string{"--image", d}
	}
	words, wordsOK := pfWords(t, f.path)

	// inspect's text states the same verdict and coverage.
	t.Run("inspect-text", func(t *testing.T) {
		r := strata(t, "inspect", f.path)
		if r.code != exitOK {
			t.Fatalf("want exit 0\n%s", r)
		}
		want := "integrity: ok"
		if wordsOK && words != "" {
			want += " (every blob carried matches its digest) — " + words
		}
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect does not say %q\n%s", want, r)
		}
	})

	// 2. scan in every format: the same exit code, verdict and coverage.
	var doc pfScanDoc
	var verdict pfVerdict
	wantCode := -1
	t.Run("scan-json", func(t *testing.T) {
		r := strata(t, "scan", "--format", "json", f.path)
		if r.code != exitOK && r.code != exitFindings {
			t.Fatalf("want exit 0 or 1\n%s", r)
		}
		if !pfDecode(t, "scan --format json", []byte(r.stdout), &doc) || !pfDecode(t, "verdict", doc.Verdict, &verdict) {
			t.FailNow()
		}
		if len(doc.Inputs) != 1 {
			t.Fatalf("%d inputs in the report, want 1", len(doc.Inputs))
		}
		in := doc.Inputs[0]
		var integ struct {
			OK bool `json:"ok"`
		}
		pfDecode(t, "integrity", in.Integrity, &integ)
		if !integ.OK || verdict.Problems != 0 {
			t.Errorf("integrity not ok on a genuine archive: %s", in.Integrity)
		}
		wantCode = exitOK
		if verdict.Findings > 0 {
			wantCode = exitFindings
		}
		if r.code != wantCode || (r.code == exitFindings && verdict.Problems > 0) {
			t.Errorf("exit %d with %d findings and %d problems; want %d", r.code, verdict.Findings, verdict.Problems, wantCode)
		}
		if len(doc.Findings) != verdict.Findings {
			t.Errorf("verdict counts %d findings, the report lists %d", verdict.Findings, len(doc.Findings))
		}
		// inspect and scan describe the input the same way.
		for _, c := range []struct {
			what       string
			insp, scan json.RawMessage
		}{
			{"input", inspRaw.Input, in.Input},
			{"images", inspRaw.Images, in.Images},
			{"integrity", inspRaw.Integrity, in.Integrity},
			{"coverage", inspRaw.Coverage, in.Coverage},
		} {
			if !pfSame(c.insp, c.scan) {
				t.Errorf("inspect --json and scan --format json disagree on %s:\ninspect: %s\nscan:    %s", c.what, pfCut(string(c.insp)), pfCut(string(c.scan)))
			}
		}
	})
	if wantCode < 0 {
		return runs
	}
	t.Run("scan-sarif", func(t *testing.T) {
		r := strata(t, "scan", "--format", "sarif", f.path)
		if r.code != wantCode {
			t.Errorf("exit %d, json gave %d\n%s", r.code, wantCode, r)
		}
		var s pfSARIF
		if !pfDecode(t, "scan --format sarif", []byte(r.stdout), &s) {
			return
		}
		if s.Version != "2.1.0" || len(s.Runs) != 1 {
			t.Fatalf("SARIF version %q with %d runs", s.Version, len(s.Runs))
		}
		run := s.Runs[0]
		if !pfSame(run.Properties.Verdict, doc.Verdict) {
			t.Errorf("SARIF verdict %s, json %s", run.Properties.Verdict, doc.Verdict)
		}
		if len(run.Artifacts) != 1 || !pfSame(run.Artifacts[0].Properties.Integrity, doc.Inputs[0].Integrity) {
			t.Errorf("SARIF artifacts do not carry the json report's integrity")
		}
		if len(run.Results) != verdict.Findings {
			t.Errorf("%d SARIF results for %d findings", len(run.Results), verdict.Findings)
		}
	})
	for _, format := range []string{"markdown", "html"} {
		t.Run("scan-"+format, func(t *testing.T) {
			r := strata(t, "scan", "--format", format, f.path)
			if r.code != wantCode {
				t.Errorf("exit %d, json gave %d\n%s", r.code, wantCode, r)
			}
			if strings.TrimSpace(r.stdout) == "" {
				t.Fatalf("empty report\n%s", r)
			}
			plain, status := pfPlainMarkdown(r.stdout), strings.ToUpper(verdict.Status)
			if format == "html" {
				plain, status = pfPlainHTML(r.stdout), verdict.Status
			}
			for _, want := range []string{
				"Verdict: " + status,
				fmt.Sprintf("%d finding(s)", verdict.Findings),
				"Integrity: verified",
			} {
				if !strings.Contains(plain, want) {
					t.Errorf("%s report does not say %q", format, want)
				}
			}
			if wordsOK && words != "" && !strings.Contains(plain, "— "+words) {
				t.Errorf("%s report does not state the coverage %q", format, words)
			}
		})
	}
	t.Run("scan-text", func(t *testing.T) {
		r := strata(t, "scan", "--format", "text", f.path)
		if r.code != wantCode {
			t.Errorf("exit %d, json gave %d\n%s", r.code, wantCode, r)
		}
		if strings.TrimSpace(r.stdout) == "" {
			t.Fatalf("empty report\n%s", r)
		}
		status := strings.ToUpper(verdict.Status) + "  "
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(line, status) {
				found = true
				if !strings.HasSuffix(line, "; integrity verified") {
					t.Errorf("image line does not say integrity verified: %q", line)
				}
			}
		}
		if !found {
			t.Errorf("no image line with the verdict %s\n%s", verdict.Status, r)
		}
		if wordsOK && words != "" && !strings.Contains(r.stdout, "integrity: ok — "+words+"\n") {
			t.Errorf("text does not state the coverage %q\n%s", words, r)
		}
	})

	// 3. ls, blame, ls --layer 0 on the last image.
	var file lsRecord
	lsArgs := append(append([]string{"ls", "--json"}, sel...), f.path, "/")
	t.Run("ls", func(t *testing.T) {
		r := strata(t, lsArgs...)
		if r.code != exitOK {
			t.Fatalf("want exit 0\n%s", r)
		}
		var recs []lsRecord
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec lsRecord
			if !pfDecode(t, "ls --json line", sc.Bytes(), &rec) {
				t.FailNow()
			}
			recs = append(recs, rec)
		}
		if len(recs) == 0 {
			if pfNoLayers[f.name] == "" {
				t.Errorf("empty listing of %s\n%s", last.Ref, r)
			}
			return
		}
		for _, rec := range recs {
			if rec.Image != last.Ref {
				t.Fatalf("ls lists image %q, want %q", rec.Image, last.Ref)
			}
			if rec.Introduced < 0 || rec.Introduced >= len(last.Layers) || rec.Modified < rec.Introduced || rec.Modified >= len(last.Layers) {
				t.Errorf("%s: introduced %d, modified %d: outside layers 0-%d", rec.Path, rec.Introduced, rec.Modified, len(last.Layers)-1)
			}
		}
		// A regular file with content, else any regular file.
		for _, rec := range recs {
			if rec.Type == "file" && rec.Present && (file.Path == "" || file.Size == 0 && rec.Size > 0) {
				file = rec
			}
		}
		if file.Path == "" {
			t.Errorf("no regular file in the listing\n%s", r)
		}
	})
	var blameSum string
	if file.Path != "" {
		t.Run("blame", func(t *testing.T) {
			r := strata(t, append(append([]string{"blame", "--json"}, sel...), f.path, file.Path)...)
			if r.code != exitOK {
				t.Fatalf("want exit 0\n%s", r)
			}
			var rec blameRecord
			if !pfDecode(t, "blame --json", []byte(r.stdout), &rec) {
				return
			}
			if !rec.Found || !rec.Present || rec.Path != file.Path || rec.Image != last.Ref {
				t.Errorf("blame of %s: found %v, present %v, path %q, image %q", file.Path, rec.Found, rec.Present, rec.Path, rec.Image)
			}
			named := func(what string, l *blameLayer) {
				switch {
				case l == nil:
					t.Errorf("blame names no %s layer", what)
				case l.Index < 0 || l.Index >= len(last.Layers):
					t.Errorf("blame's %s layer %d is not a layer of %s (layers 0-%d)", what, l.Index, last.Ref, len(last.Layers)-1)
				case l.Digest != last.Layers[l.Index].Digest:
					t.Errorf("blame's %s layer %d is %s; inspect says %s", what, l.Index, l.Digest, last.Layers[l.Index].Digest)
				}
			}
			named("introducing", rec.Introduced)
			named("modifying", rec.Modified)
			if rec.Deleted != nil {
				t.Errorf("blame says layer %d deleted %s; ls lists it present", rec.Deleted.Index, file.Path)
			}
			if rec.Introduced != nil && rec.Introduced.Index != file.Introduced || rec.Modified != nil && rec.Modified.Index != file.Modified {
				t.Errorf("blame: introduced %v, modified %v; ls: %d, %d", rec.Introduced, rec.Modified, file.Introduced, file.Modified)
			}
			for _, c := range rec.History {
				if c.Layer < 0 || c.Layer >= len(last.Layers) || c.Digest != last.Layers[c.Layer].Digest {
					t.Errorf("blame history names layer %d %s, not a layer of %s", c.Layer, c.Digest, last.Ref)
				}
				if c.SHA256 != "" {
					blameSum = c.SHA256
				}
			}
			if file.SHA256 != "" && blameSum != "" && blameSum != file.SHA256 {
				t.Errorf("blame's last sha256 %s, ls says %s", blameSum, file.SHA256)
			}
		})
	}
	t.Run("ls-layer-0", func(t *testing.T) {
		r := strata(t, append(append([]string{"ls", "--json", "--layer", "0"}, sel...), f.path)...)
		if r.code != exitOK {
			t.Fatalf("want exit 0\n%s", r)
		}
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec lsRecord
			if !pfDecode(t, "ls --layer 0 line", sc.Bytes(), &rec) {
				return
			}
			if rec.Layer == nil || *rec.Layer != 0 || rec.Op == "" {
				t.Errorf("ls --layer 0 line without layer 0 and an op: %s", sc.Bytes())
			}
		}
	})

	// 4. extract the file: its bytes are what ls and blame say.
	if file.Path != "" {
		t.Run("extract", func(t *testing.T) {
			dest := t.TempDir()
			r := strata(t, append(append([]string{"extract"}, sel...), f.path, file.Path, "-o", dest)...)
			if r.code != exitOK {
				t.Fatalf("want exit 0\n%s", r)
			}
			b, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(strings.TrimPrefix(file.Path, "/"))))
			if err != nil {
				t.Fatalf("%v\n%s", err, r)
			}
			sum := sha256.Sum256(b)
			got := hex.EncodeToString(sum[:])
			if printed, _, _ := strings.Cut(r.stdout, " "); printed != got {
				t.Errorf("extract printed sha256 %q; the file written hashes to %s", printed, got)
			}
			if file.SHA256 != "" && got != file.SHA256 {
				t.Errorf("extracted %s hashes to %s; ls says %s", file.Path, got, file.SHA256)
			}
			if blameSum != "" && got != blameSum {
				t.Errorf("extracted %s hashes to %s; blame says %s", file.Path, got, blameSum)
			}
			if int64(len(b)) != file.Size {
				t.Errorf("extracted %d bytes; ls says %d", len(b), file.Size)
			}
		})
	}

	// 5. The explorer, built as explore.go builds it.
	t.Run("explore", func(t *testing.T) {
		first := insp.Images[0]
		want := []string{printable.String(first.Ref), "integrity ok", fmt.Sprintf("Layers (%d)", len(first.Layers))}
		if len(insp.Images) > 1 {
			want = append(want, fmt.Sprintf("(1/%d, I: next)", len(insp.Images)))
		}
		c := insp.Coverage
		if len(c.NotCarried) > 0 {
			want = append(want, fmt.Sprintf("%d of %d platforms carried", len(c.Carried), len(c.Carried)+len(c.NotCarried)))
		}
		n := 0
		for _, k := range c.Attachments {
			n += k
		}
		switch {
		case n == 1:
			want = append(want, "1 attachment")
		case n > 1:
			want = append(want, fmt.Sprintf("%d attachments", n))
		}
		pfExplore(t, f.path, nil, want)
	})
	return runs + 2 // the library scan for the coverage words, and the explorer's
}

// pfExplore starts the explorer on path the way runExplore does, minus the
// terminal: the same loader (scan.Run with the command's default options
// and the built-in rules, adapted by session), driven by teatest, with the
// monochrome styles (runExplore asks the terminal for its background
// otherwise). It waits for the first loaded view to show every string of
// want. args are the command's flags.
func pfExplore(t *testing.T, path string, args, want []string) {
	t.Helper()
	var f exploreFlags
	cmd := &cobra.Command{}
	f.in.register(cmd, testBuild)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(f.rules...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(set, detect.Options{Deep: f.deep})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var res *scan.Result
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if res != nil {
			res.Close()
		}
	}()
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		opts, err := f.in.options(eng)
		if err != nil {
			return nil, err
		}
		opts.Progress = func(p scan.Progress) {
			progress(app.Progress{LayersDone: p.LayersDone, Layers: p.Layers, Bytes: p.Bytes, TotalBytes: p.TotalBytes, Indexing: p.Indexing})
		}
		r, err := scan.Run(ctx, path, opts)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		res = r
		mu.Unlock()
		return session(r), nil
	}
	m := app.New(ctx, load, app.Options{Styles: styles.Mono(), Keys: keys.Default()})
	scr := &pfScreen{}
	tm := teatest.NewTestModel(t, pfProbe{m: m, screen: scr}, teatest.WithInitialTermSize(240, 40))
	deadline := time.Now().Add(60 * time.Second)
	var got string
	for {
		got = scr.get()
		if !strings.Contains(got, "Opening the input") && strings.Contains(got, "Layers (") || strings.Contains(got, "strata: ") {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tm.Quit(); err != nil {
		t.Error(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	title, _, _ := strings.Cut(got, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the explorer's first view does not show %q; title line:\n%s\nscreen:\n%s", w, title, got)
		}
	}
	if strings.Contains(got, "strata: ") {
		t.Errorf("the explorer shows an error:\n%s", got)
	}
}

// pfProbe wraps the explorer and records its screen, as plain text, after
// every update.
type pfProbe struct {
	m      tea.Model
	screen *pfScreen
}

type pfScreen struct {
	mu sync.Mutex
	s  string
}

func (s *pfScreen) get() string { s.mu.Lock(); defer s.mu.Unlock(); return s.s }

func (p pfProbe) Init() tea.Cmd { return p.m.Init() }

func (p pfProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	p.m, cmd = p.m.Update(msg)
	lines := strings.Split(ansi.Strip(p.m.View().Content), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	p.screen.mu.Lock()
	p.screen.s = strings.Join(lines, "\n")
	p.screen.mu.Unlock()
	return p, cmd
}

func (p pfProbe) View() tea.View { return p.m.View() }

// pfTwin holds a damaged twin to a failed verdict, exit code 1, and no
// crash in the path commands.
func pfTwin(t *testing.T, f pfFixture) int {
	runs := 0
	strata := func(t *testing.T, args ...string) pfResult {
		t.Helper()
		runs++
		return pfStrata(t, args...)
	}
	t.Run("inspect", func(t *testing.T) {
		r := strata(t, "inspect", "--json", f.path)
		if r.code != exitFindings {
			t.Fatalf("want exit 1 (integrity problems)\n%s", r)
		}
		var insp struct {
			Integrity struct {
				OK       bool              `json:"ok"`
				Problems []json.RawMessage `json:"problems"`
			} `json:"integrity"`
		}
		if pfDecode(t, "inspect --json", []byte(r.stdout), &insp) && (insp.Integrity.OK || len(insp.Integrity.Problems) == 0) {
			t.Errorf("integrity ok on a damaged archive\n%s", r)
		}
	})
	t.Run("scan-json", func(t *testing.T) {
		r := strata(t, "scan", "--format", "json", f.path)
		if r.code != exitFindings {
			t.Fatalf("want exit 1\n%s", r)
		}
		var doc pfScanDoc
		var v pfVerdict
		if !pfDecode(t, "scan --format json", []byte(r.stdout), &doc) || !pfDecode(t, "verdict", doc.Verdict, &v) {
			return
		}
		if len(doc.Inputs) != 1 {
			t.Fatalf("%d inputs in the report", len(doc.Inputs))
		}
		var integ struct {
			OK bool `json:"ok"`
		}
		pfDecode(t, "integrity", doc.Inputs[0].Integrity, &integ)
		if integ.OK || v.Problems == 0 {
			t.Errorf("integrity ok on a damaged archive: %s, verdict %s", doc.Inputs[0].Integrity, doc.Verdict)
		}
	})
	t.Run("scan-text", func(t *testing.T) {
		r := strata(t, "scan", f.path)
		if r.code != exitFindings {
			t.Fatalf("want exit 1\n%s", r)
		}
		// An image of the input may verify on its own; the input does not.
		if !pfProblem.MatchString(r.stdout) || strings.Contains(r.stdout, "integrity: ok") {
			t.Errorf("text does not say integrity failed\n%s", r)
		}
	})
	// ls and blame may refuse a damaged archive, never crash on it.
	path := "/etc/os-release"
	t.Run("ls", func(t *testing.T) {
		r := strata(t, "ls", "--json", f.path)
		pfNoCrash(t, r)
		for _, line := range strings.Split(r.stdout, "\n") {
			var rec lsRecord
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Type == "file" && rec.Present {
				path = rec.Path
				break
			}
		}
	})
	t.Run("blame", func(t *testing.T) {
		pfNoCrash(t, strata(t, "blame", "--json", f.path, path))
	})
	return runs
}

// pfNoCrash: exit 0, 1, or 2 with a message; never a panic.
func pfNoCrash(t *testing.T, r pfResult) {
	t.Helper()
	switch {
	case r.panicked:
	case r.code == exitOK || r.code == exitFindings:
	case r.code == exitUsage && strings.TrimSpace(r.stderr) != "":
	default:
		t.Errorf("want exit 0, 1, or 2 with an error message\n%s", r)
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("crash\n%s", r)
	}
}
