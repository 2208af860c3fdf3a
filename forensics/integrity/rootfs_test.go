package integrity

import (
	"strings"
	"testing"
)

// A root filesystem's record is a note, never a failure and never
// "verified"; a file of a folder that could not be read is a problem.
func TestRootFSRecords(t *testing.T) {
	note := Problem{Kind: Unverifiable, Reason: NoLayerHistory}
	if note.Class() != "note" || note.Qualifier() != "no-layer-history" || !note.Informational() {
		t.Errorf("unverifiable: class %q qualifier %q informational %v", note.Class(), note.Qualifier(), note.Informational())
	}
	if txt := NoLayerHistory.Text(); !strings.Contains(txt, "unverifiable") || strings.Contains(txt, "verified ") {
		t.Errorf("NoLayerHistory.Text() = %q", txt)
	}
	bad := Problem{Kind: Unreadable}
	if bad.Class() != "problem" || bad.Informational() {
		t.Errorf("unreadable: class %q informational %v", bad.Class(), bad.Informational())
	}
	if r := Verdict([]Problem{note}); !r.OK || len(r.Notes) != 1 || Failing([]Problem{note}) != 0 {
		t.Errorf("Verdict(note) = %+v", r)
	}
	if r := Verdict([]Problem{note, bad}); r.OK || len(r.Problems) != 1 {
		t.Errorf("Verdict(note, unreadable) = %+v", r)
	}
}
