package findings_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/tui/findings"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/internal/golden"
	"github.com/strata-forensics/strata/tui/styles"
)

// many is fake.XZ's findings and more, of every severity, in report
// order (not worst first), one of the image rather than a path.
func many() []finding.Finding {
	fs := fake.XZ().Findings
	for i, sev := range []finding.Severity{finding.Info, finding.Low, finding.Medium, finding.Critical} {
		fs = append(fs, finding.Finding{Rule: "r", Severity: sev, Layer: i % 3, Path: "/etc/f" + string(rune('a'+i))})
	}
	return append(fs, finding.Finding{Rule: "image-wide", Severity: finding.Medium, Layer: -1, Image: "example/xz:5.6.1"})
}

// TestGolden renders the pane at 80×20: worst first, the layer and the
// path (or the image, for a finding of the image as a whole).
func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		fs      []finding.Finding
		keys    []string
		focused bool
	}{
		{name: "xz", fs: fake.XZ().Findings, focused: true},
		{name: "many", fs: many(), keys: []string{"down", "down"}},
		{name: "none", focused: true},
		{name: "hostile", fs: fake.Hostile().Findings, focused: true},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := findings.New(tc.fs, &st)
			m.SetSize(80, 20)
			m.SetFocused(tc.focused)
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertPane(t, &m, 80, 20)
		})
	}
}

func TestWorstFirst(t *testing.T) {
	st := styles.Mono()
	m := findings.New(many(), &st)
	var got []finding.Severity
	for range m.Len() {
		f, _ := m.Selected()
		got = append(got, f.Severity)
		m, _ = m.Update(fake.Key("down"))
	}
	for i := 1; i < len(got); i++ {
		if got[i] > got[i-1] {
			t.Fatalf("severities in order %v, want worst first", got)
		}
	}
	// Equal severities keep the report's order.
	if f, _ := m.Selected(); f.Rule != "r" || f.Severity != finding.Info {
		t.Errorf("last %+v, want the info finding", f)
	}
}

// Jump asks the explorer, by message, to show the selected finding.
func TestJump(t *testing.T) {
	st := styles.Mono()
	m := findings.New(fake.XZ().Findings, &st)
	m, _ = m.Update(fake.Key("down"))
	m, cmd := m.Update(fake.Key("enter"))
	if cmd == nil {
		t.Fatal("enter gave no command")
	}
	msg, ok := cmd().(findings.JumpMsg)
	if !ok || msg.Finding.Path != "/etc/app.conf" {
		t.Fatalf("enter gave %#v, want a jump to /etc/app.conf", msg)
	}
	if _, cmd := findings.New(nil, &st).Update(fake.Key("enter")); cmd != nil {
		t.Error("enter with no findings gave a command")
	}
	if _, cmd := m.Update(fake.Key("x")); cmd != nil {
		t.Error("a key not the pane's gave a command")
	}
}

// Strings from the image reach the view in caret notation.
func TestHostileIsPrintable(t *testing.T) {
	st := styles.Mono()
	m := findings.New(fake.Hostile().Findings, &st)
	m.SetSize(120, 3)
	v := m.View()
	for _, bad := range []string{"\x1b]", "\x07", "\x1b[2J", "\x1b[31m"} {
		if strings.Contains(v, bad) {
			t.Errorf("view holds %q: %q", bad, v)
		}
	}
	if !strings.Contains(ansi.Strip(v), "evil^[]0;PWNED^G^[[31mred^[[2J") {
		t.Errorf("view %q lacks the name in caret notation", v)
	}
}
