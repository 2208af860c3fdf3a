package details_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/tui/details"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/internal/golden"
	"github.com/strata-forensics/strata/tui/styles"
)

// onPath is the findings on path p.
func onPath(fs []finding.Finding, p string) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Path == p {
			out = append(out, f)
		}
	}
	return out
}

var problems = []integrity.Problem{
	{Blob: "blobs/sha256/0", Kind: integrity.DiffIDMismatch, Detail: "layer 0 of example/xz:5.6.1: uncompressed content hashes to sha256:aaaa"},
	{Blob: "blobs/sha256/ffff", Kind: integrity.MissingBlob, Detail: "no index, manifest or config refers to it"},
	{Blob: "sha256:bbbb", Kind: integrity.Unreferenced, Content: "legacy-v1-json", Detail: "blobs/sha256/bbbb (300 bytes, legacy-v1-json) is not reached"},
}

// TestGolden renders the pane at 80×20 (a few at 40) for a path, a layer
// and the input's integrity.
func TestGolden(t *testing.T) {
	img := fake.XZ()
	path := func(p string) func(*details.Model) {
		return func(m *details.Model) { m.Show(img.Tree.Node(p), onPath(img.Findings, p)) }
	}
	tests := []struct {
		name  string
		width int
		show  func(*details.Model)
		keys  []string
	}{
		{name: "nothing-selected", show: func(*details.Model) {}},
		{name: "planted-library", show: path("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1")},
		{name: "modified-config", show: path("/etc/app.conf")},
		{name: "deleted-but-shipped", show: path("/tmp/build.sh")},
		{name: "folder", show: path("/usr/lib")},
		{name: "symlink", show: path("/usr/lib/x86_64-linux-gnu/liblzma.so.5")},
		{name: "layer", show: func(m *details.Model) {
			m.ShowLayer(img.Image.Layers[0], img.Layers[0], problems[:1], 0)
		}},
		{name: "layer-with-findings", show: func(m *details.Model) {
			m.ShowLayer(img.Image.Layers[1], img.Layers[1], nil, 2)
		}},
		// Identifiers and created_by wrap to the width, whole.
		{name: "layer-narrow", width: 40, show: func(m *details.Model) {
			m.ShowLayer(img.Image.Layers[1], img.Layers[1], nil, 2)
		}},
		{name: "integrity-ok", show: func(m *details.Model) {
			m.ShowProblems("xz.tar", nil, "")
		}},
		{name: "integrity-failed", show: func(m *details.Model) {
			m.ShowProblems("xz.tar", problems, "carries linux/amd64 of 2 platforms")
		}},
		{name: "integrity-narrow", width: 40, show: func(m *details.Model) {
			m.ShowProblems("xz.tar", problems, "carries linux/amd64 of 2 platforms")
		}},
		// A page down turns a whole screen, as a pager does.
		{name: "integrity-scrolled", keys: []string{"pgdown"}, show: func(m *details.Model) {
			m.ShowProblems("xz.tar", slices.Concat(problems, problems, problems), "")
		}},
	}
	st := styles.Mono()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.width
			if w == 0 {
				w = 80
			}
			m := details.New(img.Image.Layers, img.Layers, &st)
			m.SetSize(w, 20)
			m.SetFocused(true)
			tc.show(&m)
			for _, k := range tc.keys {
				m, _ = m.Update(fake.Key(k))
			}
			golden.AssertPane(t, &m, w, 20)
		})
	}
}

// Scrolling stays within the lines; a new path starts at the top, the
// same path shown again keeps the place.
func TestScroll(t *testing.T) {
	img := fake.XZ()
	st := styles.Mono()
	m := details.New(img.Image.Layers, img.Layers, &st)
	m.SetSize(80, 3)
	first := func() string { return strings.TrimSpace(ansi.Strip(strings.SplitN(m.View(), "\n", 2)[0])) }
	lib := img.Tree.Node("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1")
	m.Show(lib, onPath(img.Findings, lib.Path()))
	for range 50 {
		m, _ = m.Update(fake.Key("down"))
	}
	bottom := first()
	if bottom == lib.Path() {
		t.Fatal("down did not scroll")
	}
	m.Show(lib, onPath(img.Findings, lib.Path()))
	if first() != bottom {
		t.Errorf("the same path shown again scrolled to %q, want %q", first(), bottom)
	}
	m.Show(img.Tree.Node("/etc/app.conf"), nil)
	if first() != "/etc/app.conf" {
		t.Errorf("a new path starts at %q, want its name", first())
	}
	m.Show(nil, nil)
	if first() != "select a path" {
		t.Errorf("cleared pane shows %q", first())
	}
}
