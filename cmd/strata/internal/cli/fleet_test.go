package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/cobra"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/rules"
	"github.com/strata-forensics/strata/forensics/scan"
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
	if sink.read != 3 || len(sink.failures) != 2 || len(doc.Inputs) != 3 {
		t.Errorf("read %d, failed %d, reported %d", sink.read, len(sink.failures), len(doc.Inputs))
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
