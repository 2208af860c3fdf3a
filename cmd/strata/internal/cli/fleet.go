package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// fleetSink takes each input's outcome as scan.RunEach hands it over, in
// input order, as soon as the input and those before it are read: it adds
// the input to the report, writes its JSON lines at once when the format
// is jsonl (a SIEM sees each image as it is judged, not when the whole
// fleet is), and moves the fleet's progress on.
type fleetSink struct {
	doc *report.Document
	// lines receives the JSON lines; nil unless --format jsonl.
	lines io.Writer
	// lineErr is the first error writing lines (a closed pipe, a full
	// disk); no line is written after it, and the scan ends with it.
	lineErr error
	prog    *progress // nil when not on a terminal
	roots   roots
	// stop ends the scan early with the report's first write error (the
	// lines', or the json spool's): the report is lost whatever else is
	// read, and a fleet of thousands of inputs would read them all first.
	stop    func(error)
	stopped error
	dest    string // the report's file, "" for standard output

	// open are the inputs read. They stay open to the end: later inputs
	// compare their copies of shared blobs with earlier inputs' bytes
	// (scan.Memo), and the evidence folder copies files out of them.
	open     []*scan.Result
	failures []scan.Outcome
	read     int
	total    int // inputs
}

// newFleetSink makes the sink of the inputs' outcomes, and the inputs'
// paths for scan.RunEach.
func newFleetSink(doc *report.Document, prog *progress, inputs []scanInput) (*fleetSink, []string) {
	s := &fleetSink{doc: doc, prog: prog, roots: newRoots(inputs), total: len(inputs)}
	paths := make([]string, len(inputs))
	for i, in := range inputs {
		paths[i] = in.path
	}
	return s, paths
}

func (s *fleetSink) take(o scan.Outcome) {
	defer s.stopOnWriteError() // an unreadable input's line can fail to write too
	if s.prog != nil {
		s.prog.finished(o.Path)
	}
	if o.Err != nil {
		s.failures = append(s.failures, o)
		if s.unmatchedPart(o) {
			return // its line, if it is one, when every storage of its root is read (settle)
		}
		// An input cut short by an interrupt is not unreadable: the scan
		// ends with exit code 2 and says so; its line would be wrong.
		if !s.skipped(o) && !errors.Is(o.Err, context.Canceled) && !errors.Is(o.Err, context.DeadlineExceeded) {
			s.writeLines(func(w io.Writer) error { return s.doc.WriteUnreadableJSONL(w, o.Path, o.Err) })
		}
		return
	}
	s.read++
	s.roots.took(o.Path)
	// Each input is added to the report as soon as it and the ones before
	// it are read, and its trees are released then: a fleet holds one
	// input's trees at a time (plus the bases they share), not all of
	// them. A json report alone keeps not even the input's entry in
	// memory (spoolFleet).
	s.doc.Add(o.Result.ReportSource())
	o.Result.Release()
	s.open = append(s.open, o.Result)
	s.writeLines(func(w io.Writer) error { return s.doc.WriteInputJSONL(w, len(s.doc.Inputs)-1) })
}

// stopOnWriteError stops the scan at the report's first write error.
func (s *fleetSink) stopOnWriteError() {
	if s.stopped != nil || s.stop == nil {
		return
	}
	err := s.doc.SpoolErr()
	if s.lineErr != nil {
		err = fmt.Errorf("--format jsonl: %w", s.lineErr)
	}
	if err != nil {
		report := "the report"
		if s.dest != "" {
			report += " " + s.dest
		}
		s.stopped = fmt.Errorf("scan: stopped after %d of %d inputs: %s cannot be written: %w", s.read, s.total, report, err)
		s.stop(s.stopped)
	}
}

func (s *fleetSink) writeLines(write func(io.Writer) error) {
	if s.lines == nil || s.lineErr != nil {
		return
	}
	s.lineErr = write(s.lines)
}

// skipped reports whether a failed input is named on stderr but is no
// input of the fleet (roots.skipped).
func (s *fleetSink) skipped(o scan.Outcome) bool { return s.roots.skipped(o) }

// unmatchedPart reports whether o is a storage of an evidence root that
// holds none of the images selected.
func (s *fleetSink) unmatchedPart(o scan.Outcome) bool { return s.roots.unmatched(o) }

// settle writes, once every input is read, the lines of the storages
// that held none of the images selected, as no other storage of their
// root held any either: the selection matched nothing there.
func (s *fleetSink) settle() {
	for _, o := range s.failures {
		if s.unmatchedPart(o) && !s.skipped(o) {
			s.writeLines(func(w io.Writer) error { return s.doc.WriteUnreadableJSONL(w, o.Path, o.Err) })
		}
	}
}

// close closes the inputs read.
func (s *fleetSink) close() {
	for _, r := range s.open {
		r.Close()
	}
}

// spoolFleet keeps a fleet's report, when it is json or text and the
// only output, out of memory: each input's entry (json) or section (text)
// goes to a spool file as the input is added, and the report is written
// from the spool and the sums at the end, to its temporary name and then
// renamed, as any report. (It cannot go to its destination input by
// input: json's fields before "inputs" sum up every input, and a report
// half-written must not be left under its name.) The spool goes beside
// the report, on the disk the examiner chose for it, rather than in a
// temporary folder that may be memory (tmpfs); standard output's goes to
// the temporary folder. The spool's files are unlinked at once: a scan
// killed part-way leaves nothing behind. Where no spool can be made the
// report stays in memory, as it was: the same bytes, only more memory.
func spoolFleet(doc *report.Document, format report.Format, output string, out io.Writer) {
	dir := os.TempDir()
	if output != "" {
		dir = filepath.Dir(output)
	}
	switch format {
	case report.JSON:
		_ = doc.Spool(dir)
	case report.Text:
		_ = doc.SpoolText(dir, textOptions(output, out))
	}
}

// fleetGCPercent is the collector's target (GOGC) for a scan of several
// inputs. A fleet holds its shared base (its layers' entries and tree)
// from its first inputs to its last, and Go's default lets the heap grow
// to twice what is live before collecting: the 20-image bench fleet,
// whose live heap is what one of its images holds at its end, peaked some
// 20 MB above that image alone, which exits before its heap doubles. At
// 50 the fleet peaks at 62-66 MB rather than 68-77 (one image: 54-56),
// for the same CPU time within the runs' noise, measured alternated: the
// base is marked more often, but it is a small share of a scan's work
// next to decompressing and hashing. A scan of one input keeps Go's
// default: its live heap grows as it reads, and collecting more often
// costs it time (2-3% on the bench image).
const fleetGCPercent = 50

// tuneFleetGC sets the collector's target for a fleet, unless the
// examiner set GOGC (or GOMEMLIMIT, which paces the collector itself),
// and returns what restores it.
func tuneFleetGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(fleetGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
