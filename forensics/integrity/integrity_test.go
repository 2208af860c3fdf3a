package integrity

import "testing"

func TestClassAndQualifier(t *testing.T) {
	tests := []struct {
		p             Problem
		class, qual   string
		informational bool
	}{
		{Problem{Kind: DigestMismatch}, "problem", "digest-mismatch", false},
		{Problem{Kind: MissingBlob, Platform: "linux/arm64"}, "problem", "missing-blob", false},
		{Problem{Kind: Absent, Reason: PlatformNotCarried}, "absent", "platform-not-carried", true},
		{Problem{Kind: Foreign}, "absent", "foreign-layer", true},
		{Problem{Kind: Unreferenced, Content: "legacy-v1-json"}, "unreferenced", "legacy-v1-json", true},
		{Problem{Kind: NotUnpacked, Content: "attestation"}, "note", "not-unpacked", true},
		{Problem{Kind: Defect, Reason: Docker25LayerOrder}, "note", "docker-25.0.0-layer-order", true},
	}
	for _, tt := range tests {
		if c, q, i := tt.p.Class(), tt.p.Qualifier(), tt.p.Informational(); c != tt.class || q != tt.qual || i != tt.informational {
			t.Errorf("%v: class %q qualifier %q informational %v, want %q %q %v", tt.p.Kind, c, q, i, tt.class, tt.qual, tt.informational)
		}
	}
	r := Verdict([]Problem{tests[0].p, tests[2].p, tests[4].p, tests[5].p})
	if r.OK || len(r.Problems) != 1 || len(r.Absent) != 1 || len(r.Unreferenced) != 1 || len(r.Notes) != 1 || len(r.Records()) != 4 {
		t.Errorf("Verdict sorted %+v", r)
	}
}
