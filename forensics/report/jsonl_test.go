package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// jsonlSchema compiles the bundled line schema alone, as a consumer that
// was handed `strata scan --print-schema --format jsonl` would: the report
// schema's definitions must resolve from inside it.
func jsonlSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	b, err := JSONLSchema()
	if err != nil {
		t.Fatal(err)
	}
	return compileSchema(t, "strata.jsonl.v1.json", b, "")
}

// lines splits JSON Lines output, checking that every line ends with a
// newline and holds no other.
func lines(t testing.TB, out []byte) [][]byte {
	t.Helper()
	if len(out) == 0 {
		return nil
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		t.Fatalf("output does not end with a newline: %q", out)
	}
	return bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
}

// orphanSource is sampleSource with a finding about an unreferenced blob,
// which names no image of the input.
func orphanSource(t testing.TB) Source {
	src := sampleSource(t)
	src.Findings = append(src.Findings, finding.Finding{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.High,
		Image: "blob sha256:" + sha("orphan"), Layer: -1, Path: "/usr/lib/liblzma.so.5", Message: "in a blob no image refers to"})
	finding.Sort(src.Findings)
	return src
}

// imagelessSource is an input from which no image could be read.
func imagelessSource(t testing.TB) Source {
	src := sampleSource(t)
	src.Images = nil
	src.Findings = nil
	src.Problems = []integrity.Problem{{Blob: "manifest.json", Kind: integrity.BadJSON, Detail: "unexpected end of JSON input"}}
	return src
}

func TestJSONLSchema(t *testing.T) {
	sch := jsonlSchema(t)
	cases := []struct {
		name    string
		sources func(testing.TB) []Source
		records []string // the record of each line, in order
	}{
		{"findings", one(sampleSource), []string{RecordImage, RecordImage}},
		{"clean", one(cleanSource), []string{RecordImage}},
		{"fleet", both, []string{RecordImage, RecordImage, RecordImage}},
		{"compromised fleet", compromisedFleet, []string{RecordImage, RecordImage, RecordImage, RecordImage, RecordImage}},
		{"finding of no image", one(orphanSource), []string{RecordImage, RecordImage, RecordInput}},
		{"no image read", one(imagelessSource), []string{RecordInput}},
		{"no ruleset", func(t testing.TB) []Source {
			r := cleanSource(t)
			r.Ruleset = nil
			return []Source{r}
		}, []string{RecordImage}},
		{"no inputs", func(testing.TB) []Source { return nil }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDocument(testMeta(t), c.sources(t)...)
			ls := lines(t, render(t, d, JSONL, TextOptions{}))
			if len(ls) != len(c.records) {
				t.Fatalf("%d lines, want %d", len(ls), len(c.records))
			}
			findings := 0
			for i, l := range ls {
				if err := validate(t, sch, l); err != nil {
					t.Fatalf("line %d does not validate: %v\n%s", i+1, err, l)
				}
				var got struct {
					Record   string            `json:"record"`
					Findings []json.RawMessage `json:"findings"`
				}
				if err := json.Unmarshal(l, &got); err != nil {
					t.Fatal(err)
				}
				if got.Record != c.records[i] {
					t.Errorf("line %d is a %q record, want %q", i+1, got.Record, c.records[i])
				}
				findings += len(got.Findings)
			}
			// Every finding is in exactly one line: a SIEM counting
			// findings over the lines counts the report's.
			if findings != len(d.Findings) {
				t.Errorf("%d findings over the lines, %d in the report", findings, len(d.Findings))
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		var buf bytes.Buffer
		d := NewDocument(testMeta(t))
		if err := d.WriteUnreadableJSONL(&buf, "evidence/damaged.tar", errors.New("offset 0: not a readable tar archive")); err != nil {
			t.Fatal(err)
		}
		ls := lines(t, buf.Bytes())
		if len(ls) != 1 {
			t.Fatalf("%d lines", len(ls))
		}
		if err := validate(t, sch, ls[0]); err != nil {
			t.Fatalf("does not validate: %v\n%s", err, ls[0])
		}
	})
}

// TestJSONLSchemaRejects proves the line schema can fail, in the ways a
// SIEM parser would trip on.
func TestJSONLSchemaRejects(t *testing.T) {
	sch := jsonlSchema(t)
	good := lines(t, render(t, NewDocument(testMeta(t), sampleSource(t)), JSONL, TextOptions{}))[0]
	cases := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"wrong schema id", func(m map[string]any) { m["schema"] = "strata.report/v1" }},
		{"unknown record", func(m map[string]any) { m["record"] = "layer" }},
		{"image record without image", func(m map[string]any) { m["image"] = nil }},
		{"input record with image", func(m map[string]any) { m["record"] = "input" }},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }},
		{"no verdict", func(m map[string]any) { delete(m, "verdict") }},
		{"unknown status", func(m map[string]any) { m["verdict"].(map[string]any)["status"] = "fine" }},
		{"unknown integrity status", func(m map[string]any) { m["integrity"].(map[string]any)["status"] = "ok" }},
		{"layer without digest", func(m map[string]any) {
			delete(m["image"].(map[string]any)["layers"].([]any)[0].(map[string]any), "digest")
		}},
		{"bad severity", func(m map[string]any) { m["findings"].([]any)[0].(map[string]any)["severity"] = "severe" }},
		{"short input sha256", func(m map[string]any) { m["input"].(map[string]any)["sha256"] = "abc" }},
		{"bad timestamp", func(m map[string]any) { m["finished"] = "later" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			c.mutate(m)
			bad, _ := json.Marshal(m)
			if err := validate(t, sch, bad); err == nil {
				t.Fatal("the schema accepts a broken line")
			}
		})
	}
}

// Each line is the report's own objects under the same names: a reader of
// the JSON report reads the lines.
func TestJSONLMatchesReport(t *testing.T) {
	d := NewDocument(testMeta(t), compromisedFleet(t)...)
	var rep struct {
		Inputs []struct {
			Input    json.RawMessage   `json:"input"`
			Images   []json.RawMessage `json:"images"`
			Coverage json.RawMessage   `json:"coverage"`
		} `json:"inputs"`
		Ruleset json.RawMessage `json:"ruleset"`
		Tool    json.RawMessage `json:"tool"`
	}
	if err := json.Unmarshal(render(t, d, JSON, TextOptions{}), &rep); err != nil {
		t.Fatal(err)
	}
	k := 0
	ls := lines(t, render(t, d, JSONL, TextOptions{}))
	for i, in := range rep.Inputs {
		for j, img := range in.Images {
			var l map[string]json.RawMessage
			if err := json.Unmarshal(ls[k], &l); err != nil {
				t.Fatal(err)
			}
			k++
			for name, want := range map[string]json.RawMessage{"image": img, "input": in.Input, "coverage": in.Coverage, "ruleset": rep.Ruleset, "tool": rep.Tool} {
				if !jsonEqual(t, l[name], want) {
					t.Errorf("input %d image %d: %q differs from the report's", i, j, name)
				}
			}
			var v Verdict
			if err := json.Unmarshal(l["verdict"], &v); err != nil {
				t.Fatal(err)
			}
			if want := d.Inputs[i].ImageVerdict(&d.Inputs[i].Images[j]); v.Status != want.Status || v.Findings != want.Findings || v.Problems != want.Problems {
				t.Errorf("input %d image %d: verdict %+v, the text says %+v", i, j, v, want)
			}
		}
	}
	if k != len(ls) {
		t.Errorf("%d lines for %d images", len(ls), k)
	}
}

// WriteInputJSONL writes one input's lines only, each in one Write: a
// reader of a pipe never sees half of one line before another's.
func TestJSONLOneWritePerLine(t *testing.T) {
	d := NewDocument(testMeta(t), both(t)...)
	var w recordingWriter
	if err := d.WriteInputJSONL(&w, 1); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 || !strings.Contains(w.writes[0], `"path":"clean.tar"`) || strings.Count(w.writes[0], "\n") != 1 {
		t.Errorf("writes %q", w.writes)
	}
	if err := d.WriteInputJSONL(&w, 2); err == nil {
		t.Error("no error for an input that was never added")
	}
}

type recordingWriter struct{ writes []string }

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// A document that keeps only its last input (LinesOnly), its lines
// written as each input is added, writes the lines of the document that
// keeps them all, with the same verdict, while holding one input; it
// writes no other report.
func TestLinesOnly(t *testing.T) {
	var srcs []Source
	for range 3 {
		srcs = append(srcs, compromisedFleet(t)...)
	}
	srcs = append(srcs, cleanSource(t), orphanSource(t), imagelessSource(t))
	stream := func(d *Document) []byte {
		var b bytes.Buffer
		for _, src := range srcs {
			d.Add(src)
			if err := d.WriteInputJSONL(&b, len(d.Inputs)-1); err != nil {
				t.Fatal(err)
			}
		}
		return b.Bytes()
	}
	all := NewDocument(testMeta(t))
	want := stream(all)
	last := NewDocument(testMeta(t))
	last.LinesOnly()
	got := stream(last)
	if !bytes.Equal(got, want) {
		t.Errorf("the lines differ:\n%s\nwant:\n%s", got, want)
	}
	if len(last.Inputs) != 1 || len(last.Findings) != len(last.Inputs[0].Findings) {
		t.Errorf("holds %d inputs and %d findings, want the last input's", len(last.Inputs), len(last.Findings))
	}
	if fmt.Sprint(last.Verdict) != fmt.Sprint(all.Verdict) || !last.Started.Equal(all.Started) || !last.Finished.Equal(all.Finished) {
		t.Errorf("sums %+v %v %v, want %+v %v %v", last.Verdict, last.Started, last.Finished, all.Verdict, all.Started, all.Finished)
	}
	for _, f := range Formats {
		if err := last.Write(&bytes.Buffer{}, f, TextOptions{}); !errors.Is(err, ErrSpooled) {
			t.Errorf("%s: error %v, want ErrSpooled", f, err)
		}
	}
	if err := last.WriteEvidence(t.TempDir() + "/evidence"); !errors.Is(err, ErrSpooled) {
		t.Errorf("evidence: error %v, want ErrSpooled", err)
	}
	// Asked for after inputs were added, it keeps the last of them.
	d := NewDocument(testMeta(t), srcs...)
	d.LinesOnly()
	if len(d.Inputs) != 1 || d.Inputs[0].Input.Path != all.Inputs[len(all.Inputs)-1].Input.Path {
		t.Errorf("LinesOnly after Add kept %d inputs", len(d.Inputs))
	}
}
