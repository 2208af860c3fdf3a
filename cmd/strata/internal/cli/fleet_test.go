package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/scan"
	"github.com/strata-forensics/strata/internal/testkit/registrystore"
)

// linesWriter records, for each write, how many outcomes scan.RunEach had
// handed over when it came: the clock a stream is judged by.
type linesWriter struct {
	outcomes int   // outcomes handed over so far
	at       []int // outcomes handed over at each write
	buf      bytes.Buffer
}

func (w *linesWriter) Write(p []byte) (int, error) {
	w.at = append(w.at, w.outcomes)
	return w.buf.Write(p)
}

// TestFleetLinesStream: with --format jsonl each input's line is written
// while RunEach hands that input over, before the next input is handed
// over (and so before the last one is): a SIEM sees each image as it is
// judged. Inputs that cannot be read have a line too; a stray file in a
// folder of archives has none.
func TestFleetLinesStream(t *testing.T) {
	set, eng := builtinEngine(t)
	stray := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(stray, []byte("seized from build host 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		filepath.Join(fixturesDir, "clean.docker.tar"),
		filepath.Join(fixturesDir, "xz-planted.docker.tar"),
		filepath.Join(t.TempDir(), "missing.tar"),
		stray,
		filepath.Join(fixturesDir, "xz-planted.oci.tar"),
	}
	// The records each outcome writes, in order, and how many lines.
	want := [][]string{{report.RecordImage}, {report.RecordImage}, {report.RecordUnreadable}, nil, {report.RecordImage}}

	w := &linesWriter{}
	doc := report.NewDocument(report.Meta{Tool: "strata", Version: "dev", Rules: set})
	doc.LinesOnly() // as runScan makes it without --evidence
	sink := &fleetSink{doc: doc, lines: w, roots: roots{fromFolder: map[string]bool{stray: true}}}
	defer sink.close()
	scan.RunEach(t.Context(), paths, scan.Options{Engine: eng}, func(o scan.Outcome) {
		w.outcomes++
		sink.take(o)
	})
	if sink.lineErr != nil {
		t.Fatal(sink.lineErr)
	}

	var wantAt []int
	var wantRecords []string
	for i, rs := range want {
		for _, r := range rs {
			wantAt = append(wantAt, i+1)
			wantRecords = append(wantRecords, r)
		}
	}
	if len(w.at) != len(wantAt) {
		t.Fatalf("%d writes, want %d: %s", len(w.at), len(wantAt), w.buf.String())
	}
	for i := range wantAt {
		if w.at[i] != wantAt[i] {
			t.Errorf("line %d written after %d outcomes, want %d: lines are not streamed input by input", i+1, w.at[i], wantAt[i])
		}
	}

	sch := lineSchema(t)
	ls := bytes.Split(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n")), []byte("\n"))
	for i, l := range ls {
		var got struct {
			Record string `json:"record"`
		}
		if err := json.Unmarshal(l, &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got.Record != wantRecords[i] {
			t.Errorf("line %d is a %q record, want %q", i+1, got.Record, wantRecords[i])
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("line %d does not validate: %v\n%s", i+1, err, l)
		}
	}
	// The document holds the last input read, not all three.
	if sink.read != 3 || len(sink.failures) != 2 || len(doc.Inputs) != 1 {
		t.Errorf("read %d, failed %d, holding %d inputs", sink.read, len(sink.failures), len(doc.Inputs))
	}
}

// A write that fails (a closed pipe, a full disk) stops the lines: the
// rest would be a stream with a hole a SIEM cannot see.
func TestFleetLinesStopOnError(t *testing.T) {
	set, eng := builtinEngine(t)
	w := &failingWriter{}
	sink := &fleetSink{doc: report.NewDocument(report.Meta{Rules: set}), lines: w}
	defer sink.close()
	clean := filepath.Join(fixturesDir, "clean.docker.tar")
	scan.RunEach(t.Context(), []string{clean, clean}, scan.Options{Engine: eng}, sink.take)
	if sink.lineErr == nil || w.writes != 1 {
		t.Errorf("error %v after %d writes, want the first write's error and no write after it", sink.lineErr, w.writes)
	}
	if err := closeLines(sink, nil); err == nil {
		t.Error("closeLines hides the write error")
	}
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, os.ErrClosed
}

// builtinEngine is the detection engine of `strata scan` without flags:
// the built-in rules, every bound at its default.
func builtinEngine(t *testing.T) (*rules.Set, *detect.Engine) {
	t.Helper()
	var df detectFlags
	df.register(&cobra.Command{}, "")
	set, eng, err := df.load()
	if err != nil {
		t.Fatal(err)
	}
	return set, eng
}

// lineSchema compiles the bundled JSON lines schema, as printed by
// `strata scan --print-schema --format jsonl`.
func lineSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := report.JSONLSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("file:///strata.jsonl.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///strata.jsonl.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// spoolFleetRoot is a fleet of inputs as runScan makes them of
// arguments, selecting the planted image by its config digest: an
// evidence root whose registry storage holds it and whose Docker storage
// does not (skipped), three archives of it, and an archive that is not
// there (unreadable).
// It returns the arguments, the inputs runScan makes of them, and the
// scan options selecting the images.
func spoolFleetRoot(t *testing.T) ([]string, []scanInput, scan.Options) {
	t.Helper()
	fixtures, err := filepath.Abs(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	ev := t.TempDir()
	syntheticDocker(t, filepath.Join(ev, "var/lib/docker"))
	r := registrystore.New(t, filepath.Join(ev, "var/lib"))
	r.Push(t, "library/xz", registrystore.FromLayout(t, filepath.Join(fixtures, "xz-planted.oci")), "5.6.1")
	args := []string{ev, filepath.Join(fixtures, "xz-planted.docker.tar"), filepath.Join(t.TempDir(), "missing.tar"),
		filepath.Join(fixtures, "xz-planted.oci.tar"), filepath.Join(fixtures, "xz-planted.docker.tar.gz")}
	inputs, _, err := expandInputs(args)
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) != 6 || inputs[1].partOf != ev {
		t.Fatalf("fixture: the evidence root is not two storages: %v", inputs)
	}
	_, eng := builtinEngine(t)
	now := time.Date(2024, 3, 29, 12, 0, 0, 0, time.UTC)
	return args, inputs, scan.Options{Engine: eng, Now: func() time.Time { return now },
		Images: []string{"sha256:057c9132ffec"}}
}

// TestFleetSpooled: a fleet's json or text report, spooled as runScan
// does when it is the only output, keeps no input in memory once the
// input is added, and is byte for byte the report of the same fleet kept
// in memory; the spool leaves nothing in the temporary folder.
func TestFleetSpooled(t *testing.T) {
	for _, format := range []report.Format{report.JSON, report.Text} {
		t.Run(string(format), func(t *testing.T) { testFleetSpooled(t, format) })
	}
}

func testFleetSpooled(t *testing.T, format report.Format) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.TempDir, where standard output's spool goes
	_, inputs, opts := spoolFleetRoot(t)
	set, _ := builtinEngine(t)
	meta := report.Meta{Tool: "strata", Version: "dev", Rules: set, Args: []string{"strata", "scan", "--format", "json"}}

	run := func(spool bool) (*fleetSink, []byte) {
		doc := report.NewDocument(meta)
		if spool {
			spoolFleet(doc, format, "", io.Discard)
			defer doc.Close()
		}
		sink, paths := newFleetSink(doc, nil, inputs)
		defer sink.close()
		scan.RunEach(t.Context(), paths, opts, func(o scan.Outcome) {
			sink.take(o)
			if spool && (len(doc.Inputs) != 0 || len(doc.Findings) != 0) {
				t.Errorf("after %s the document holds %d inputs and %d findings", o.Path, len(doc.Inputs), len(doc.Findings))
			}
		})
		sink.settle()
		var buf bytes.Buffer
		if err := doc.Write(&buf, format, report.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		return sink, buf.Bytes()
	}
	mem, want := run(false)
	sp, got := run(true)
	if !bytes.Equal(got, want) {
		t.Errorf("the spooled report differs from the one in memory:\n%s\nwant:\n%s", got, want)
	}
	// What the fleet is: four inputs read, the Docker storage skipped,
	// the missing archive unreadable.
	for _, s := range []*fleetSink{mem, sp} {
		skipped := 0
		for _, o := range s.failures {
			if s.skipped(o) {
				skipped++
			}
		}
		if s.read != 4 || len(s.failures) != 2 || skipped != 1 {
			t.Errorf("read %d, failed %d, skipped %d; want 4, 2, 1", s.read, len(s.failures), skipped)
		}
	}
	if format == report.JSON {
		var doc struct {
			Inputs []json.RawMessage `json:"inputs"`
		}
		if err := json.Unmarshal(got, &doc); err != nil || len(doc.Inputs) != 4 {
			t.Errorf("%d inputs in the report (%v)", len(doc.Inputs), err)
		}
	} else if !bytes.Contains(got, []byte("fleet: 4 inputs")) {
		t.Errorf("the text report does not sum up 4 inputs:\n%s", got)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the spool left %d files in the temporary folder", len(ents))
	}
}

// TestScanFleetJSONAsBefore: `strata scan --format json` over a fleet
// writes, to a file or to standard output, the bytes the evidence
// folder's report.json holds (written from the document in memory, as
// every json report was before spooling), with the same exit code (2:
// an input is unreadable), and leaves only the report beside it.
func TestScanFleetJSONAsBefore(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1711713600")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	roots, inputs, opts := spoolFleetRoot(t)
	args := []string{"scan", "--quiet", "--format", "json"}
	for _, img := range opts.Images {
		args = append(args, "--image", img)
	}

	out := t.TempDir()
	run := func(extra ...string) []byte {
		var stdout, stderr bytes.Buffer
		a := append(append(slices.Clone(args), extra...), roots...)
		if code := Run(context.Background(), testBuild, a, &stdout, &stderr); code != exitUsage {
			t.Fatalf("%v: exit %d, want %d (an unreadable input); stderr:\n%s", extra, code, exitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), "strata: skipped "+inputs[0].path) || !strings.Contains(stderr.String(), "missing.tar") {
			t.Errorf("%v: stderr does not name the skipped storage and the missing input:\n%s", extra, stderr.String())
		}
		return stdout.Bytes()
	}
	run("--evidence", filepath.Join(out, "case"))
	want, err := os.ReadFile(filepath.Join(out, "case", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	run("-o", filepath.Join(out, "fleet.json"))
	if got, err := os.ReadFile(filepath.Join(out, "fleet.json")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("-o: the report differs from the evidence folder's (%v):\n%s", err, got)
	}
	if got := run(); !bytes.Equal(got, want) {
		t.Errorf("stdout: the report differs from the evidence folder's:\n%s", got)
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "case fleet.json" {
		t.Errorf("beside the report: %v", names)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the spool left %d files in the temporary folder", len(ents))
	}
}

// A fleet's collector target is fleetGCPercent while it runs and Go's
// again after; an examiner's GOGC or GOMEMLIMIT is left alone.
func TestTuneFleetGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := tuneFleetGC()
	if got := debug.SetGCPercent(fleetGCPercent); got != fleetGCPercent {
		t.Errorf("during the fleet: GOGC %d, want %d", got, fleetGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after the fleet: GOGC %d, want 100", got)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, map[string]string{"GOGC": "200", "GOMEMLIMIT": "1GiB"}[env])
			tuneFleetGC()()
			if got := debug.SetGCPercent(100); got != 100 {
				t.Errorf("with %s set: GOGC %d, want it untouched (100)", env, got)
			}
		})
	}
}
