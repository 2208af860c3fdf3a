package app

import (
	"context"
	"fmt"
	"path"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/content"
	"github.com/strata-forensics/strata/tui/details"
	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/filter"
	"github.com/strata-forensics/strata/tui/findings"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/styles"
)

type pane int

const (
	paneLayers pane = iota
	paneTree
	paneFindings
	paneDetails
	paneCount
)

// sizeSteps are the thresholds the size filter cycles through.
var sizeSteps = [...]int64{0, 1 << 20, 10 << 20, 100 << 20}

// Options configure the explorer.
type Options struct {
	Styles styles.Styles
	Keys   keys.Map
}

// Model is the root model.
type Model struct {
	ctx    context.Context
	load   Loader
	events chan tea.Msg
	st     *styles.Styles // shared read-only by every pane
	km     *keys.Map
	help   help.Model

	width, height int
	loading       bool
	progress      Progress
	err           error

	sess     *Session
	indexes  []*filetree.Index
	img      int
	byPath   map[string][]finding.Finding
	layers   layers.Model
	tree     filetree.Model
	findings findings.Model
	details  details.Model
	content  content.Model
	search   filter.Model
	dest     filter.Model // the extract destination prompt
	focus    pane
	viewing  bool // the right column shows the content viewer
	showHelp bool
	status   string
}

// New returns the explorer; it starts load when the program starts.
func New(ctx context.Context, load Loader, opts Options) Model {
	h := help.New()
	h.Styles.ShortKey, h.Styles.FullKey = opts.Styles.HelpKey, opts.Styles.HelpKey
	h.Styles.ShortDesc, h.Styles.FullDesc = opts.Styles.HelpDesc, opts.Styles.HelpDesc
	h.Styles.ShortSeparator, h.Styles.FullSeparator = opts.Styles.HelpSep, opts.Styles.HelpSep
	h.Styles.Ellipsis = opts.Styles.HelpSep
	st, km := &opts.Styles, &opts.Keys
	return Model{
		ctx: ctx, load: load, events: make(chan tea.Msg, 4),
		st: st, km: km, help: h,
		loading: true, focus: paneTree,
		search: filter.New("/", st, km),
		dest:   filter.New("extract to: ", st, km),
	}
}

// Rows is the number of rows the tree pane holds (not only those on
// screen).
func (m Model) Rows() int { return m.tree.Rows() }

// Init starts loading.
func (m Model) Init() tea.Cmd {
	return tea.Batch(start(m.ctx, m.load, m.events), wait(m.ctx, m.events))
}

// Update routes a message: background events, window size, then keys to
// the search box, the help screen, global bindings or the focused pane.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case progressMsg:
		m.progress = Progress(msg)
		return m, wait(m.ctx, m.events)
	case loadedMsg:
		m.loading = false
		if msg.err != nil {
			m.err = msg.err
			return m, nil
		}
		m.sess, m.indexes = msg.sess, msg.indexes
		if len(m.sess.Images) == 0 {
			m.err = fmt.Errorf("%s: no images", m.sess.Input)
			return m, nil
		}
		m.setImage(0)
		return m, nil
	case content.LoadedMsg:
		m.content, _ = m.content.Update(msg)
		return m, nil
	case extractedMsg:
		if msg.err != nil {
			m.status = "extract failed: " + msg.err.Error()
		} else {
			m.status = fmt.Sprintf("wrote %s (sha256 %s)", msg.written, msg.sha256)
		}
		return m, nil
	case findings.JumpMsg:
		m.jump(msg.Finding)
		return m, nil
	case tea.MouseWheelMsg:
		return m.wheel(msg)
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) setImage(i int) {
	img := m.sess.Images[i]
	m.img = i
	m.byPath = map[string][]finding.Finding{}
	layerFindings := map[int]int{}
	for _, f := range img.Findings {
		m.byPath[f.Path] = append(m.byPath[f.Path], f)
		layerFindings[f.Layer]++
	}
	rows := make([]layers.Layer, len(img.Image.Layers))
	for li, l := range img.Image.Layers {
		rows[li] = layers.Layer{Layer: l, Findings: layerFindings[li], Read: true}
		if li < len(img.LayerProblems) {
			rows[li].Problems = img.LayerProblems[li]
		}
	}
	m.layers = layers.New(rows, m.st, m.km)
	m.tree = filetree.New(m.indexes[i], m.st, m.km)
	m.findings = findings.New(img.Findings, m.st, m.km)
	m.details = details.New(img.Image.Layers, m.st, m.km)
	m.content = content.New(m.st, m.km)
	m.viewing = false
	m.layout()
	m.setFocus(m.focus)
}

func (m *Model) refreshDetails() {
	if m.focus == paneLayers {
		i := m.layers.Selected()
		if l, ok := m.layers.Layer(i); ok {
			m.details.ShowLayer(l.Layer, l.Problems, l.Findings)
			return
		}
	}
	n, _ := m.tree.Selected()
	if n == nil {
		m.details.Show(nil, nil)
		return
	}
	m.details.Show(n, m.byPath[n.Path()])
}

func (m *Model) setFocus(p pane) {
	m.focus = p
	m.layers.SetFocused(p == paneLayers)
	m.tree.SetFocused(p == paneTree && !m.viewing)
	m.content.SetFocused(p == paneTree && m.viewing)
	m.findings.SetFocused(p == paneFindings)
	m.details.SetFocused(p == paneDetails)
	if p != paneDetails {
		m.refreshDetails()
	}
}

// jump shows a finding's path in the tree at the layer that carries it.
func (m *Model) jump(f finding.Finding) {
	if f.Layer >= 0 {
		m.layers.Select(f.Layer)
		m.tree.SetLayer(f.Layer)
	}
	m.viewing = false
	if f.Path != "" && !m.tree.Select(f.Path) {
		m.status = f.Path + ": not in the tree"
	}
	m.setFocus(paneTree)
	m.refreshDetails()
}

func (m Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	m.status = ""
	if m.loading || m.err != nil || m.sess == nil {
		if key.Matches(k, m.km.Quit) || (m.err != nil && k.String() == "esc") {
			return m, tea.Quit
		}
		return m, nil
	}
	if m.search.Active() {
		m.search, _ = m.search.Update(k)
		f := m.tree.Filter()
		f.Query = m.search.Value()
		m.tree.SetFilter(f)
		m.refreshDetails()
		return m, nil
	}
	if m.dest.Active() {
		var cmd tea.Cmd
		if key.Matches(k, m.km.Enter) {
			cmd = m.extract(m.dest.Value())
		}
		m.dest, _ = m.dest.Update(k)
		return m, cmd
	}
	if m.showHelp {
		m.showHelp = false
		m.help.ShowAll = false
		if key.Matches(k, m.km.Quit) {
			return m, tea.Quit
		}
		return m, nil
	}
	f := m.tree.Filter()
	switch {
	case key.Matches(k, m.km.Quit):
		return m, tea.Quit
	case key.Matches(k, m.km.Help):
		m.showHelp = true
		m.help.ShowAll = true
		return m, nil
	case key.Matches(k, m.km.NextPane):
		m.setFocus((m.focus + 1) % paneCount)
		return m, nil
	case key.Matches(k, m.km.PrevPane):
		m.setFocus((m.focus + paneCount - 1) % paneCount)
		return m, nil
	case key.Matches(k, m.km.Search):
		m.search.Open(f.Query)
		m.viewing = false
		m.setFocus(paneTree)
		return m, nil
	case key.Matches(k, m.km.Next), key.Matches(k, m.km.Prev):
		dir := 1
		if key.Matches(k, m.km.Prev) {
			dir = -1
		}
		if !m.tree.NextMatch(dir) {
			m.status = "no matches: search with / or set a filter"
		}
		m.viewing = false
		m.setFocus(paneTree)
		m.refreshDetails()
		return m, nil
	case key.Matches(k, m.km.Clear):
		switch {
		case m.viewing:
			m.viewing = false
			m.setFocus(paneTree)
		case f != filetree.Filter{}:
			m.tree.SetFilter(filetree.Filter{})
			m.refreshDetails()
		}
		return m, nil
	case key.Matches(k, m.km.Changed):
		f.Changed = !f.Changed
	case key.Matches(k, m.km.FindingsOnly):
		f.Findings = !f.Findings
	case key.Matches(k, m.km.DeletedShipped):
		f.DeletedShipped = !f.DeletedShipped
	case key.Matches(k, m.km.Setuid):
		f.Setuid = !f.Setuid
	case key.Matches(k, m.km.BySize):
		for i, s := range sizeSteps {
			if s == f.MinSize {
				f.MinSize = sizeSteps[(i+1)%len(sizeSteps)]
				break
			}
		}
	case key.Matches(k, m.km.ShowDeleted):
		f.ShowDeleted = !f.ShowDeleted
	case key.Matches(k, m.km.Sort):
		m.tree.SetSort((m.tree.Sort() + 1) % 3)
		return m, nil
	case key.Matches(k, m.km.View):
		return m, m.view(false)
	case key.Matches(k, m.km.Diff):
		return m, m.view(true)
	case key.Matches(k, m.km.Extract):
		if n, _ := m.tree.Selected(); n == nil {
			return m, nil
		}
		if m.sess.Images[m.img].Extract == nil {
			m.status = "extract not available in this build"
			return m, nil
		}
		m.dest.Open(".")
		return m, nil
	case key.Matches(k, m.km.Integrity):
		m.details.ShowProblems(m.sess.Input, m.sess.Problems, m.sess.Coverage.Words())
		m.setFocus(paneDetails)
		return m, nil
	case key.Matches(k, m.km.NextImage):
		if len(m.sess.Images) > 1 {
			m.setImage((m.img + 1) % len(m.sess.Images))
			m.setFocus(m.focus)
		}
		return m, nil
	default:
		return m.toPane(k)
	}
	// A filter key: apply the combined filter.
	m.tree.SetFilter(f)
	m.viewing = false
	m.setFocus(paneTree)
	m.refreshDetails()
	return m, nil
}

// toPane hands a key to the focused pane and follows up on what changed.
func (m Model) toPane(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.focus {
	case paneLayers:
		if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.km.Enter) {
			m.setFocus(paneTree)
			return m, nil
		}
		m.layers, cmd = m.layers.Update(msg)
		m.tree.SetLayer(m.layers.Selected())
		m.refreshDetails()
	case paneTree:
		if m.viewing {
			m.content, cmd = m.content.Update(msg)
			return m, cmd
		}
		if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, m.km.Enter) {
			n, s := m.tree.Selected()
			if n != nil && s.Entry != nil && s.Entry.Type != layer.Dir {
				return m, m.view(false)
			}
			msg = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
		}
		m.tree, cmd = m.tree.Update(msg)
		m.refreshDetails()
	case paneFindings:
		m.findings, cmd = m.findings.Update(msg)
	case paneDetails:
		m.details, cmd = m.details.Update(msg)
	}
	return m, cmd
}

// wheel scrolls the pane under the pointer.
func (m Model) wheel(msg tea.MouseWheelMsg) (tea.Model, tea.Cmd) {
	if m.sess == nil {
		return m, nil
	}
	p := m.paneAt(msg.X, msg.Y)
	old := m.focus
	m.focus = p
	model, cmd := m.toPane(msg)
	mm := model.(Model)
	mm.focus = old
	return mm, cmd
}

// version is the bytes a path has as of the viewed layer: the entry and
// the layer whose blob holds it, through hardlinks.
func (m Model) version(n *tree.Node, s filetree.State) (content.Version, bool) {
	e, from := s.Entry, s.From
	t := m.sess.Images[m.img].Tree
	for hops := 0; e != nil && e.Type == layer.Hardlink && hops < 8; hops++ {
		tn := t.Node(e.Link)
		if tn == nil {
			return content.Version{}, false
		}
		ts := filetree.StateAt(tn, m.tree.Layer())
		e, from = ts.Entry, ts.From
	}
	if e == nil || e.Type != layer.File || from < 0 {
		return content.Version{}, false
	}
	return content.Version{Layer: from, Entry: e}, true
}

// previous is the version of n written before layer before.
func previous(n *tree.Node, before int) (content.Version, bool) {
	for i := len(n.History) - 1; i >= 0; i-- {
		c := n.History[i]
		if c.Layer >= before || c.Entry == nil || c.Entry.Type != layer.File {
			continue
		}
		if c.Op == tree.Add || c.Op == tree.Modify {
			return content.Version{Layer: c.Layer, Entry: c.Entry}, true
		}
	}
	return content.Version{}, false
}

// view opens the selected file in the viewer, or its diff with the
// version before it.
func (m *Model) view(asDiff bool) tea.Cmd {
	n, s := m.tree.Selected()
	if n == nil {
		return nil
	}
	v, ok := m.version(n, s)
	if !ok {
		m.status = n.Path() + ": no content to show (not a regular file here)"
		return nil
	}
	img := m.sess.Images[m.img]
	if !asDiff {
		req := m.content.Begin(printable.String(fmt.Sprintf("%s @ L%d", path.Base(n.Path()), v.Layer)))
		m.viewing = true
		m.setFocus(paneTree)
		return content.Load(img.Content, req, v)
	}
	old, ok := previous(n, v.Layer)
	if !ok {
		m.status = n.Path() + ": no earlier version to diff with"
		return nil
	}
	req := m.content.Begin(printable.String(fmt.Sprintf("%s L%d→L%d", path.Base(n.Path()), old.Layer, v.Layer)))
	m.viewing = true
	m.setFocus(paneTree)
	return content.LoadDiff(img.Content, req, old, v)
}

type extractedMsg struct {
	written, sha256 string
	err             error
}

func (m *Model) extract(dest string) tea.Cmd {
	n, s := m.tree.Selected()
	ex := m.sess.Images[m.img].Extract
	if n == nil || ex == nil {
		return nil
	}
	// Extraction resolves the path as of a layer: the viewed one, or for
	// a deleted path the last layer in which it still existed.
	from := m.tree.Layer()
	if !s.Exists && s.From >= 0 {
		from = s.From
	}
	ctx, p := m.ctx, n.Path()
	m.status = "extracting " + p + "…"
	return func() tea.Msg {
		w, sum, err := ex.Extract(ctx, p, from, dest)
		return extractedMsg{written: w, sha256: sum, err: err}
	}
}

// carriedWords is what the title bar says of the input's coverage: how
// many of the platforms it names it carries, and its attachments.
func carriedWords(c report.Coverage) string {
	var parts []string
	if len(c.NotCarried) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d platforms carried", len(c.Carried), len(c.Carried)+len(c.NotCarried)))
	}
	n := 0
	for _, k := range c.Attachments {
		n += k
	}
	switch {
	case n == 1:
		parts = append(parts, "1 attachment")
	case n > 1:
		parts = append(parts, fmt.Sprintf("%d attachments", n))
	}
	return strings.Join(parts, ", ")
}

// integrityWord is the verdict for the title bar.
func integrityWord(ps []integrity.Problem) string {
	r := integrity.Verdict(ps)
	if r.OK {
		return "integrity ok"
	}
	return fmt.Sprintf("integrity FAILED (%d)", len(r.Problems))
}
