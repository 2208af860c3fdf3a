package report

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/internal/testkit/golden"
)

func sha(s string) string { return digest.FromString(s).Encoded() }

// Contents of the hand-made layers' files, by path.
var fileBytes = map[string]string{
	"/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1": "look-alike liblzma bytes\n",
	"/opt/old/liblzma.so.5.6.0":                  "deleted look-alike bytes\n",
	"/var/lib/dpkg/status":                       "Package: liblzma5\nVersion: 5.6.0-0.1\n",
	"/usr/bin/sshd":                              "sshd look-alike\n",
	"/etc/os-release":                            "ID=debian\n",
}

func fileEntry(p string, off int64) layer.Entry {
	b := fileBytes[p]
	return layer.Entry{Path: p, Type: layer.File, Mode: 0o644, Size: int64(len(b)), SHA256: sha(b), Offset: off, Name: strings.TrimPrefix(p, "/")}
}

var (
	t0 = time.Date(2024, 3, 29, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(3*time.Second + 250*time.Millisecond)
)

// sampleSource builds a source by hand: two images in one docker archive,
// the first with a present and a deleted look-alike and an affected
// package, the second clean; one integrity problem.
func sampleSource(t testing.TB) Source {
	t.Helper()
	created := t0.Add(-24 * time.Hour)
	l0 := &image.Layer{Index: 0, Digest: digest.FromString("layer0"), DiffID: digest.FromString("diff0"),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 1234, CreatedBy: "/bin/sh -c #(nop) ADD file:base in / ",
		Blob: "blobs/sha256/" + digest.FromString("layer0").Encoded()}
	l1 := &image.Layer{Index: 1, Digest: digest.FromString("layer1"), DiffID: digest.FromString("diff1"),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 56789, CreatedBy: "RUN apt-get install -y xz-utils | tee /log",
		Blob: "blobs/sha256/" + digest.FromString("layer1").Encoded()}
	l2 := &image.Layer{Index: 2, Digest: digest.FromString("layer2"), DiffID: digest.FromString("diff2"),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 321, CreatedBy: "RUN rm -rf /opt/old",
		Blob: "blobs/sha256/" + digest.FromString("layer2").Encoded()}
	img1 := &image.Image{Names: []string{"example/xz:planted", "example/xz:<latest>"}, Platform: "linux/amd64",
		ManifestDigest: digest.FromString("manifest1"), ConfigDigest: digest.FromString("config1"), Created: &created,
		Entrypoint: []string{"/usr/sbin/sshd", "-D"}, Layers: []*image.Layer{l0, l1, l2}}
	l0b := *l0
	img2 := &image.Image{Names: []string{"example/clean:1"}, Platform: "linux/arm64",
		ManifestDigest: digest.FromString("manifest2"), ConfigDigest: digest.FromString("config2"),
		Cmd: []string{"bash"}, Layers: []*image.Layer{&l0b}}

	read := func(l *image.Layer, size int64, count int, es ...layer.Entry) SourceLayer {
		ps := make([]*layer.Entry, len(es))
		for i := range es {
			ps[i] = &es[i]
		}
		return SourceLayer{Blob: l.Blob, UncompressedSize: size, EntryCount: count, Entries: ps}
	}
	sl0 := read(l0, 4096, 2,
		layer.Entry{Path: "/etc", Type: layer.Dir, Mode: 0o755, Name: "etc/"},
		fileEntry("/etc/os-release", 512))
	sl1 := read(l1, 123456, 3,
		fileEntry("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", 1024),
		fileEntry("/opt/old/liblzma.so.5.6.0", 2048),
		fileEntry("/var/lib/dpkg/status", 3072),
		fileEntry("/usr/bin/sshd", 4096))
	sl2 := read(l2, 2048, 1, layer.Entry{Path: "/opt/old", Type: layer.Whiteout, Name: "opt/.wh.old"})

	ref := img1.Ref()
	fs := []finding.Finding{
		{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.Critical, Image: ref, Layer: 1, LayerDigest: l1.Digest.String(),
			Path: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", SHA256: sha(fileBytes["/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"]), Present: true,
			Evidence: "sha256 listed by TEST-digest (liblzma.so.5.6.1)", Message: "backdoored liblzma look-alike; sshd links liblzma on x86-64 glibc"},
		{Rule: "TEST-signature", Kind: finding.Signature, Severity: finding.Medium, Image: ref, Layer: 1, LayerDigest: l1.Digest.String(),
			Path: "/opt/old/liblzma.so.5.6.0", SHA256: sha(fileBytes["/opt/old/liblzma.so.5.6.0"]), Present: false,
			Evidence: "pattern 0 at offset 0x1f0", Message: "byte pattern <de ad be ef> found | deleted by layer 2 but shipped"},
		{Rule: "TEST-package", Kind: finding.Package, Severity: finding.Low, Image: ref, Layer: 1, LayerDigest: l1.Digest.String(),
			Path: "/var/lib/dpkg/status", Present: true, Package: &finding.Pkg{Name: "liblzma5", Version: "5.6.0-0.1", Ecosystem: "dpkg"},
			Evidence: "Package: liblzma5", Message: "dpkg lists liblzma5 5.6.0-0.1, in the affected range"},
	}
	finding.Sort(fs)
	return Source{
		Input: archive.Info{Path: "fixtures/testdata/xz-planted.tar.gz", Format: archive.DockerArchive, Compression: compress.Gzip, SHA256: sha("input"), Size: 987654},
		Images: []SourceImage{
			{Image: img1, Layers: []SourceLayer{sl0, sl1, sl2}},
			{Image: img2, Layers: []SourceLayer{sl0}},
		},
		Findings: fs,
		Problems: []integrity.Problem{{Blob: digest.FromString("extra").String(), Kind: integrity.ExtraBlob, Detail: "blob referenced by no manifest & no index"}},
		Ruleset: &rules.Info{Version: "test-1", SHA256: sha("ruleset"), Rules: 3,
			Files: []rules.FileInfo{{Path: "builtin:test.json", SHA256: sha("ruleset"), Version: "test-1", Name: "test"}}},
		Started:  t0,
		Finished: t1,
	}
}

// cleanSource is one clean image with verified integrity.
func cleanSource(t testing.TB) Source {
	src := sampleSource(t)
	src.Input.Path = "clean.tar"
	src.Input.Compression = compress.None
	src.Images = src.Images[1:]
	src.Findings = nil
	src.Problems = nil
	return src
}

func testMeta(t testing.TB) Meta {
	t.Helper()
	rs, err := rules.Load(filepath.Join("testdata", "test.rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	return Meta{Tool: "strata", Version: "v0.0.0-test", Commit: "0123abc", GoVersion: "go1.26",
		Examiner: "A. Examiner <ae@example.org>", Case: "CASE-2024-0042",
		Args: []string{"strata", "scan", "--format", "html", "--case", "CASE-2024-0042", "fixtures/testdata/xz-planted.tar.gz"}, Rules: rs}
}

func render(t testing.TB, d *Document, f Format, o TextOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Write(&buf, f, o); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name    string
		sources func(testing.TB) []Source
		format  Format
		color   bool
	}{
		{"findings.txt", one(sampleSource), Text, false},
		{"findings-color.txt", one(sampleSource), Text, true},
		{"findings.json", one(sampleSource), JSON, false},
		{"findings.sarif", one(sampleSource), SARIF, false},
		{"findings.md", one(sampleSource), Markdown, false},
		{"findings.html", one(sampleSource), HTML, false},
		{"clean.txt", one(cleanSource), Text, false},
		{"clean.md", one(cleanSource), Markdown, false},
		{"fleet.txt", both, Text, false},
		{"fleet.json", both, JSON, false},
		{"fleet.jsonl", both, JSONL, false},
		{"compromised-fleet.txt", compromisedFleet, Text, false},
		{"compromised-fleet-80.txt", compromisedFleet, Text, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDocument(testMeta(t), c.sources(t)...)
			o := TextOptions{Color: c.color}
			if strings.HasSuffix(c.name, "-80.txt") {
				o.Width = 80 // a terminal's width
			}
			golden.Assert(t, golden.Path(t), render(t, d, c.format, o))
		})
	}
}

func one(f func(testing.TB) Source) func(testing.TB) []Source {
	return func(t testing.TB) []Source { return []Source{f(t)} }
}

func both(t testing.TB) []Source { return []Source{sampleSource(t), cleanSource(t)} }

// compromisedFleet is two inputs carrying the same compromised image (two
// saves of it), and a clean image on the same base layer: the fleet
// summary lists the layers the compromised images share.
func compromisedFleet(t testing.TB) []Source {
	again := sampleSource(t)
	again.Input.Path = "fixtures/testdata/xz-planted-again.tar"
	again.Input.SHA256 = sha("input again")
	return []Source{sampleSource(t), again, cleanSource(t)}
}

func TestVerdict(t *testing.T) {
	problem := integrity.Problem{Blob: "b", Kind: integrity.DigestMismatch}
	foreign := integrity.Problem{Blob: "f", Kind: integrity.Foreign}
	f := func(s finding.Severity) finding.Finding { return finding.Finding{Rule: "r", Severity: s} }
	cases := []struct {
		name     string
		fs       []finding.Finding
		problems []integrity.Problem
		want     Status
		failed   bool
	}{
		{"nothing", nil, nil, Clean, false},
		{"foreign layer only", nil, []integrity.Problem{foreign}, Clean, false},
		{"integrity problem", nil, []integrity.Problem{problem, foreign}, IntegrityFailed, true},
		{"low finding", []finding.Finding{f(finding.Low)}, nil, Suspicious, true},
		{"medium finding", []finding.Finding{f(finding.Info), f(finding.Medium)}, nil, Suspicious, true},
		{"high finding", []finding.Finding{f(finding.Low), f(finding.High)}, nil, Compromised, true},
		{"critical with integrity problem", []finding.Finding{f(finding.Critical)}, []integrity.Problem{problem}, Compromised, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewVerdict(c.fs, c.problems)
			if v.Status != c.want || v.Failed() != c.failed {
				t.Errorf("got %s (failed %v), want %s (failed %v)", v.Status, v.Failed(), c.want, c.failed)
			}
			if (v.WorstSeverity == nil) != (len(c.fs) == 0) {
				t.Errorf("worst severity %v with %d findings", v.WorstSeverity, len(c.fs))
			}
		})
	}
}

func TestImageVerdict(t *testing.T) {
	src := sampleSource(t)
	// A digest mismatch on the first image's top layer concerns it alone;
	// the extra blob concerns neither image in particular, so both.
	src.Problems = append(src.Problems, integrity.Problem{Blob: src.Images[0].Image.Layers[2].Digest.String(), Kind: integrity.DigestMismatch})
	d := NewDocument(Meta{}, src)
	in := &d.Inputs[0]
	v1, v2 := in.ImageVerdict(&in.Images[0]), in.ImageVerdict(&in.Images[1])
	if v1.Status != Compromised || v1.Findings != 3 || v1.Problems != 2 {
		t.Errorf("image 1: %+v", v1)
	}
	if v2.Status != IntegrityFailed || v2.Findings != 0 || v2.Problems != 1 {
		t.Errorf("image 2: %+v", v2)
	}
}

func TestDeterminism(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			// Two documents from two independently built results: nothing
			// may depend on map order, pointers or the clock.
			a := render(t, NewDocument(testMeta(t), both(t)...), f, TextOptions{})
			b := render(t, NewDocument(testMeta(t), both(t)...), f, TextOptions{})
			if !bytes.Equal(a, b) {
				t.Fatalf("two renderings differ:\n%s", golden.Diff(a, b))
			}
			// Only the timestamps may differ between scans at other times.
			later := both(t)
			for i := range later {
				later[i].Started, later[i].Finished = later[i].Started.Add(time.Hour), later[i].Finished.Add(time.Hour)
			}
			c := render(t, NewDocument(testMeta(t), later...), f, TextOptions{})
			stamp := strings.NewReplacer(t0.Format(time.RFC3339), "T0", t1.Format(time.RFC3339Nano), "T1",
				utc(t0), "T0", utc(t1), "T1")
			stampLater := strings.NewReplacer(t0.Add(time.Hour).Format(time.RFC3339), "T0", t1.Add(time.Hour).Format(time.RFC3339Nano), "T1",
				utc(t0.Add(time.Hour)), "T0", utc(t1.Add(time.Hour)), "T1")
			if stamp.Replace(string(a)) != stampLater.Replace(string(c)) {
				t.Fatalf("output differs beyond timestamps:\n%s", golden.Diff([]byte(stamp.Replace(string(a))), []byte(stampLater.Replace(string(c)))))
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	src := sampleSource(t)
	hostile := "/tmp/<script>alert(1)</script>|x\n[link](http://evil)"
	src.Findings[0].Path = hostile
	src.Findings[0].Message = "line one\nFAKE  critical  forged line"
	d := NewDocument(testMeta(t), src)

	html := string(render(t, d, HTML, TextOptions{}))
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Error("HTML does not escape a hostile path")
	}
	if strings.Contains(strings.ToLower(html), "<script") || strings.Contains(html, " src=") || strings.Contains(html, "<link") {
		t.Error("HTML carries a script or an external asset")
	}
	md := string(render(t, d, Markdown, TextOptions{}))
	// The hostile path may only appear inside code spans, where Markdown
	// is literal.
	for _, line := range strings.Split(md, "\n") {
		if i := strings.Index(line, "[link](http://evil)"); i >= 0 && !strings.Contains(line[:i], "`/tmp/") {
			t.Errorf("Markdown lets a path form a link: %q", line)
		}
	}
	text := string(render(t, d, Text, TextOptions{}))
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "FAKE") || strings.HasPrefix(line, "[link]") {
			t.Errorf("text lets a finding forge a line: %q", line)
		}
	}
}

func TestTextColor(t *testing.T) {
	d := NewDocument(testMeta(t), both(t)...)
	if plain := render(t, d, Text, TextOptions{}); bytes.ContainsRune(plain, 0x1b) {
		t.Error("text without colour contains an escape sequence")
	}
	if col := render(t, d, Text, TextOptions{Color: true}); !bytes.Contains(col, []byte("\x1b[")) {
		t.Error("text with colour has no colour")
	}
}

func TestTextLines(t *testing.T) {
	d := NewDocument(testMeta(t), sampleSource(t))
	lines := strings.Split(strings.TrimSuffix(string(render(t, d, Text, TextOptions{})), "\n"), "\n")
	checkTextLines(t, lines, len(d.Findings))
	for _, want := range []string{"COMPROMISED  example/xz:planted (linux/amd64)", "INTEGRITY-FAILED  example/clean:1 (linux/arm64)"} {
		if !strings.Contains(strings.Join(lines[1:3], "\n"), want) {
			t.Errorf("no verdict line %q", want)
		}
	}
	// Findings come under their image's heading, worst first, one line
	// each, the image named by the heading.
	var got []string
	heading := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "findings in ") {
			heading = l
		}
		if isFindingLine(l) {
			got = append(got, heading+"|"+l)
		}
	}
	fs := slices.Clone(d.Findings)
	slices.SortStableFunc(fs, func(a, b finding.Finding) int { return int(b.Severity) - int(a.Severity) })
	if len(got) != len(fs) {
		t.Fatalf("%d finding lines, want %d", len(got), len(fs))
	}
	for i, f := range fs {
		l := got[i]
		for _, part := range []string{"findings in " + f.Image + ":|", "  " + f.Severity.String(), f.Rule, "layer 1 (" + shortDigest(f.LayerDigest) + ")", f.Path, presence(f)} {
			if !strings.Contains(l, part) {
				t.Errorf("finding line %q lacks %q", l, part)
			}
		}
	}
}

// TestTextWidth: on a terminal of 80 columns no line is wider, a
// finding's message moves to a line of its own, and the file name of a
// long path survives.
func TestTextWidth(t *testing.T) {
	d := NewDocument(testMeta(t), sampleSource(t))
	text := string(render(t, d, Text, TextOptions{Width: 80}))
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	if !strings.Contains(text, "liblzma.so.5.6.1  present\n            ") {
		t.Errorf("message not on a line of its own, or file name cut:\n%s", text)
	}
	if wide := string(render(t, d, Text, TextOptions{})); strings.Contains(wide, "…") {
		t.Error("text for a file or pipe is shortened")
	}
}

// checkTextLines holds every line of a text report to the shapes it may
// take, so that no finding can forge a line, and counts the finding lines.
func checkTextLines(t *testing.T, lines []string, findings int) {
	t.Helper()
	n := 0
	for i, l := range lines {
		switch {
		case i == 0, l == "", strings.HasPrefix(l, "findings in "), strings.HasPrefix(l, "verdict: "):
		case isFindingLine(l):
			n++
		case regexp.MustCompile(`^(COMPROMISED|SUSPICIOUS|INTEGRITY-FAILED|CLEAN)  `).MatchString(l):
		case regexp.MustCompile(`^(integrity|absent|unreferenced|note)[: ] `).MatchString(l):
		case isFleetLine(l):
		default:
			t.Errorf("line %d has no shape a text report gives: %q", i+1, l)
		}
	}
	if n != findings {
		t.Errorf("%d finding lines, want %d", n, findings)
	}
}

// isFleetLine matches the lines of the fleet summary (fleet.go): headings,
// column heads, and rows that start with a right-aligned count, which no
// finding line or verdict line does.
func isFleetLine(l string) bool {
	return regexp.MustCompile(`^(fleet: \d+ inputs?, \d+ images?|worst findings( \(\d+ of \d+ kinds\))?:|layers shared by the \d+ compromised images.*:.*)$`).MatchString(l) ||
		l == "  images  verdict" || strings.HasPrefix(l, "  images  severity  rule ") || l == "  compromised  images  findings  layer (diff_id)" ||
		regexp.MustCompile(`^  +\d+  `).MatchString(l)
}

func isFindingLine(l string) bool {
	return regexp.MustCompile(`^  (info|low|medium|high|critical) *  `).MatchString(l)
}

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Format
		ok   bool
	}{{"json", JSON, true}, {"SARIF", SARIF, true}, {"md", Markdown, true}, {"markdown", Markdown, true}, {"html", HTML, true}, {"text", Text, true}, {"jsonl", JSONL, true}, {"ndjson", JSONL, true}, {"pdf", "", false}} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseFormat(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("ParseFormat(%q) = %q, %v", c.in, got, err)
			}
		})
	}
}

func TestMarkdownCode(t *testing.T) {
	for _, c := range []struct{ in, code, cell string }{
		{"plain", "`plain`", "`plain`"},
		{"a|b", "`a|b`", "`a\\|b`"},
		{"has `tick`", "`` has `tick` ``", "`` has `tick` ``"},
		{"`lead", "`` `lead ``", "`` `lead ``"},
		{"two\nlines", "`two lines`", "`two lines`"},
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := mdCode(c.in); got != c.code {
				t.Errorf("mdCode = %q, want %q", got, c.code)
			}
			if got := mdCell(c.in); got != c.cell {
				t.Errorf("mdCell = %q, want %q", got, c.cell)
			}
		})
	}
}

// FuzzText checks that no finding, whatever its strings, breaks the
// one-line-per-finding text format, and that every writer copes.
func FuzzText(f *testing.F) {
	f.Add("/usr/lib/liblzma.so.5", "message", "img:1")
	f.Add("/a\nb", "m\r\x1b[31mred", "i\tj")
	f.Add("<script>", "|`*_[x](y)", "")
	f.Fuzz(func(t *testing.T, path, msg, img string) {
		src := sampleSource(t)
		src.Findings[0].Path, src.Findings[0].Message, src.Findings[0].Image = path, msg, img
		d := NewDocument(Meta{}, src)
		text := render(t, d, Text, TextOptions{})
		if bytes.ContainsRune(text, 0x1b) {
			t.Fatal("escape sequence in plain text")
		}
		checkTextLines(t, strings.Split(strings.TrimSuffix(string(text), "\n"), "\n"), len(src.Findings))
		for _, fm := range []Format{JSON, JSONL, SARIF, Markdown, HTML} {
			render(t, d, fm, TextOptions{})
		}
	})
}

func TestShellJoin(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"strata", "scan", "--format", "html", "a/b.tar"}, "strata scan --format html a/b.tar"},
		{"space", []string{"--examiner", "J. Doe"}, "--examiner 'J. Doe'"},
		{"quote", []string{"it's"}, `'it'\''s'`},
		{"empty", []string{""}, "''"},
		{"dollar", []string{"$HOME"}, "'$HOME'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := shellJoin(c.args); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// Human formats show an image's control characters; JSON and SARIF keep
// them exactly, escaped by their encoders.
func TestControlCharacters(t *testing.T) {
	src := sampleSource(t)
	const seq = "\x1b]0;PWNED\x07\x1b[31mred\x1b[2J"
	src.Findings[0].Path = "/etc/evil" + seq
	src.Findings[0].Message = "named " + seq
	d := NewDocument(testMeta(t), src)
	for _, fm := range []Format{Text, Markdown, HTML} {
		out := string(render(t, d, fm, TextOptions{}))
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%v holds control characters from the image", fm)
		}
		if !strings.Contains(out, "/etc/evil^[]0;PWNED^G^[[31mred^[[2J") {
			t.Errorf("%v does not show the path in caret notation", fm)
		}
	}
	for _, fm := range []Format{JSON, SARIF} {
		out := string(render(t, d, fm, TextOptions{}))
		if !strings.Contains(out, `/etc/evil\u001b]0;PWNED\u0007\u001b[31mred\u001b[2J`) {
			t.Errorf("%v does not keep the path exactly", fm)
		}
	}
}
