package app

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/text"
)

// Smallest usable terminal.
const minWidth, minHeight = 40, 12

// geometry is where the panes sit; each height counts the pane's header.
type geometry struct {
	left, right                  int
	body                         int
	layersH, findingsH, detailsH int
}

func (m Model) geometry() geometry {
	g := geometry{body: m.height - 2}
	g.left = min(max(m.width*2/5, 30), 64)
	g.right = m.width - g.left - 1
	nl, nf := 1, 1
	if m.sess != nil {
		nl = len(m.sess.Images[m.img].Image.Layers)
		nf = max(m.findings.Len(), 1)
	}
	g.layersH = min(nl, max(g.body/3, 2)) + 1
	g.findingsH = min(nf, max(g.body/5, 1)) + 1
	g.detailsH = g.body - g.layersH - g.findingsH
	return g
}

// layout gives every pane its size; it runs on resize and when an image is
// shown.
func (m *Model) layout() {
	if m.sess == nil || m.width < minWidth || m.height < minHeight {
		return
	}
	g := m.geometry()
	m.layers.SetSize(g.left, g.layersH-1)
	m.findings.SetSize(g.left, g.findingsH-1)
	m.details.SetSize(g.left, g.detailsH-1)
	m.tree.SetSize(g.right, g.body-1)
	m.content.SetSize(g.right, g.body-1)
	m.search.SetWidth(m.width)
	m.dest.SetWidth(m.width)
	m.help.SetWidth(m.width)
	m.setFocus(m.focus)
}

func (m Model) paneAt(x, y int) slot {
	g := m.geometry()
	switch {
	case x > g.left:
		return paneTree
	case y-1 < g.layersH:
		return paneLayers
	case y-1 < g.layersH+g.findingsH:
		return paneFindings
	}
	return paneDetails
}

// View lays the panes out: a title line, the left column (layers, findings,
// history), the right column (tree or content) and a status line, which
// holds an open prompt, a status or the focused pane's keys.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "strata explore"
	return v
}

func (m Model) render() string {
	if m.width < minWidth || m.height < minHeight {
		return text.Cut(fmt.Sprintf("strata explore needs at least %d×%d (this is %d×%d)", minWidth, minHeight, m.width, m.height), m.width)
	}
	switch {
	case m.err != nil:
		return m.frame(m.st.Error.Render("strata: "+printable.String(m.err.Error())) + "\n\npress q to quit")
	case m.loading:
		return m.frame(m.progressView())
	case m.showHelp:
		return m.frame(m.st.Title.Render("Keys") + "  (any key closes)\n\n" + m.fullHelp())
	}
	g := m.geometry()
	left := []string{
		m.header(m.layers.Title(), m.focus == paneLayers, g.left), m.layers.View(),
		m.header(m.findings.Title(), m.focus == paneFindings, g.left), m.findings.View(),
		m.header(m.details.Title(), m.focus == paneDetails, g.left), m.details.View(),
	}
	right := []string{m.header(m.tree.Title(), m.focus == paneTree, g.right), m.tree.View()}
	if m.viewing {
		right = []string{m.header(m.content.Title(), m.focus == paneTree, g.right), m.content.View()}
	}
	body := joinColumns(strings.Split(strings.Join(left, "\n"), "\n"), strings.Split(strings.Join(right, "\n"), "\n"),
		g.left, g.right, g.body, m.st.Separator.Render("│"))
	return m.titleLine() + "\n" + body + "\n" + m.statusLine()
}

func (m Model) header(title string, focused bool, width int) string {
	t := text.Fit(" "+title+" ", width)
	if focused {
		return m.st.PaneFocused.Render(t)
	}
	return m.st.Pane.Render(t)
}

// joinColumns places two columns of lines side by side, each cut or padded
// to its width and to height rows.
func joinColumns(left, right []string, lw, rw, height int, sep string) string {
	var b strings.Builder
	for i := 0; i < height; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		var l, r string
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		b.WriteString(text.Fit(l, lw))
		b.WriteString(sep)
		b.WriteString(text.Fit(r, rw))
	}
	return b.String()
}

func (m Model) titleLine() string {
	s := m.st.Title.Render("strata explore")
	if m.sess != nil {
		img := m.sess.Images[m.img]
		s += " " + printable.String(img.Image.Ref())
		if len(m.sess.Images) > 1 {
			// The images of one index often share a name: the platform
			// tells them apart.
			if p := img.Image.Platform; p != "" {
				s += " " + printable.String(p)
			}
			s += fmt.Sprintf(" (%d/%d, I: next)", m.img+1, len(m.sess.Images))
		}
		word := integrityWord(m.sess.Problems)
		if strings.HasPrefix(word, "integrity ok") {
			s += "  " + m.st.OK.Render(word)
		} else {
			s += "  " + m.st.Error.Render(word)
		}
		c := m.sess.Coverage.Brief()
		if c != "" {
			s += m.st.Dim.Render(", " + c)
		}
		if !strings.HasPrefix(word, "integrity ok") || c != "" {
			s += m.st.Dim.Render("  i: details")
		}
	}
	return text.Fit(s, m.width)
}

func (m Model) statusLine() string {
	switch {
	case m.search.Active():
		return text.Fit(m.search.View(), m.width)
	case m.dest.Active():
		return text.Fit(m.dest.View(), m.width)
	case m.status != "":
		return text.Fit(m.st.Status.Render(printable.String(m.status)), m.width) // statuses name paths
	}
	return text.Fit(m.help.ShortHelpView(m.ShortHelp()), m.width)
}

// at is the pane in slot s: in the tree's, the viewer while a file is
// open.
func (m *Model) at(s slot) pane.Component {
	switch s {
	case paneLayers:
		return &m.layers
	case paneFindings:
		return &m.findings
	case paneDetails:
		return &m.details
	case paneTree:
		if m.viewing {
			return &m.content
		}
	}
	return &m.tree
}

// ShortHelp is the one-line help: the focused pane's keys, then the
// root's.
func (m Model) ShortHelp() []key.Binding {
	b := m.at(m.focus).ShortHelp()
	if m.viewing && m.focus == paneTree {
		b = append(b, m.km.Clear)
	}
	return slices.Concat(b, m.km.ShortHelp())
}

// FullHelp is the help screen's columns: the focused pane's, then the
// root's.
func (m Model) FullHelp() [][]key.Binding {
	return slices.Concat(m.at(m.focus).FullHelp(), m.km.FullHelp())
}

// fullHelp lays the keys of the focused pane and the root's out in as
// many columns as the screen has room for: the groups side by side when
// they fit, else in rows of fewer groups, so that no key is cut off on a
// narrow terminal.
func (m Model) fullHelp() string {
	groups := m.FullHelp()
	h := m.help
	h.SetWidth(0)       // measured here, not cut
	room := m.width - 2 // frame indents by two
	var out string
	for per := len(groups); per >= 1; per-- {
		blocks := make([]string, 0, (len(groups)+per-1)/per)
		for i := 0; i < len(groups); i += per {
			blocks = append(blocks, h.FullHelpView(groups[i:min(i+per, len(groups))]))
		}
		out = strings.Join(blocks, "\n\n")
		if lipgloss.Width(out) <= room {
			break
		}
	}
	return out
}

// frame fills the screen around a centred message.
func (m Model) frame(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, m.height)
	out = append(out, m.titleLine(), "")
	for _, l := range lines {
		out = append(out, "  "+l)
	}
	for len(out) < m.height {
		out = append(out, "")
	}
	for i := range out {
		out[i] = text.Fit(out[i], m.width)
	}
	return strings.Join(out[:m.height], "\n")
}

func (m Model) progressView() string {
	p := m.progress
	width := min(m.width-10, 50)
	if p.Indexing && p.TotalBytes > 0 {
		return fmt.Sprintf("Decompressing the input: %s of %s\n%s\n\nIt is compressed as a whole: its layers are walked as it is decompressed.",
			text.Size(p.Bytes), text.Size(p.TotalBytes), progressBar(width, p.Bytes, p.TotalBytes))
	}
	if p.Layers == 0 {
		return "Opening the input and reading its index…"
	}
	bar := progressBar(width, int64(p.LayersDone), int64(p.Layers))
	if p.TotalBytes > 0 {
		bar = progressBar(width, p.Bytes, p.TotalBytes)
	}
	return fmt.Sprintf("Reading layers: %d of %d (%s of %s)\n%s\n\nEvery blob is verified against its digest as it streams.",
		p.LayersDone, p.Layers, text.Size(p.Bytes), text.Size(p.TotalBytes), bar)
}

// progressBar is a bar width wide, filled for done of total.
func progressBar(width int, done, total int64) string {
	n := 0
	if total > 0 {
		n = int(int64(width) * done / total)
	}
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
