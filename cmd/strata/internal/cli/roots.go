package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/scan"
)

// roots are the evidence roots read as several inputs, one per storage
// (scan.Inputs), and the folders of archives listed, for the rules a scan
// and each of its shards apply alike: a storage holding none of the
// images selected (--image, --container, --platform) is skipped when
// another storage of its root holds some, as the selection was made of
// the root; when none does, each says so and the input is unusable, as
// any selection matching nothing is. A file found by listing a folder
// that is no archive at all (notes, a checksum list) is skipped too.
type roots struct {
	partOf     map[string]string // the root each input is one storage of, when it holds several
	read       map[string]bool   // the roots a storage of which was read
	fromFolder map[string]bool   // the inputs found by listing a folder the user named
}

func newRoots(inputs []scanInput) roots {
	r := roots{partOf: map[string]string{}, read: map[string]bool{}, fromFolder: map[string]bool{}}
	for _, in := range inputs {
		if in.partOf != "" {
			r.partOf[in.path] = in.partOf
		}
		if in.fromFolder {
			r.fromFolder[in.path] = true
		}
	}
	return r
}

// took records that the input path was read. Outcomes come in input
// order, so whether a storage is skipped is known only once every input
// is read.
func (r roots) took(path string) {
	if root := r.partOf[path]; root != "" {
		r.read[root] = true
	}
}

// unmatched reports whether o is a storage of an evidence root that holds
// none of the images selected.
func (r roots) unmatched(o scan.Outcome) bool {
	return r.partOf[o.Path] != "" && errors.Is(o.Err, image.ErrNoMatch)
}

// skipped reports whether the failed input o is named on stderr but is no
// input of the fleet: a stray file in a folder of archives, or a storage
// of an evidence root holding none of the images selected when another
// storage of the root was read.
func (r roots) skipped(o scan.Outcome) bool {
	return r.fromFolder[o.Path] && errors.Is(o.Err, archive.ErrUnknownFormat) ||
		r.unmatched(o) && r.read[r.partOf[o.Path]]
}

// sayFailures names on errOut, once every input is read, each failed
// input: those skipped says so, the others are unusable, and their count
// is returned (exit code 2).
func sayFailures(errOut io.Writer, failures []scan.Outcome, r roots) int {
	unusable := 0
	for _, o := range failures {
		msg := o.Err.Error()
		if r.unmatched(o) {
			// Which storage of the root it is.
			msg = o.Path + ": " + msg
		}
		if r.skipped(o) {
			// A stray file in a folder of archives (the error names
			// it), or a storage of an evidence root holding none of the
			// images selected: say so, go on.
			fmt.Fprintf(errOut, "strata: skipped %s\n", printable.String(msg))
			continue
		}
		fmt.Fprintln(errOut, "strata:", printable.String(msg))
		unusable++
	}
	return unusable
}
