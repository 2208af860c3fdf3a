package content_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/tui/content"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/internal/golden"
	"github.com/strata-forensics/strata/tui/styles"
)

// version is path p's version written by layer l in img.
func version(t *testing.T, img *fake.Image, p string, l int) content.Version {
	t.Helper()
	for _, c := range img.Tree.Node(p).History {
		if c.Layer == l && c.Entry != nil {
			return content.Version{Layer: l, Entry: c.Entry}
		}
	}
	t.Fatalf("%s has no version in layer %d", p, l)
	return content.Version{}
}

// TestGolden renders the viewer at 80×20 (one case at 40) over fake.XZ's
// files: text, a hex dump, a diff, and the states around them.
func TestGolden(t *testing.T) {
	img := fake.XZ()
	load := func(p string, l int) func(*testing.T, int) content.LoadedMsg {
		return func(t *testing.T, req int) content.LoadedMsg {
			return content.Load(img.Content, req, version(t, img, p, l))().(content.LoadedMsg)
		}
	}
	lib := "/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1"
	tests := []struct {
		name  string
		width int
		load  func(*testing.T, int) content.LoadedMsg // nil: still reading
		keys  []string
	}{
		{name: "text", load: load("/etc/app.conf", 1)},
		{name: "hex", load: load(lib, 1)},
		{name: "hex-narrow", width: 40, load: load(lib, 1)},
		{name: "diff", load: func(t *testing.T, req int) content.LoadedMsg {
			old, cur := version(t, img, "/etc/app.conf", 0), version(t, img, "/etc/app.conf", 1)
			return content.LoadDiff(img.Content, req, old, cur)().(content.LoadedMsg)
		}},
		{name: "reading"},
		{name: "error", load: func(t *testing.T, req int) content.LoadedMsg {
			gone := content.Version{Layer: 0, Entry: &layer.Entry{Path: "/etc/gone", Type: layer.File}}
			return content.Load(img.Content, req, gone)().(content.LoadedMsg)
		}},
		{name: "empty", load: func(t *testing.T, req int) content.LoadedMsg {
			return content.LoadedMsg{Req: req}
		}},
		{name: "truncated-scrolled", keys: []string{"pgdown", "down"}, load: func(t *testing.T, req int) content.LoadedMsg {
			var b strings.Builder
			for i := range 100 {
				fmt.Fprintf(&b, "line %d\tof a long file\n", i+1)
			}
			return content.LoadedMsg{Req: req, Data: []byte(b.String()), Truncated: true}
		}},
		{name: "control-characters", load: func(t *testing.T, req int) content.LoadedMsg {
			return content.LoadedMsg{Req: req, Data: []byte("a\x1b]0;PWNED\x07b\x1b[2J\r\n\tc\x7f\n")}
		}},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.width
			if w == 0 {
				w = 80
			}
			m := content.New(&st)
			m.SetSize(w, 20)
			m.SetFocused(true)
			req := m.Begin(tc.name + " @ L1")
			if tc.load != nil {
				m, _ = m.Update(tc.load(t, req))
			}
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertPane(t, &m, w, 20)
		})
	}
}

// An input without content (no opener) says so rather than failing.
func TestNoOpener(t *testing.T) {
	st := styles.Mono()
	m := content.New(&st)
	m.SetSize(60, 3)
	req := m.Begin("f")
	m, _ = m.Update(content.Load(nil, req, content.Version{})())
	if !strings.Contains(m.View(), "content is not available for this input") {
		t.Errorf("view %q", m.View())
	}
}
