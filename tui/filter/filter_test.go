package filter_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/filter"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

func TestEditing(t *testing.T) {
	tests := []struct {
		name   string
		start  string
		keys   []string
		value  string
		active bool
	}{
		{"typing", "", []string{"l", "z", "m", "a"}, "lzma", true},
		{"starts from the query", "lib", []string{"l", "z"}, "liblz", true},
		{"enter keeps it", "", []string{"s", "s", "h", "enter"}, "ssh", false},
		{"esc drops it", "lib", []string{"x", "esc"}, "", false},
		{"backspace", "lzma", []string{"backspace", "backspace"}, "lz", true},
		{"backspace takes a whole rune", "é€", []string{"backspace"}, "é", true},
		{"backspace on empty", "", []string{"backspace", "a"}, "a", true},
		{"ctrl+u clears", "liblzma", []string{"ctrl+u", "x"}, "x", true},
		{"control characters dropped", "", []string{"a\x1b[2Jb\x7f"}, "a[2Jb", true},
		{"pasted text", "", []string{"usr/lib"}, "usr/lib", true},
		{"bounded", strings.Repeat("a", filter.MaxLen-1), []string{"b", "c"}, strings.Repeat("a", filter.MaxLen-1) + "b", true},
	}
	st, km := styles.Mono(), keys.Default()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := filter.New("/", &st, &km)
			m.Open(tc.start)
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			if m.Value() != tc.value || m.Active() != tc.active {
				t.Errorf("value %q active %v, want %q %v", m.Value(), m.Active(), tc.value, tc.active)
			}
		})
	}
}

func TestClosedBoxIgnoresKeys(t *testing.T) {
	st, km := styles.Mono(), keys.Default()
	m := filter.New("/", &st, &km)
	m, _ = m.Update(fake.Key("a"))
	if m.Value() != "" || m.Active() {
		t.Errorf("a closed box took a key: %q %v", m.Value(), m.Active())
	}
}

func TestViewFitsTheWidth(t *testing.T) {
	st, km := styles.Mono(), keys.Default()
	m := filter.New("extract to: ", &st, &km)
	m.SetWidth(20)
	m.Open(strings.Repeat("x", 100))
	v := m.View()
	if w := ansi.StringWidth(v); w > 20 {
		t.Errorf("view %q is %d cells wide, more than 20", ansi.Strip(v), w)
	}
	if !strings.HasPrefix(ansi.Strip(v), "extract to: x") {
		t.Errorf("view %q lacks the prompt", ansi.Strip(v))
	}
}
