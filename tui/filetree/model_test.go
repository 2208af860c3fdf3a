package filetree

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/styles"
)

// xzModel is the tree pane over fake.XZ at its last layer: /app, /bin,
// /etc, /tmp and /usr, folded.
func xzModel(t *testing.T) Model {
	t.Helper()
	img := fake.XZ()
	var paths []string
	for _, f := range img.Findings {
		paths = append(paths, f.Path)
	}
	st := styles.Mono()
	m := New(NewIndex(img.Tree, paths), &st)
	m.SetSize(80, 12)
	return m
}

// shown is the path of every row, in order.
func shown(m Model) []string {
	var out []string
	for _, r := range m.rows {
		out = append(out, m.ix.nodes[r.id].Path())
	}
	return out
}

func selected(m Model) string {
	n, _ := m.Selected()
	if n == nil {
		return ""
	}
	return n.Path()
}

func TestFoldKeys(t *testing.T) {
	tests := []struct {
		from string // selected first, when set
		keys string
		sel  string
		rows []string
	}{
		{"", "", "/app", []string{"/app", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "right", "/app", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "l", "/app", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "right right", "/app", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "right down", "/app/run.sh", nil},
		// Left on a file goes to its folder; on an open folder closes it.
		{"", "right down left", "/app", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "right down left left", "/app", []string{"/app", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "right down h h", "/app", []string{"/app", "/bin", "/etc", "/tmp", "/usr"}},
		// Left on a closed top-level folder has nowhere to go.
		{"", "left", "/app", []string{"/app", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "space", "/app", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "space space", "/app", []string{"/app", "/bin", "/etc", "/tmp", "/usr"}},
		// A file does not open.
		{"", "right down right", "/app/run.sh", []string{"/app", "/app/run.sh", "/bin", "/etc", "/tmp", "/usr"}},
		{"", "down down down down right down right", "/usr/bin", []string{"/app", "/bin", "/etc", "/tmp", "/usr", "/usr/bin", "/usr/bin/passwd", "/usr/lib"}},
		// Left climbs: from a file to its folder, closes that folder, then
		// goes on to the folder above, leaving it open.
		{"", "down down down down right down right down left left left", "/usr", []string{"/app", "/bin", "/etc", "/tmp", "/usr", "/usr/bin", "/usr/lib"}},
		// Left goes to the folder, not to the file above.
		{"/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", "left", "/usr/lib/x86_64-linux-gnu", nil},
		{"/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", "up left", "/usr/lib/x86_64-linux-gnu", nil},
		{"/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", "left left left", "/usr/lib", nil},
	}
	for _, tc := range tests {
		t.Run(tc.from+" "+tc.keys, func(t *testing.T) {
			m := xzModel(t)
			m.SetFocused(true)
			if tc.from != "" && !m.Select(tc.from) {
				t.Fatalf("Select(%s) failed", tc.from)
			}
			for _, k := range strings.Fields(tc.keys) {
				m, _ = m.Update(fake.Key(k))
			}
			if got := selected(m); got != tc.sel {
				t.Errorf("selected %s, want %s", got, tc.sel)
			}
			if tc.rows != nil && !slices.Equal(shown(m), tc.rows) {
				t.Errorf("rows %q, want %q", shown(m), tc.rows)
			}
		})
	}
}

func TestSortOrders(t *testing.T) {
	for _, by := range []SortBy{ByName, BySize, ByLayer} {
		t.Run(by.String(), func(t *testing.T) {
			m := xzModel(t)
			m.SetFilter(Filter{Query: "/"}) // every path passes: every folder open
			all := shown(m)
			m.SetSort(by)
			if m.Sort() != by {
				t.Fatalf("Sort() %s", m.Sort())
			}
			got := shown(m)
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(all))) {
				t.Fatalf("sorting changed what is shown:\n%q\n%q", got, all)
			}
			// Rows of one folder, in order, keep the order asked for.
			byParent := map[int32][]int32{}
			for _, r := range m.rows {
				p := m.ix.parent[r.id]
				byParent[p] = append(byParent[p], r.id)
			}
			for _, ids := range byParent {
				for i := 1; i < len(ids); i++ {
					a, b := ids[i-1], ids[i]
					ok := true
					switch by {
					case ByName:
						ok = m.ix.nodes[a].Path() < m.ix.nodes[b].Path()
					case BySize:
						ok = m.ix.size[a] >= m.ix.size[b]
					case ByLayer:
						ok = m.ix.nodes[a].State(m.layer).Introduced <= m.ix.nodes[b].State(m.layer).Introduced
					}
					if !ok {
						t.Errorf("%s before %s", m.ix.nodes[a].Path(), m.ix.nodes[b].Path())
					}
				}
			}
		})
	}
	// Ties keep the name order: /app, added by layer 2, goes last.
	m := xzModel(t)
	m.SetSort(ByLayer)
	if want := []string{"/bin", "/etc", "/tmp", "/usr", "/app"}; !slices.Equal(shown(m), want) {
		t.Errorf("by layer: %q, want %q", shown(m), want)
	}
}

func TestNextMatch(t *testing.T) {
	m := xzModel(t)
	if m.NextMatch(1) {
		t.Error("NextMatch without a narrowing filter moved")
	}
	m.SetFilter(Filter{Query: "lzma"})
	a, b := "/usr/lib/x86_64-linux-gnu/liblzma.so.5", "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	var got []string
	for _, dir := range []int{1, 1, 1, -1, -1} {
		if !m.NextMatch(dir) {
			t.Fatal("NextMatch found nothing")
		}
		got = append(got, selected(m))
	}
	if want := []string{a, b, a, b, a}; !slices.Equal(got, want) {
		t.Errorf("matches visited %q, want %q", got, want)
	}
	m.SetFilter(Filter{Query: "no such path"})
	if m.NextMatch(1) || m.Rows() != 0 {
		t.Errorf("NextMatch over no rows: %d rows", m.Rows())
	}
}

func TestTitle(t *testing.T) {
	tests := []struct {
		layer int
		f     Filter
		by    SortBy
		want  string
	}{
		{2, Filter{}, ByName, "Tree @ layer 2"},
		{0, Filter{}, ByName, "Tree @ layer 0"},
		{2, Filter{Query: "lzma"}, ByName, "Tree @ layer 2 [/lzma] 2 matches"},
		{2, Filter{Setuid: true}, ByName, "Tree @ layer 2 [setuid] 1 match"},
		{2, Filter{ShowDeleted: true}, ByName, "Tree @ layer 2 [+deleted]"},
		{1, Filter{Changed: true, MinSize: 30}, BySize, "Tree @ layer 1 [changes ≥30] 2 matches by size"},
		{2, Filter{}, ByLayer, "Tree @ layer 2 by layer"},
	}
	for _, tc := range tests {
		m := xzModel(t)
		m.SetLayer(tc.layer)
		m.SetFilter(tc.f)
		m.SetSort(tc.by)
		if got := m.Title(); got != tc.want {
			t.Errorf("Title() = %q, want %q", got, tc.want)
		}
	}
}

func TestView(t *testing.T) {
	tests := []struct {
		name   string
		width  int
		f      Filter
		sel    string
		has    []string
		hasNot []string
	}{
		{name: "wide", width: 80, has: []string{"drwxr-xr-x", "▸ usr/", "L2", "▸ app/"}},
		{name: "narrow leaves out the mode", width: 40, has: []string{"▸ usr/", "L2"}, hasNot: []string{"drwxr-xr-x"}},
		{name: "symlink target", width: 80, sel: "/usr/lib/x86_64-linux-gnu/liblzma.so.5", has: []string{"lrwxrwxrwx", "liblzma.so.5 → liblzma.so.5.6.1", "▾ x86_64-linux-gnu/"}},
		{name: "setuid file", width: 80, sel: "/usr/bin/passwd", has: []string{"-rwsr-xr-x", "  passwd"}},
		{name: "deleted path", width: 80, sel: "/tmp/build.sh", has: []string{"- -rwxr-xr-x", "build.sh"}},
		{name: "finding marked", width: 80, sel: "/etc/app.conf", has: []string{"! ", "app.conf"}},
		{name: "nothing to show", width: 80, f: Filter{Query: "no such path"}, has: []string{"(nothing to show)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := xzModel(t)
			m.SetSize(tc.width, 12)
			if tc.sel != "" && !m.Select(tc.sel) {
				t.Fatalf("Select(%s) failed", tc.sel)
			}
			m.SetFilter(tc.f)
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) != 12 {
				t.Errorf("%d lines, want the pane's 12", len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > tc.width {
					t.Errorf("line %d is %d cells wide, more than %d: %q", i, w, tc.width, ansi.Strip(l))
				}
			}
			plain := ansi.Strip(v)
			for _, s := range tc.has {
				if !strings.Contains(plain, s) {
					t.Errorf("view lacks %q:\n%s", s, plain)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(plain, s) {
					t.Errorf("view has %q:\n%s", s, plain)
				}
			}
		})
	}
}
