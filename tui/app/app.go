package app

import (
	"context"
	"fmt"
	"path"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/content"
	"github.com/strata-forensics/strata/tui/details"
	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/findings"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/layers"
	"github.com/strata-forensics/strata/tui/prompt"
	"github.com/strata-forensics/strata/tui/styles"
)

// slot is a place on screen that a pane fills. The tree's slot shows the
// content viewer while a file is open.
type slot int

const (
	paneLayers slot = iota
	paneTree
	paneFindings
	paneDetails
	paneCount
)

// Options configure the explorer.
type Options struct {
	Styles styles.Styles
	Keys   keys.Map // the root's keys; each pane has its own KeyMap
}

// Model is the root model.
type Model struct {
	ctx    context.Context
	load   Loader
	events chan tea.Msg
	st     *styles.Styles // shared read-only by every pane
	km     keys.Map
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
	search   prompt.Model
	dest     prompt.Model // the extract destination
	focus    slot
	viewing  bool // the tree's slot shows the content viewer
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
	st := &opts.Styles
	return Model{
		ctx: ctx, load: load, events: make(chan tea.Msg, 4),
		st: st, km: opts.Keys, help: h,
		loading: true, focus: paneTree,
		search: prompt.New("/", st),
		dest:   prompt.New("extract to: ", st),
	}
}

// Rows is the number of rows the tree pane holds (not only those on
// screen).
func (m Model) Rows() int { return m.tree.Rows() }

// Init starts loading.
func (m Model) Init() tea.Cmd {
	return tea.Batch(start(m.ctx, m.load, m.events), wait(m.ctx, m.events))
}

// Update routes a message: background events, window size, the wheel to
// the pane under the pointer, keys through key.
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
		if m.sess == nil {
			return m, nil
		}
		return m.forward(m.paneAt(msg.X, msg.Y), msg)
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
		if li < len(img.Layers) {
			rows[li].Facts = img.Layers[li]
		}
		if li < len(img.LayerProblems) {
			rows[li].Problems = img.LayerProblems[li]
		}
	}
	m.layers = layers.New(rows, m.st)
	m.tree = filetree.New(m.indexes[i], m.st)
	m.findings = findings.New(img.Findings, m.st)
	m.details = details.New(img.Image.Layers, img.Layers, m.st)
	m.content = content.New(m.st)
	m.viewing = false
	m.layout()
	m.setFocus(m.focus)
}

// refreshDetails shows the focused pane's selection in the detail pane.
func (m *Model) refreshDetails() { m.describe(m.focus) }

// describe shows in the detail pane the selected layer when s is the
// layers pane, else the tree's selected path.
func (m *Model) describe(s slot) {
	if s == paneLayers {
		if l, ok := m.layers.Layer(m.layers.Selected()); ok {
			m.details.ShowLayer(l.Layer, l.Facts, l.Problems, l.Findings)
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

func (m *Model) setFocus(s slot) {
	m.focus = s
	m.layers.SetFocused(s == paneLayers)
	m.tree.SetFocused(s == paneTree && !m.viewing)
	m.content.SetFocused(s == paneTree && m.viewing)
	m.findings.SetFocused(s == paneFindings)
	m.details.SetFocused(s == paneDetails)
	if s != paneDetails {
		m.refreshDetails()
	}
}

// showTree gives the tree the keyboard, closing the viewer.
func (m *Model) showTree() {
	m.viewing = false
	m.setFocus(paneTree)
}

// jump shows a finding's path in the tree at the layer that carries it.
func (m *Model) jump(f finding.Finding) {
	if f.Layer >= 0 {
		m.layers.Select(f.Layer)
		m.tree.SetLayer(f.Layer)
	}
	if f.Path != "" && !m.tree.Select(f.Path) {
		m.status = f.Path + ": not in the tree"
		if f.Drift != "" {
			// The tree is the layers' tars; these bytes are not in one.
			m.status = f.Path + ": " + f.Drift + " in the layer's folder on the host, not in the layer as pulled"
		}
	}
	m.showTree()
}

// key routes a key press. An open prompt or the help screen takes every
// key; then come the root's keys; the tree's filter keys go to the tree
// whichever pane has focus; anything else goes to the focused pane.
func (m Model) key(k tea.KeyPressMsg) (Model, tea.Cmd) {
	m.status = ""
	switch {
	case m.loading || m.err != nil || m.sess == nil:
		return m, quitIf(key.Matches(k, m.km.Quit) || (m.err != nil && key.Matches(k, m.km.Clear)))
	case m.search.Active():
		m.search, _ = m.search.Update(k)
		m.tree.SetQuery(m.search.Value())
		m.refreshDetails()
		return m, nil
	case m.dest.Active():
		var cmd tea.Cmd
		if m.dest.Accepts(k) {
			cmd = m.extract(m.dest.Value())
		}
		m.dest, _ = m.dest.Update(k)
		return m, cmd
	case m.showHelp:
		m.showHelp = false
		return m, quitIf(key.Matches(k, m.km.Quit))
	}
	switch {
	case key.Matches(k, m.km.Quit):
		return m, tea.Quit
	case key.Matches(k, m.km.Help):
		m.showHelp = true
	case key.Matches(k, m.km.NextPane):
		m.setFocus((m.focus + 1) % paneCount)
	case key.Matches(k, m.km.PrevPane):
		m.setFocus((m.focus + paneCount - 1) % paneCount)
	case key.Matches(k, m.km.NextImage):
		if len(m.sess.Images) > 1 {
			m.setImage((m.img + 1) % len(m.sess.Images))
		}
	case key.Matches(k, m.km.Integrity):
		m.details.ShowProblems(m.sess.Input, m.sess.Problems, m.sess.Coverage.Words())
		m.setFocus(paneDetails)
	case key.Matches(k, m.km.Search):
		m.search.Open(m.tree.Filter().Query)
		m.showTree()
	case key.Matches(k, m.km.Next, m.km.Prev):
		m.nextMatch(key.Matches(k, m.km.Prev))
	case key.Matches(k, m.km.Clear):
		m.clear()
	case key.Matches(k, m.km.View, m.km.Diff):
		return m, m.view(key.Matches(k, m.km.Diff))
	case key.Matches(k, m.km.Extract):
		m.askDest()
	case key.Matches(k, m.tree.KeyMap.Filters()...):
		m.showTree()
		return m.forward(paneTree, k)
	default:
		return m.forward(m.focus, k)
	}
	return m, nil
}

// quitIf is tea.Quit when quit is set.
func quitIf(quit bool) tea.Cmd {
	if quit {
		return tea.Quit
	}
	return nil
}

// nextMatch moves the tree to the next path that passes its filter, or
// the previous one, and gives it the keyboard.
func (m *Model) nextMatch(back bool) {
	dir := 1
	if back {
		dir = -1
	}
	if !m.tree.NextMatch(dir) {
		m.status = "no matches: search with / or set a filter"
	}
	m.showTree()
}

// clear closes the viewer, or else clears the tree's filter.
func (m *Model) clear() {
	switch {
	case m.viewing:
		m.showTree()
	case m.tree.Filter() != filetree.Filter{}:
		m.tree.SetFilter(filetree.Filter{})
		m.refreshDetails()
	}
}

// askDest opens the extract prompt for the tree's selection.
func (m *Model) askDest() {
	switch n, _ := m.tree.Selected(); {
	case n == nil:
	case m.sess.Images[m.img].Extract == nil:
		m.status = "extract not available in this build"
	default:
		m.dest.Open(".")
	}
}

// forward hands msg to the pane in slot s and follows up on what changed:
// the tree shows the layer selected, the details what either selects.
// Open is the root's in two panes: on the layers it gives the keyboard to
// the tree, on a file in the tree it opens the viewer.
func (m Model) forward(s slot, msg tea.Msg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	k, isKey := msg.(tea.KeyPressMsg)
	switch s {
	case paneLayers:
		if isKey && key.Matches(k, m.layers.KeyMap.Open) {
			m.setFocus(paneTree)
			return m, nil
		}
		m.layers, cmd = m.layers.Update(msg)
		m.tree.SetLayer(m.layers.Selected())
		m.describe(paneLayers)
	case paneTree:
		if m.viewing {
			m.content, cmd = m.content.Update(msg)
			return m, cmd
		}
		if isKey && key.Matches(k, m.tree.KeyMap.Open) && m.fileSelected() {
			return m, m.view(false)
		}
		m.tree, cmd = m.tree.Update(msg)
		m.describe(paneTree)
	case paneFindings:
		m.findings, cmd = m.findings.Update(msg)
	case paneDetails:
		m.details, cmd = m.details.Update(msg)
	}
	return m, cmd
}

// fileSelected reports whether the tree's selection is something other
// than a folder, which Open views rather than folds.
func (m Model) fileSelected() bool {
	n, s := m.tree.Selected()
	return n != nil && s.Entry != nil && s.Entry.Type != layer.Dir
}

// version is the bytes the tree's selection has as of the viewed layer:
// its entry then (a deleted path's last one) through hard links, and the
// layer whose blob holds them (tree.Tree.Follow).
func (m Model) version(s tree.State) (content.Version, bool) {
	e, from := m.sess.Images[m.img].Tree.Follow(s.Entry, s.From)
	if e == nil || e.Type != layer.File || from < 0 {
		return content.Version{}, false
	}
	return content.Version{Layer: from, Entry: e}, true
}

// view opens the selected file in the viewer, or its diff with the
// version before it.
func (m *Model) view(asDiff bool) tea.Cmd {
	n, s := m.tree.Selected()
	if n == nil {
		return nil
	}
	v, ok := m.version(s)
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
	var old content.Version
	if old.Entry, old.Layer, ok = n.VersionBefore(v.Layer); !ok {
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

// integrityWord is the verdict for the title bar.
func integrityWord(ps []integrity.Problem) string {
	r := integrity.Verdict(ps)
	if r.OK {
		return "integrity ok"
	}
	return fmt.Sprintf("integrity FAILED (%d)", len(r.Problems))
}
