package report

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// A spooled document writes the json report byte for byte as the same
// document in memory does, whatever its inputs: none, imageless ones,
// findings naming no image, a cache folder's custody, rules named by an
// input rather than by Meta, and "<", ">" and "&" in messages (which the
// report keeps unescaped).
func TestSpoolWritesTheSameJSON(t *testing.T) {
	later := func(t testing.TB) Source {
		src := cleanSource(t)
		src.Input.Path = "later.tar"
		src.Started, src.Finished = t0.Add(-time.Minute), t1.Add(time.Hour)
		return src
	}
	cases := []struct {
		name    string
		noRules bool // Meta names no rules: the first input that ran detection does
		sources func(testing.TB) []Source
	}{
		{"none", false, func(testing.TB) []Source { return nil }},
		{"one", false, one(sampleSource)},
		{"fleet", false, compromisedFleet},
		{"clean first", false, func(t testing.TB) []Source { return []Source{cleanSource(t), later(t), sampleSource(t)} }},
		{"orphan and imageless", false, func(t testing.TB) []Source {
			return []Source{orphanSource(t), imagelessSource(t), cleanSource(t)}
		}},
		{"cache", false, func(t testing.TB) []Source { return []Source{cachedSource(t), cleanSource(t)} }},
		{"rules from input", true, func(t testing.TB) []Source {
			clean := cleanSource(t)
			clean.Ruleset = nil // no detection ran
			return []Source{clean, sampleSource(t)}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			meta := testMeta(t)
			if c.noRules {
				meta.Rules = nil
			}
			want := render(t, NewDocument(meta, c.sources(t)...), JSON, TextOptions{})

			d := NewDocument(meta)
			if err := d.Spool(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, src := range c.sources(t) {
				d.Add(src)
				if len(d.Inputs) != 0 || len(d.Findings) != 0 {
					t.Fatalf("a spooled document keeps %d inputs and %d findings in memory", len(d.Inputs), len(d.Findings))
				}
			}
			got := render(t, d, JSON, TextOptions{})
			if !bytes.Equal(got, want) {
				t.Errorf("spooled json differs from the document's:\n%s\nwant:\n%s", got, want)
			}
			// Written twice, the same: the spool is read, not consumed.
			if again := render(t, d, JSON, TextOptions{}); !bytes.Equal(again, want) {
				t.Error("a second write differs")
			}
		})
	}
}

// Inputs added before Spool go to the spool too.
func TestSpoolAfterAdd(t *testing.T) {
	want := render(t, NewDocument(testMeta(t), both(t)...), JSON, TextOptions{})
	d := NewDocument(testMeta(t), sampleSource(t))
	if err := d.Spool(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Add(cleanSource(t))
	if len(d.Inputs) != 0 {
		t.Errorf("%d inputs kept in memory", len(d.Inputs))
	}
	if got := render(t, d, JSON, TextOptions{}); !bytes.Equal(got, want) {
		t.Errorf("spooled json differs from the document's:\n%s", got)
	}
}

// A spooled document writes JSON only: every other format, and the
// evidence folder, would need the inputs. Its files leave no trace in
// their folder, and it writes nothing once closed.
func TestSpoolLimits(t *testing.T) {
	dir := t.TempDir()
	d := NewDocument(testMeta(t))
	if err := d.Spool(dir); err != nil {
		t.Fatal(err)
	}
	d.Add(sampleSource(t))
	for _, f := range Formats {
		if f == JSON {
			continue
		}
		if err := d.Write(&bytes.Buffer{}, f, TextOptions{}); !errors.Is(err, ErrSpooled) {
			t.Errorf("%s: error %v, want ErrSpooled", f, err)
		}
	}
	ev := t.TempDir() + "/evidence"
	if err := d.WriteEvidence(ev); !errors.Is(err, ErrSpooled) {
		t.Errorf("evidence: error %v, want ErrSpooled", err)
	}
	if _, err := os.Stat(ev); err == nil {
		t.Error("a spooled document made an evidence folder")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the spool left %d files behind", len(ents))
	}
	if err := d.WriteJSON(&bytes.Buffer{}); err == nil {
		t.Error("a closed spool wrote a report")
	}
	// A folder the spool cannot be made in leaves the document as it was.
	d = NewDocument(testMeta(t), sampleSource(t))
	if err := d.Spool(dir + "/absent"); err == nil {
		t.Fatal("spooled into a folder that is not there")
	}
	if len(d.Inputs) != 1 || d.Write(&bytes.Buffer{}, Text, TextOptions{}) != nil {
		t.Error("a failed Spool changed the document")
	}
}

// A spool that cannot be written (a full disk) says so as soon as an
// input is added, so that a fleet can stop, and the report fails with it.
func TestSpoolErr(t *testing.T) {
	d := NewDocument(testMeta(t))
	if err := d.Spool(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SpoolErr(); err != nil {
		t.Fatalf("a fresh spool: %v", err)
	}
	d.spool.inputs.f.Close() // as a full disk would refuse the write
	d.Add(sampleSource(t))
	err := d.SpoolErr()
	if err == nil || !strings.Contains(err.Error(), "report: spool") {
		t.Fatalf("SpoolErr after a failed write: %v", err)
	}
	if werr := d.WriteJSON(&bytes.Buffer{}); !errors.Is(werr, err) && (werr == nil || werr.Error() != err.Error()) {
		t.Errorf("the report: %v, want the spool's error %v", werr, err)
	}
	if NewDocument(testMeta(t)).SpoolErr() != nil {
		t.Error("a document with no spool has a spool error")
	}
}
