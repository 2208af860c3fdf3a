package layers_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/styles"
)

func TestState(t *testing.T) {
	foreign := integrity.Problem{Kind: integrity.Foreign, Blob: "sha256:f0"}
	tampered := integrity.Problem{Kind: integrity.DigestMismatch, Blob: "sha256:aa"}
	truncated := integrity.Problem{Kind: integrity.Truncated, Blob: "sha256:aa"}
	tests := []struct {
		name string
		l    layers.Layer
		want string
	}{
		{"read and clean", layers.Layer{Layer: &image.Layer{}, Read: true}, "ok"},
		{"not read yet", layers.Layer{Layer: &image.Layer{}}, "…"},
		{"absent", layers.Layer{Layer: &image.Layer{Absent: true}}, "absent"},
		{"foreign", layers.Layer{Layer: &image.Layer{Foreign: true, Absent: true}, Problems: []integrity.Problem{foreign}}, "foreign"},
		{"tampered", layers.Layer{Layer: &image.Layer{}, Read: true, Problems: []integrity.Problem{tampered}}, "digest-mismatch"},
		// The first problem that fails the verdict names the state; an
		// informational one before it does not.
		{"first failing problem", layers.Layer{Layer: &image.Layer{}, Read: true, Problems: []integrity.Problem{foreign, truncated, tampered}}, "truncated"},
		{"a problem outranks absence", layers.Layer{Layer: &image.Layer{Absent: true}, Problems: []integrity.Problem{{Kind: integrity.MissingBlob}}}, "missing-blob"},
	}
	for _, tc := range tests {
		if got := tc.l.State(); got != tc.want {
			t.Errorf("%s: State() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRows(t *testing.T) {
	d := digest.FromString("layer")
	ls := []layers.Layer{
		{Layer: &image.Layer{Index: 0, Digest: d, Size: 2048, CreatedBy: "/bin/sh -c #(nop) ADD file:1 in / "}, Facts: layers.Facts{Entries: 12}, Read: true},
		{Layer: &image.Layer{Index: 1, Digest: d, Size: 5 << 20, CreatedBy: "/bin/sh -c apt-get install xz-utils"}, Facts: layers.Facts{Entries: 3}, Read: true, Findings: 2,
			Problems: []integrity.Problem{{Kind: integrity.DigestMismatch}}},
		{Layer: &image.Layer{Index: 2, Size: 10, CreatedBy: "COPY x /"}},
	}
	st := styles.Mono()
	m := layers.New(ls, &st)
	if m.Selected() != 2 {
		t.Errorf("selected %d, want the top layer", m.Selected())
	}
	if _, ok := m.Layer(3); ok {
		t.Error("Layer(3) of 3")
	}
	for _, tc := range []struct {
		width int
		want  []string
	}{
		{80, []string{
			"  0 " + d.Encoded()[:12] + "   2.0K     12 ok ADD file:1 in /",
			"! 1 " + d.Encoded()[:12] + "   5.0M      3 digest-mismatch RUN apt-get install xz-utils",
			"  2 ????????????     10      ? …  COPY x /",
		}},
		// Narrow: the entry count goes.
		{40, []string{
			"  0 " + d.Encoded()[:12] + "   2.0K ok ADD file:1 i…",
		}},
	} {
		m.SetSize(tc.width, 4)
		lines := strings.Split(ansi.Strip(m.View()), "\n")
		if len(lines) != 4 {
			t.Fatalf("width %d: %d lines, want 4", tc.width, len(lines))
		}
		for i, want := range tc.want {
			if got := strings.TrimRight(lines[i], " "); got != want {
				t.Errorf("width %d, row %d:\n got %q\nwant %q", tc.width, i, got, want)
			}
			if w := ansi.StringWidth(lines[i]); w != tc.width {
				t.Errorf("width %d, row %d is %d cells", tc.width, i, w)
			}
		}
	}
	empty := layers.New(nil, &st)
	empty.SetSize(30, 2)
	if empty.Selected() != -1 || !strings.Contains(empty.View(), "(no layers)") {
		t.Errorf("empty pane: selected %d, view %q", empty.Selected(), empty.View())
	}
}
