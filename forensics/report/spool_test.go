package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// spoolers are the ways a document is spooled: for json, and for text
// with and without a terminal's options.
var spoolers = []struct {
	name   string
	format Format
	o      TextOptions
	spool  func(d *Document, dir string) error
}{
	{"json", JSON, TextOptions{}, func(d *Document, dir string) error { return d.Spool(dir) }},
	{"text", Text, TextOptions{}, func(d *Document, dir string) error { return d.SpoolText(dir, TextOptions{}) }},
	{"terminal", Text, TextOptions{Color: true, Width: 72}, func(d *Document, dir string) error {
		return d.SpoolText(dir, TextOptions{Color: true, Width: 72})
	}},
}

// A spooled document writes its report byte for byte as the same
// document in memory does, whatever its inputs: none, imageless ones,
// findings naming no image, a cache folder's custody, rules named by an
// input rather than by Meta, and "<", ">" and "&" in messages (which the
// report keeps unescaped); the text's fleet summary and closing verdict
// included.
func TestSpoolWritesTheSame(t *testing.T) {
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
	for _, sp := range spoolers {
		for _, c := range cases {
			t.Run(sp.name+"/"+c.name, func(t *testing.T) {
				meta := testMeta(t)
				if c.noRules {
					meta.Rules = nil
				}
				want := render(t, NewDocument(meta, c.sources(t)...), sp.format, sp.o)

				d := NewDocument(meta)
				if err := sp.spool(d, t.TempDir()); err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				for _, src := range c.sources(t) {
					d.Add(src)
					if len(d.Inputs) != 0 || len(d.Findings) != 0 {
						t.Fatalf("a spooled document keeps %d inputs and %d findings in memory", len(d.Inputs), len(d.Findings))
					}
				}
				got := render(t, d, sp.format, sp.o)
				if !bytes.Equal(got, want) {
					t.Errorf("spooled %s differs from the document's:\n%s\nwant:\n%s", sp.format, got, want)
				}
				// Written twice, the same: the spool is read, not consumed.
				if again := render(t, d, sp.format, sp.o); !bytes.Equal(again, want) {
					t.Error("a second write differs")
				}
			})
		}
	}
}

// A text report's fleet summary and closing verdict come from the
// spool's tally: a fleet long enough to repeat its verdict, with shared
// compromised layers, reads the same spooled, and Fleet says the same.
func TestSpoolTextFleet(t *testing.T) {
	var srcs []Source
	for range 4 {
		srcs = append(srcs, compromisedFleet(t)...)
	}
	mem := NewDocument(testMeta(t), srcs...)
	want := render(t, mem, Text, TextOptions{})
	if !bytes.Contains(want, []byte("layers shared by the")) || !bytes.Contains(want, []byte("\nverdict: ")) {
		t.Fatalf("the fleet's text has no shared layers or closing verdict:\n%s", want)
	}
	d := NewDocument(testMeta(t))
	if err := d.SpoolText(t.TempDir(), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, src := range srcs {
		d.Add(src)
	}
	if got := render(t, d, Text, TextOptions{}); !bytes.Equal(got, want) {
		t.Errorf("spooled text differs:\n%s\nwant:\n%s", got, want)
	}
	if got, want := fmt.Sprint(d.Fleet()), fmt.Sprint(mem.Fleet()); got != want {
		t.Errorf("Fleet of the spooled document: %s, want %s", got, want)
	}

	// Asked for with other options than it was spooled with (a terminal
	// resized during the scan), the whole report keeps the spool's: it
	// neither fails nor changes its shape halfway.
	spooled := TextOptions{Color: true, Width: 72}
	d = NewDocument(testMeta(t))
	if err := d.SpoolText(t.TempDir(), spooled); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, src := range srcs {
		d.Add(src)
	}
	want = render(t, mem, Text, spooled)
	if got := render(t, d, Text, TextOptions{Width: 100}); !bytes.Equal(got, want) {
		t.Errorf("written with other options than spooled with:\n%s\nwant:\n%s", got, want)
	}
}

// Inputs added before Spool go to the spool too.
func TestSpoolAfterAdd(t *testing.T) {
	for _, sp := range spoolers {
		t.Run(sp.name, func(t *testing.T) {
			want := render(t, NewDocument(testMeta(t), both(t)...), sp.format, sp.o)
			d := NewDocument(testMeta(t), sampleSource(t))
			if err := sp.spool(d, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			d.Add(cleanSource(t))
			if len(d.Inputs) != 0 {
				t.Errorf("%d inputs kept in memory", len(d.Inputs))
			}
			if got := render(t, d, sp.format, sp.o); !bytes.Equal(got, want) {
				t.Errorf("spooled %s differs from the document's:\n%s", sp.format, got)
			}
		})
	}
}

// A spooled document writes its own format only: every other format,
// the evidence folder, another kind of spool and, for text, other
// options would need the inputs. Its files leave no trace in their
// folder, and it writes nothing once closed.
func TestSpoolLimits(t *testing.T) {
	for _, sp := range spoolers {
		t.Run(sp.name, func(t *testing.T) {
			dir := t.TempDir()
			d := NewDocument(testMeta(t))
			if err := sp.spool(d, dir); err != nil {
				t.Fatal(err)
			}
			d.Add(sampleSource(t))
			for _, f := range Formats {
				if f == sp.format {
					continue
				}
				if err := d.Write(&bytes.Buffer{}, f, TextOptions{}); !errors.Is(err, ErrSpooled) {
					t.Errorf("%s: error %v, want ErrSpooled", f, err)
				}
			}
			if sp.format == JSON {
				if err := d.WriteText(&bytes.Buffer{}, TextOptions{}); !errors.Is(err, ErrSpooled) {
					t.Errorf("WriteText: error %v, want ErrSpooled", err)
				}
				if err := d.SpoolText(dir, TextOptions{}); !errors.Is(err, ErrSpooled) {
					t.Errorf("SpoolText after Spool: error %v, want ErrSpooled", err)
				}
			} else {
				if err := d.WriteJSON(&bytes.Buffer{}); !errors.Is(err, ErrSpooled) {
					t.Errorf("WriteJSON: error %v, want ErrSpooled", err)
				}
				if err := d.Spool(dir); !errors.Is(err, ErrSpooled) {
					t.Errorf("Spool after SpoolText: error %v, want ErrSpooled", err)
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
			if err := d.Write(&bytes.Buffer{}, sp.format, sp.o); err == nil {
				t.Error("a closed spool wrote a report")
			}
			// A folder the spool cannot be made in leaves the document as it was.
			d = NewDocument(testMeta(t), sampleSource(t))
			if err := sp.spool(d, dir+"/absent"); err == nil {
				t.Fatal("spooled into a folder that is not there")
			}
			if len(d.Inputs) != 1 || d.Write(&bytes.Buffer{}, Text, TextOptions{}) != nil {
				t.Error("a failed spool changed the document")
			}
		})
	}
}

// A spool that cannot be written (a full disk) says so as soon as an
// input is added, so that a fleet can stop, and the report fails with it.
func TestSpoolErr(t *testing.T) {
	for _, sp := range spoolers {
		t.Run(sp.name, func(t *testing.T) {
			d := NewDocument(testMeta(t))
			if err := sp.spool(d, t.TempDir()); err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.SpoolErr(); err != nil {
				t.Fatalf("a fresh spool: %v", err)
			}
			// As a full disk would refuse the write.
			if d.spool != nil {
				d.spool.inputs.f.Close()
			} else {
				d.text.file.f.Close()
			}
			d.Add(sampleSource(t))
			err := d.SpoolErr()
			if err == nil || !strings.Contains(err.Error(), "report: spool") {
				t.Fatalf("SpoolErr after a failed write: %v", err)
			}
			if werr := d.Write(&bytes.Buffer{}, sp.format, sp.o); !errors.Is(werr, err) && (werr == nil || werr.Error() != err.Error()) {
				t.Errorf("the report: %v, want the spool's error %v", werr, err)
			}
		})
	}
	if NewDocument(testMeta(t)).SpoolErr() != nil {
		t.Error("a document with no spool has a spool error")
	}
}
