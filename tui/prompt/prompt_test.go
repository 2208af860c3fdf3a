package prompt_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/internal/testkit/golden"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/prompt"
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
		{"bounded", strings.Repeat("a", prompt.MaxLen-1), []string{"b", "c"}, strings.Repeat("a", prompt.MaxLen-1) + "b", true},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := prompt.New("/", &st)
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

func TestClosedPromptIgnoresKeys(t *testing.T) {
	st := styles.Mono()
	m := prompt.New("/", &st)
	m, _ = m.Update(fake.Key("a"))
	if m.Value() != "" || m.Active() {
		t.Errorf("a closed prompt took a key: %q %v", m.Value(), m.Active())
	}
}

func TestViewFitsTheWidth(t *testing.T) {
	st := styles.Mono()
	m := prompt.New("extract to: ", &st)
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

// TestGolden renders the prompt on its line, 80 cells wide (one case at
// 20).
func TestGolden(t *testing.T) {
	tests := []struct {
		name, label, start string
		width              int
		keys               []string
	}{
		{name: "search", label: "/", width: 80, keys: []string{"l", "z", "m", "a"}},
		{name: "search-kept", label: "/", width: 80, keys: []string{"l", "z", "m", "a", "enter"}},
		{name: "search-dropped", label: "/", start: "lib", width: 80, keys: []string{"l", "z", "esc"}},
		{name: "extract", label: "extract to: ", start: ".", width: 80, keys: []string{"backspace", "o", "u", "t"}},
		{name: "cut-to-width", label: "extract to: ", start: ".", width: 20, keys: []string{strings.Repeat("/dir", 10)}},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := prompt.New(tc.label, &st)
			m.SetWidth(tc.width)
			m.Open(tc.start)
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertView(t, m.View(), tc.width, 1)
		})
	}
}

func TestAccepts(t *testing.T) {
	st := styles.Mono()
	m := prompt.New("/", &st)
	if m.Accepts(fake.Key("enter")) {
		t.Error("a closed prompt accepts")
	}
	m.Open("")
	if !m.Accepts(fake.Key("enter")) || m.Accepts(fake.Key("esc")) || m.Accepts(fake.Key("a")) {
		t.Error("an open prompt accepts on something other than enter")
	}
}
