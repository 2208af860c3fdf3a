package report

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/strata-forensics/strata/forensics/finding"
)

// A fleet's text report ends with what sums up every input (the cache,
// the fleet's table, the verdict), but its inputs' sections need nothing
// of the inputs after them. A text-spooled document writes each input's
// section to a file as the input is added, with the options the report
// will be written with, and keeps only the fleet's tally: WriteText then
// copies the file and writes the end, the same bytes as the document in
// memory would give, whatever the number of inputs.

// SpoolText makes d keep its inputs as the text WriteText, called with o,
// writes of them, in a file created in dir, rather than in memory: each
// input Add describes from now on (and any added before) is written at
// once, and d keeps only the fleet's tally. WriteText with o then writes
// what it would have written from the inputs in memory, byte for byte;
// every other format, and the evidence folder, fail with ErrSpooled. The
// file is unlinked as Spool's are; Close removes it otherwise. On an
// error d is left as it was, keeping its inputs in memory.
//
// The whole report is written with o, whatever options WriteText is
// given then: the sections were fitted to o as the inputs came, and a
// terminal resized during a long scan must not make the report fail or
// change its shape halfway.
func (d *Document) SpoolText(dir string, o TextOptions) error {
	if d.text != nil {
		return nil
	}
	if d.spool != nil {
		return fmt.Errorf("report: spool: text: %w", ErrSpooled)
	}
	s := &textSpool{o: o, tally: newFleetTally()}
	if err := s.file.create(dir); err != nil {
		return fmt.Errorf("report: spool: %w", err)
	}
	s.cw = countingWriter{w: bufio.NewWriter(&s.file)}
	for i := range d.Inputs {
		s.addInput(&d.Inputs[i])
	}
	if s.err != nil {
		s.close()
		return s.err
	}
	d.Inputs, d.Findings, d.text = []Input{}, []finding.Finding{}, s
	return nil
}

// textSpool holds the text of the inputs' sections and the fleet's tally.
type textSpool struct {
	file  spoolFile
	o     TextOptions
	cw    countingWriter // writes to file, counting the lines
	tally *fleetTally
	// err is the first error writing a section (a full disk); the report
	// fails with it.
	err    error
	closed bool
}

func (s *textSpool) addInput(in *Input) {
	if s.err != nil {
		return
	}
	writeInputText(&s.cw, in, s.o)
	s.tally.add(in)
	// Flushed input by input, so that a full disk is known at once
	// (SpoolErr) rather than when the report is written.
	if s.cw.err == nil {
		s.cw.err = s.cw.w.Flush()
	}
	if s.cw.err != nil {
		s.err = fmt.Errorf("report: spool: %w", s.cw.err)
	}
}

// copyTo writes the inputs' sections to cw and counts their lines.
func (s *textSpool) copyTo(cw *countingWriter) error {
	switch {
	case s.closed:
		return errors.New("report: text: the spool is closed")
	case s.err != nil:
		return s.err
	}
	if err := s.file.copyTo(cw.w); err != nil {
		return err
	}
	cw.lines += s.cw.lines
	return nil
}

func (s *textSpool) close() error {
	s.closed = true
	return s.file.close()
}
