package report_test

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/builtin"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

var screenshot = flag.String("screenshot", "", "also save TestHTMLRendersInChromium's screenshot to this file (docs/report.png)")

const fixtureDir = "../../fixtures/testdata"

// fixtureInputs lists the bundled fixtures: archive files and layout
// folders, the real-tool ones included.
func fixtureInputs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{fixtureDir, filepath.Join(fixtureDir, "real")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("committed fixtures missing: %v", err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				if _, err := os.Stat(filepath.Join(p, "oci-layout")); err != nil {
					continue
				}
			}
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// scanFixture scans one fixture with the built-in rules at a fixed time.
func scanFixture(t testing.TB, p string) (*scan.Result, *rules.Set) {
	t.Helper()
	rs, eng := builtin.Engine(t, detect.Options{})
	fixed := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
	res, err := scan.Run(context.Background(), p, scan.Options{Engine: eng, Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatalf("scan %s: %v", p, err)
	}
	t.Cleanup(func() { res.Close() })
	return res, rs
}

func fixtureMeta(rs *rules.Set, args ...string) report.Meta {
	return report.Meta{Tool: "strata", Version: "v0.0.0-test", Commit: "0123abc", GoVersion: "go1.26",
		Examiner: "Test Examiner", Case: "TEST-1", Args: append([]string{"strata", "scan"}, args...), Rules: rs}
}

// TestFixturesValidate scans every bundled fixture and validates the JSON
// report, its JSON lines and the SARIF log against their schemas.
func TestFixturesValidate(t *testing.T) {
	rep, sar, lines := report.ReportSchema(t), report.SARIFSchema(t), report.LineSchema(t)
	for _, p := range fixtureInputs(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			res, rs := scanFixture(t, p)
			d := report.NewDocument(fixtureMeta(rs, p), res.ReportSource())
			if err := report.Validate(t, rep, report.Render(t, d, report.JSON, report.TextOptions{})); err != nil {
				t.Errorf("JSON report: %v", err)
			}
			if err := report.Validate(t, sar, report.Render(t, d, report.SARIF, report.TextOptions{})); err != nil {
				t.Errorf("SARIF: %v", err)
			}
			for i, l := range bytes.Split(bytes.TrimSuffix(report.Render(t, d, report.JSONL, report.TextOptions{}), []byte("\n")), []byte("\n")) {
				if err := report.Validate(t, lines, l); err != nil {
					t.Errorf("JSON line %d: %v", i+1, err)
				}
			}
			planted := strings.HasPrefix(filepath.Base(p), "xz-planted")
			if planted && d.Verdict.Status != report.Compromised {
				t.Errorf("planted fixture judged %s", d.Verdict.Status)
			}
			if strings.HasPrefix(filepath.Base(p), "clean") && d.Verdict.Status != report.Clean {
				t.Errorf("clean control judged %s", d.Verdict.Status)
			}
		})
	}
}

// TestFixtureDeterminism scans a planted fixture twice and compares every
// format byte for byte.
func TestFixtureDeterminism(t *testing.T) {
	p := filepath.Join(fixtureDir, "xz-planted.oci.tar")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("committed fixture missing: %v", err)
	}
	a, rs := scanFixture(t, p)
	b, _ := scanFixture(t, p)
	for _, f := range report.Formats {
		t.Run(string(f), func(t *testing.T) {
			x := report.Render(t, report.NewDocument(fixtureMeta(rs, p), a.ReportSource()), f, report.TextOptions{})
			y := report.Render(t, report.NewDocument(fixtureMeta(rs, p), b.ReportSource()), f, report.TextOptions{})
			if !bytes.Equal(x, y) {
				t.Fatalf("two scans differ:\n%s", golden.Diff(x, y))
			}
		})
	}
}

// TestFixtureEvidence writes the evidence folder of a planted fixture with
// the real reader and checks every copy against its name.
func TestFixtureEvidence(t *testing.T) {
	p := filepath.Join(fixtureDir, "xz-planted.docker.tar.zst")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("committed fixture missing: %v", err)
	}
	res, rs := scanFixture(t, p)
	dir := filepath.Join(t.TempDir(), "evidence")
	if err := report.NewDocument(fixtureMeta(rs, p), res.ReportSource()).WriteEvidence(dir); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(filepath.Join(dir, "files"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no matched files copied: %v", err)
	}
	for _, f := range files {
		sum, err := report.HashFile(filepath.Join(dir, "files", f.Name()))
		if err != nil || sum != f.Name() {
			t.Errorf("files/%s hashes to %s (%v)", f.Name(), sum, err)
		}
	}
	if sum, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sum, "-c", "--strict", "--quiet", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, out)
		}
	}
}

// TestHTMLRendersInChromium opens the HTML report of the planted fixture in
// headless Chromium, with no network and no JavaScript needed, and checks
// that it renders: a screenshot is produced, and the DOM holds the verdict,
// the input's sha256 and every finding's layer.
func TestHTMLRendersInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("chromium is not installed (make tools installs it)")
	}
	save := *screenshot
	if save != "" {
		abs, err := filepath.Abs(save)
		if err != nil {
			t.Fatal(err)
		}
		save = abs
	}
	// Scan from the repository's root, so the report names the input as a
	// user there would.
	t.Chdir(filepath.Join("..", ".."))
	p := filepath.Join("fixtures", "testdata", "xz-planted.docker.tar")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("committed fixture missing: %v", err)
	}
	res, rs := scanFixture(t, p)
	d := report.NewDocument(fixtureMeta(rs, "--format", "html", "--examiner", "Test Examiner", "--case", "TEST-1", p), res.ReportSource())
	if len(d.Findings) == 0 {
		t.Fatal("the planted fixture gave no findings")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, report.Render(t, d, report.HTML, report.TextOptions{}), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "out.png")
	browser := func(extra ...string) []byte {
		t.Helper()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
			// Paint everything before the capture: on a busy machine a
			// screenshot can otherwise catch half-drawn tiles.
			"--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000",
			"--user-data-dir=" + t.TempDir()}, extra...)
		args = append(args, "file://"+page)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, args...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, stderr.Bytes())
		}
		return stdout.Bytes()
	}

	browser("--screenshot="+shot, "--window-size=1200,1600")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	if colours := distinctColours(img, 4); colours < 8 {
		t.Errorf("screenshot has %d distinct colours: nothing rendered", colours)
	}

	dom := string(browser("--dump-dom"))
	want := []string{"Verdict: compromised", res.Input.SHA256}
	for _, fd := range d.Findings {
		want = append(want, report.LayerLabel(fd))
	}
	for _, w := range want {
		if !strings.Contains(dom, w) {
			t.Errorf("rendered DOM lacks %q", w)
		}
	}

	if save != "" {
		b, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(save, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", save)
	}
}

// distinctColours counts the colours of every step-th pixel.
func distinctColours(img image.Image, step int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}
