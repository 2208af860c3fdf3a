package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strata-forensics/strata/forensics/finding"
)

// A fleet's json report cannot be written to its destination input by
// input: "started", "finished", "verdict" and the custody's "cache" come
// before "inputs" and sum up every input. So that a fleet's report is not
// held in memory until its last input is read, a spooled document writes
// each input's entry of "inputs", and its findings' entries of
// "findings", to files as the input is added, keeps only the sums, and
// writes the document from them at the end: the same bytes as the
// document in memory would give.

// ErrSpooled is returned when a document whose inputs were spooled is
// asked for another format than the one spooled, or one that keeps only
// its last input (LinesOnly) for any report: either would need the inputs
// in memory.
var ErrSpooled = errors.New("the inputs were kept for another format only")

// Spool makes d keep its inputs and findings, the JSON of them, in files
// created in dir rather than in memory: each input Add describes from now
// on (and any added before) is encoded at once, and d keeps only what the
// document-level fields sum up. WriteJSON then writes what it would have
// written of every input in memory, byte for byte; every other format,
// and the evidence folder, need the inputs and fail with ErrSpooled.
//
// The files are unlinked as soon as they are created where the system
// allows it, so that a scan killed part-way leaves nothing behind; Close
// removes them otherwise. On an error d is left as it was, keeping its
// inputs in memory.
func (d *Document) Spool(dir string) error {
	if d.spool != nil {
		return nil
	}
	if d.text != nil {
		return fmt.Errorf("report: spool: json: %w", ErrSpooled)
	}
	s := &jsonSpool{}
	for _, sf := range []*spoolFile{&s.inputs, &s.findings} {
		if err := sf.create(dir); err != nil {
			s.close()
			return fmt.Errorf("report: spool: %w", err)
		}
	}
	for i := range d.Inputs {
		s.addInput(&d.Inputs[i])
	}
	if s.err != nil {
		s.close()
		return s.err
	}
	// d.Findings are the inputs' own, in the same order.
	d.Inputs, d.Findings, d.spool = []Input{}, []finding.Finding{}, s
	return nil
}

// SpoolErr is the first error writing d's spool (a full disk), nil when
// there is none: the report will fail with it, so a fleet can stop at once
// rather than read every input first.
func (d *Document) SpoolErr() error {
	switch {
	case d.spool != nil:
		return d.spool.err
	case d.text != nil:
		return d.text.err
	}
	return nil
}

// Close removes the spool's files, if d has one; d can write nothing
// after.
func (d *Document) Close() error {
	switch {
	case d.spool != nil:
		return d.spool.close()
	case d.text != nil:
		return d.text.close()
	}
	return nil
}

// spooled reports whether d's inputs were spooled for another format
// than f, or are not kept at all (LinesOnly).
func (d *Document) spooled(f Format) bool {
	return (d.spool != nil && f != JSON) || (d.text != nil && f != Text) || d.linesOnly
}

// jsonSpool holds the entries of the "inputs" and "findings" arrays, each
// as the whole document's encoding indents it.
type jsonSpool struct {
	inputs, findings spoolFile
	buf              bytes.Buffer // one entry, reused
	// err is the first error writing an entry (a full disk); the report
	// fails with it.
	err    error
	closed bool
}

// spoolFile is one array's entries, each preceded by a comma but the
// first, and by the new line and indentation of an entry.
type spoolFile struct {
	f    *os.File
	size int64
	n    int    // entries
	name string // removed on close when it could not be unlinked when created (Windows)
}

func (sf *spoolFile) create(dir string) error {
	f, err := os.CreateTemp(dir, ".strata-report.spool-*")
	if err != nil {
		return err
	}
	sf.f = f
	if os.Remove(f.Name()) != nil {
		sf.name = f.Name()
	}
	return nil
}

// Write appends to the file.
func (sf *spoolFile) Write(b []byte) (int, error) {
	n, err := sf.f.Write(b)
	sf.size += int64(n)
	return n, err
}

// copyTo writes what the file holds.
func (sf *spoolFile) copyTo(w io.Writer) error {
	if _, err := io.Copy(w, io.NewSectionReader(sf.f, 0, sf.size)); err != nil {
		return fmt.Errorf("report: spool: %w", err)
	}
	return nil
}

// close closes the file and removes it if it was not unlinked.
func (sf *spoolFile) close() error {
	if sf.f == nil {
		return nil
	}
	err := sf.f.Close()
	if sf.name != "" {
		err = errors.Join(err, os.Remove(sf.name))
	}
	sf.f = nil
	return err
}

// The entries of the document's arrays are two levels deep.
const entryIndent = "    "

func (s *jsonSpool) addInput(in *Input) {
	s.add(&s.inputs, in)
	for i := range in.Findings {
		s.add(&s.findings, &in.Findings[i])
	}
}

func (s *jsonSpool) add(sf *spoolFile, v any) {
	if s.err != nil {
		return
	}
	s.buf.Reset()
	if sf.n > 0 {
		s.buf.WriteByte(',')
	}
	s.buf.WriteString("\n" + entryIndent)
	enc := json.NewEncoder(&s.buf)
	// As writeJSON, for an entry nested two levels deep: a compact
	// encoding indented with this prefix is what the whole document's
	// indentation gives it.
	enc.SetIndent(entryIndent, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.err = fmt.Errorf("report: json: %w", err)
		return
	}
	b := bytes.TrimSuffix(s.buf.Bytes(), []byte("\n")) // Encode's own
	if _, err := sf.Write(b); err != nil {
		s.err = fmt.Errorf("report: spool: %w", err)
		return
	}
	sf.n++
}

// docTail is how the encoding of a document with no input ends: the two
// arrays the spool holds are its last fields.
const docTail = "  \"inputs\": [],\n  \"findings\": []\n}\n"

// writeJSON writes d, whose arrays are empty in memory, with the spooled
// entries in them.
func (s *jsonSpool) writeJSON(w io.Writer, d *Document) error {
	if s.closed {
		return errors.New("report: json: the spool is closed")
	}
	if s.err != nil {
		return s.err
	}
	var head bytes.Buffer
	if err := writeJSON(&head, d); err != nil {
		return err
	}
	h, ok := bytes.CutSuffix(head.Bytes(), []byte(docTail))
	if !ok {
		// Only a change to Document's fields can do this; every test
		// of a spooled report says so.
		return errors.New("report: json: inputs and findings are not the document's last fields")
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	if err := s.inputs.writeArray(w, `  "inputs": `); err != nil {
		return err
	}
	if err := s.findings.writeArray(w, ",\n  \"findings\": "); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n}\n")
	return err
}

// writeArray writes the array's key and the array, as encoding/json
// indents it: "[]" when empty.
func (sf *spoolFile) writeArray(w io.Writer, key string) error {
	if sf.n == 0 {
		_, err := io.WriteString(w, key+"[]")
		return err
	}
	if _, err := io.WriteString(w, key+"["); err != nil {
		return err
	}
	if err := sf.copyTo(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n  ]")
	return err
}

func (s *jsonSpool) close() error {
	s.closed = true
	return errors.Join(s.inputs.close(), s.findings.close())
}
