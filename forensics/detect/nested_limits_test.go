package detect

import (
	"reflect"
	"testing"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// A nested archive left partly unread by a bound ordinary images reach
// (Info) is a degraded note naming its layer, or its path when no layer
// digest is known; a bound only hostile input reaches (Low) and every
// other finding stay findings, in their order. The note's text is part of
// every report, so it is pinned whole.
func TestUnreadNotes(t *testing.T) {
	const layer = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	bytesHit := finding.Finding{Rule: LimitRulePrefix + limitBytes, Kind: finding.Nested, Severity: finding.Info,
		Path: "/opt/app.jar", LayerDigest: layer, Message: "inside app.jar: " + limitMessage(limitBytes), Evidence: "at lib/big.zip: nested byte budget 64 reached"}
	membersHit := finding.Finding{Rule: LimitRulePrefix + limitMembers, Kind: finding.Nested, Severity: finding.Info,
		Path: "/many.zip", Message: "inside many.zip: " + limitMessage(limitMembers), Evidence: "at f100000: member limit 100000 reached"}
	depth := finding.Finding{Rule: LimitRulePrefix + limitDepth, Kind: finding.Nested, Severity: finding.Low, Path: "/deep.tar.gz", LayerDigest: layer}
	info := finding.Finding{Rule: "some-info-rule", Severity: finding.Info, Path: "/etc/x"}
	high := finding.Finding{Rule: prologueRule, Severity: finding.High, Path: "/usr/lib/liblzma.so.5"}

	kept, notes := unreadNotes([]finding.Finding{high, bytesHit, depth, membersHit, info})
	if want := []finding.Finding{high, depth, info}; !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %+v, want %+v", kept, want)
	}
	want := []integrity.Problem{
		{Blob: layer, Kind: integrity.Degraded, Detail: "/opt/app.jar: inside app.jar: " + limitMessage(limitBytes) + " (at lib/big.zip: nested byte budget 64 reached)"},
		{Blob: "/many.zip", Kind: integrity.Degraded, Detail: "/many.zip: inside many.zip: " + limitMessage(limitMembers) + " (at f100000: member limit 100000 reached)"},
	}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("notes %+v,\nwant %+v", notes, want)
	}
}
