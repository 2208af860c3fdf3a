// Package styles holds the explorer's Lip Gloss styles. Colours adapt to the
// terminal background; the monochrome set (for NO_COLOR) keeps every
// distinction with bold, underline and reverse video, so nothing is told by
// colour alone.
package styles

import (
	"image/color"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/strata-forensics/strata/forensics/finding"
)

// Styles is the explorer's style set. Components take it by value.
type Styles struct {
	Title       lipgloss.Style // top bar
	Pane        lipgloss.Style // a pane's header line
	PaneFocused lipgloss.Style // the focused pane's header line
	Selected    lipgloss.Style // the cursor row of the focused pane
	SelectedDim lipgloss.Style // the cursor row of an unfocused pane
	Dim         lipgloss.Style // secondary text (sizes, digests)
	Added       lipgloss.Style
	Modified    lipgloss.Style
	Deleted     lipgloss.Style
	Marker      lipgloss.Style // the finding marker
	Match       lipgloss.Style // a search match in a name
	Error       lipgloss.Style
	OK          lipgloss.Style
	Status      lipgloss.Style // bottom line
	Separator   lipgloss.Style // the rule between columns
	Severity    [finding.Critical + 1]lipgloss.Style
	HelpKey     lipgloss.Style
	HelpDesc    lipgloss.Style
	HelpSep     lipgloss.Style
	Monochrome  bool
	// P holds the row styles pre-rendered, for the rows drawn on every
	// keystroke.
	P Paints
}

// Paints are pre-rendered styles.
type Paints struct {
	Selected, SelectedDim, Added, Modified, Deleted, Match, Marker, Error Paint
	Severity                                                              [finding.Critical + 1]Paint
}

// Paint is a style reduced to the escape sequences around its text:
// painting a row is then two concatenations instead of a Lip Gloss render,
// which matters when a keystroke redraws fifty rows.
type Paint struct{ pre, post string }

// NewPaint pre-renders a single-line style (colours and attributes only).
func NewPaint(s lipgloss.Style) Paint {
	pre, post, _ := strings.Cut(s.Render("X"), "X")
	return Paint{pre: pre, post: post}
}

// Render paints one line of plain text.
func (p Paint) Render(s string) string {
	if p.pre == "" && p.post == "" {
		return s
	}
	return p.pre + s + p.post
}

func (s Styles) withPaints() Styles {
	s.P = Paints{
		Selected: NewPaint(s.Selected), SelectedDim: NewPaint(s.SelectedDim),
		Added: NewPaint(s.Added), Modified: NewPaint(s.Modified), Deleted: NewPaint(s.Deleted),
		Match: NewPaint(s.Match), Marker: NewPaint(s.Marker), Error: NewPaint(s.Error),
	}
	for i := range s.Severity {
		s.P.Severity[i] = NewPaint(s.Severity[i])
	}
	return s
}

// New returns the colour style set for a dark or light background.
func New(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }
	accent := c("#5A3FC0", "#A78BFA")
	dim := c("#6B6B6B", "#8A8A8A")
	s := Styles{
		Title:       lipgloss.NewStyle().Bold(true).Foreground(accent),
		Pane:        lipgloss.NewStyle().Foreground(dim),
		PaneFocused: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Selected:    lipgloss.NewStyle().Reverse(true),
		SelectedDim: lipgloss.NewStyle().Underline(true),
		Dim:         lipgloss.NewStyle().Foreground(dim),
		Added:       lipgloss.NewStyle().Foreground(c("#1A7F37", "#3FB950")),
		Modified:    lipgloss.NewStyle().Foreground(c("#9A6700", "#D29922")),
		Deleted:     lipgloss.NewStyle().Foreground(c("#CF222E", "#F85149")),
		Marker:      lipgloss.NewStyle().Bold(true).Foreground(c("#CF222E", "#FF7B72")),
		Match:       lipgloss.NewStyle().Underline(true).Foreground(accent),
		Error:       lipgloss.NewStyle().Bold(true).Foreground(c("#CF222E", "#FF7B72")),
		OK:          lipgloss.NewStyle().Foreground(c("#1A7F37", "#3FB950")),
		Status:      lipgloss.NewStyle().Foreground(dim),
		Separator:   lipgloss.NewStyle().Foreground(dim),
		HelpKey:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		HelpDesc:    lipgloss.NewStyle().Foreground(dim),
		HelpSep:     lipgloss.NewStyle().Foreground(dim),
	}
	s.Severity[finding.Info] = lipgloss.NewStyle().Foreground(dim)
	s.Severity[finding.Low] = lipgloss.NewStyle().Foreground(c("#0969DA", "#58A6FF"))
	s.Severity[finding.Medium] = lipgloss.NewStyle().Foreground(c("#9A6700", "#D29922"))
	s.Severity[finding.High] = lipgloss.NewStyle().Bold(true).Foreground(c("#BC4C00", "#F0883E"))
	s.Severity[finding.Critical] = lipgloss.NewStyle().Bold(true).Foreground(c("#CF222E", "#FF7B72"))
	return s.withPaints()
}

// Mono returns the monochrome style set used when NO_COLOR is set and in
// golden tests: attributes only, no colour.
func Mono() Styles {
	plain := lipgloss.NewStyle()
	bold := plain.Bold(true)
	s := Styles{
		Title:       bold,
		Pane:        plain,
		PaneFocused: bold.Reverse(true),
		Selected:    plain.Reverse(true),
		SelectedDim: plain.Underline(true),
		Dim:         plain,
		Added:       plain,
		Modified:    plain,
		Deleted:     plain.Strikethrough(true),
		Marker:      bold,
		Match:       plain.Underline(true),
		Error:       bold,
		OK:          plain,
		Status:      plain,
		Separator:   plain,
		HelpKey:     bold,
		HelpDesc:    plain,
		HelpSep:     plain,
		Monochrome:  true,
	}
	for i := range s.Severity {
		s.Severity[i] = plain
	}
	s.Severity[finding.High] = bold
	s.Severity[finding.Critical] = bold
	return s.withPaints()
}

// SeverityStyle is the style for severity sev.
func (s Styles) SeverityStyle(sev finding.Severity) lipgloss.Style {
	if sev < 0 || int(sev) >= len(s.Severity) {
		return s.Severity[finding.Info]
	}
	return s.Severity[sev]
}
