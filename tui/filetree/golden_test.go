package filetree_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/internal/golden"
	"github.com/strata-forensics/strata/tui/styles"
)

// TestGolden renders the pane at 80×20 over fake.XZ, at a layer, with a
// path selected, after keys.
func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		layer   int // -1: the last
		sel     string
		keys    string
		focused bool
	}{
		{name: "final", layer: -1, focused: true},
		{name: "unfocused", layer: -1, sel: "/etc/app.conf"},
		{name: "layer-0", layer: 0, keys: "down down down right", focused: true},
		{name: "layer-1-changes", layer: 1, keys: "c", focused: true},
		{name: "deleted-but-shipped", layer: -1, keys: "D", focused: true},
		{name: "show-deleted", layer: -1, sel: "/tmp/build.sh", keys: "H", focused: true},
		{name: "setuid", layer: -1, keys: "u", focused: true},
		{name: "by-size", layer: -1, sel: "/usr/bin/passwd", keys: "s", focused: true},
		{name: "opened-selection", layer: -1, sel: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", focused: true},
		{name: "nothing-to-show", layer: -1, keys: "c u", focused: true},
	}
	img := fake.XZ()
	var paths []string
	for _, f := range img.Findings {
		paths = append(paths, f.Path)
	}
	ix := filetree.NewIndex(img.Tree, paths)
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := filetree.New(ix, &st)
			m.SetSize(80, 20)
			m.SetFocused(tc.focused)
			if tc.layer >= 0 {
				m.SetLayer(tc.layer)
			}
			if tc.sel != "" && !m.Select(tc.sel) {
				t.Fatalf("Select(%s) failed", tc.sel)
			}
			for _, k := range strings.Fields(tc.keys) {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertPane(t, &m, 80, 20)
		})
	}
}

// The filter and order keys are the pane's: each toggles its part of the
// filter, the size key cycles its thresholds, the sort key the orders.
func TestFilterKeys(t *testing.T) {
	tests := []struct {
		keys string
		want filetree.Filter
		by   filetree.SortBy
	}{
		{"c", filetree.Filter{Changed: true}, filetree.ByName},
		{"c c", filetree.Filter{}, filetree.ByName},
		{"f D u H", filetree.Filter{Findings: true, DeletedShipped: true, Setuid: true, ShowDeleted: true}, filetree.ByName},
		{"z", filetree.Filter{MinSize: 1 << 20}, filetree.ByName},
		{"z z z", filetree.Filter{MinSize: 100 << 20}, filetree.ByName},
		{"z z z z", filetree.Filter{}, filetree.ByName},
		{"s", filetree.Filter{}, filetree.BySize},
		{"s s s", filetree.Filter{}, filetree.ByName},
	}
	img := fake.XZ()
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.keys, func(t *testing.T) {
			m := filetree.New(filetree.NewIndex(img.Tree, nil), &st)
			for _, k := range strings.Fields(tc.keys) {
				m, _ = m.Update(fake.Key(k))
			}
			if m.Filter() != tc.want || m.Sort() != tc.by {
				t.Errorf("filter %+v by %s, want %+v by %s", m.Filter(), m.Sort(), tc.want, tc.by)
			}
		})
	}
	m := filetree.New(filetree.NewIndex(img.Tree, nil), &st)
	for _, b := range m.KeyMap.Filters() {
		if len(b.Keys()) == 0 {
			t.Errorf("filter binding %q has no key", b.Help().Desc)
		}
	}
}

// Open and Toggle fold the folder under the cursor, as ToggleSelected
// does; on a file they do nothing.
func TestToggleSelected(t *testing.T) {
	img := fake.XZ()
	st := styles.Mono()
	m := filetree.New(filetree.NewIndex(img.Tree, nil), &st)
	m.SetSize(80, 20)
	rows := m.Rows()
	m.ToggleSelected()
	if m.Rows() != rows+1 { // /app opens on run.sh
		t.Fatalf("%d rows after ToggleSelected on /app, want %d", m.Rows(), rows+1)
	}
	m, _ = m.Update(fake.Key("enter"))
	if m.Rows() != rows {
		t.Fatalf("%d rows after enter on the open /app, want %d", m.Rows(), rows)
	}
	m, _ = m.Update(fake.Key("space"))
	m, _ = m.Update(fake.Key("down"))
	m, _ = m.Update(fake.Key("enter"))
	if n, _ := m.Selected(); n.Path() != "/app/run.sh" || m.Rows() != rows+1 {
		t.Errorf("enter on a file: %s selected, %d rows", n.Path(), m.Rows())
	}
}

// The cursor row shows whether the pane has the keyboard: reverse video
// when it has, underlined when not (the goldens are plain text).
func TestCursorShowsFocus(t *testing.T) {
	img := fake.XZ()
	st := styles.Mono()
	m := filetree.New(filetree.NewIndex(img.Tree, nil), &st)
	m.SetSize(80, 20)
	first := func() string { return strings.SplitN(m.View(), "\n", 2)[0] }
	m.SetFocused(true)
	if got := first(); got != st.P.Selected.Render(ansi.Strip(got)) {
		t.Errorf("focused cursor row %q, want it reversed", got)
	}
	m.SetFocused(false)
	if got := first(); got != st.P.SelectedDim.Render(ansi.Strip(got)) {
		t.Errorf("unfocused cursor row %q, want it underlined", got)
	}
}
