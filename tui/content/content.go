// Package content is the explorer's read-only viewer: it streams a file's
// bytes from its layer blob (bounded), shows text as text and anything else
// as a hex dump, and diffs a text file between two layers. Bytes from the
// image never reach the terminal raw: control characters are made visible.
package content

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/tui/internal/pane"
	"github.com/strata-forensics/strata/tui/internal/scroll"
	"github.com/strata-forensics/strata/tui/internal/text"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

// Limits on what the viewer reads: it is for looking at scripts and
// configs, not for copying gigabytes into memory.
const (
	ViewLimit = 1 << 20
	DiffLimit = 256 << 10
	diffLines = 2000
)

// Opener gives the bytes of an entry as stored in a layer's blob.
type Opener interface {
	Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error)
}

// Version names one version of a file: the layer whose blob holds it and
// its entry there.
type Version struct {
	Layer int
	Entry *layer.Entry
}

// LoadedMsg carries bytes read for the viewer.
type LoadedMsg struct {
	Req       int
	Data      []byte
	Truncated bool
	Err       error
	// For a diff, Old is the earlier version's bytes.
	Old          []byte
	OldTruncated bool
	Diff         bool
}

// read reads at most limit bytes of v, reporting whether there was more.
func read(o Opener, v Version, limit int) ([]byte, bool, error) {
	if o == nil {
		return nil, false, fmt.Errorf("content is not available for this input")
	}
	rc, err := o.Open(v.Layer, v.Entry)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, int64(limit)+1))
	if err != nil {
		return buf.Bytes(), false, fmt.Errorf("%s in layer %d: %w", v.Entry.Path, v.Layer, err)
	}
	if n > int64(limit) {
		return buf.Bytes()[:limit], true, nil
	}
	return buf.Bytes(), false, nil
}

// Load returns a command reading v for the viewer.
func Load(o Opener, req int, v Version) tea.Cmd {
	return func() tea.Msg {
		data, trunc, err := read(o, v, ViewLimit)
		return LoadedMsg{Req: req, Data: data, Truncated: trunc, Err: err}
	}
}

// LoadDiff returns a command reading two versions for a diff.
func LoadDiff(o Opener, req int, old, cur Version) tea.Cmd {
	return func() tea.Msg {
		a, at, err := read(o, old, DiffLimit)
		if err != nil {
			return LoadedMsg{Req: req, Err: err, Diff: true}
		}
		b, bt, err := read(o, cur, DiffLimit)
		return LoadedMsg{Req: req, Data: b, Truncated: bt, Old: a, OldTruncated: at, Err: err, Diff: true}
	}
}

type mode int

const (
	modeText mode = iota
	modeHex
	modeDiff
)

// KeyMap is the viewer's keys: they scroll it.
type KeyMap struct {
	keys.Nav
}

// DefaultKeyMap is the viewer's default key map.
func DefaultKeyMap() KeyMap { return KeyMap{Nav: keys.DefaultNav()} }

// Model is the viewer.
type Model struct {
	KeyMap  KeyMap
	title   string
	req     int
	loading bool
	err     error
	mode    mode
	data    []byte
	lines   []string // text and diff modes
	kinds   []byte   // diff line kinds: ' ', '+', '-'
	note    string
	cur     scroll.Cursor
	width   int
	focused bool
	st      *styles.Styles
}

var _ pane.Model[Model] = (*Model)(nil)

// New returns an empty viewer.
func New(st *styles.Styles) Model { return Model{KeyMap: DefaultKeyMap(), st: st} }

// Begin starts showing a new file; only the LoadedMsg with the returned
// request id is taken, so a slow read never overwrites a newer one.
func (m *Model) Begin(title string) int {
	m.req++
	m.title, m.loading, m.err, m.note = title, true, nil, ""
	m.data, m.lines, m.kinds = nil, nil, nil
	m.cur = scroll.Cursor{Height: m.cur.Height}
	return m.req
}

// Title is the pane's header.
func (m Model) Title() string {
	t := m.title
	switch {
	case m.loading:
		t += " (reading…)"
	case m.mode == modeHex:
		t += " [hex]"
	case m.mode == modeDiff:
		t += " [diff]"
	}
	if m.note != "" {
		t += " " + m.note
	}
	return t
}

// ShortHelp is the viewer's part of the one-line help.
func (m Model) ShortHelp() []key.Binding {
	return []key.Binding{m.KeyMap.PageDown}
}

// FullHelp is the viewer's column of the help screen.
func (m Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.KeyMap.Nav.Bindings()} }

// SetSize sets the pane's size, header excluded.
func (m *Model) SetSize(w, h int) {
	m.width = w
	m.cur.SetHeight(h)
	m.cur.SetLen(m.rows())
}

// SetFocused says whether the pane has the keyboard.
func (m *Model) SetFocused(f bool) { m.focused = f }

// Update takes loaded bytes and scrolls.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		if msg.Req != m.req {
			return m, nil
		}
		m.loading = false
		m.err = msg.Err
		if msg.Truncated || msg.OldTruncated {
			m.note = "(first " + text.Size(int64(len(msg.Data))) + " only)"
		}
		switch {
		case msg.Diff && msg.Err == nil:
			if !isText(msg.Data) || !isText(msg.Old) {
				m.note = "(binary: no diff)"
				m.setHex(msg.Data)
				break
			}
			m.mode = modeDiff
			m.lines, m.kinds = diff(splitLines(msg.Old), splitLines(msg.Data))
		case isText(msg.Data):
			m.mode = modeText
			m.data = msg.Data
			m.lines = splitLines(msg.Data)
		default:
			m.setHex(msg.Data)
		}
		m.cur.SetLen(m.rows())
	default:
		m.cur.Handle(msg, &m.KeyMap.Nav, scroll.Read)
	}
	return m, nil
}

func (m Model) rows() int {
	if m.mode == modeHex {
		per := m.perRow()
		return (len(m.data) + per - 1) / per
	}
	return len(m.lines)
}

func (m *Model) setHex(b []byte) {
	m.mode = modeHex
	m.data = b
	m.lines = nil
}

// isText: valid UTF-8 (a cut-off last rune allowed) without NUL bytes.
func isText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	if utf8.Valid(b) {
		return true
	}
	for cut := 1; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Safe makes a line from an image displayable: tabs become spaces and
// control characters (escape sequences above all) become visible ^X
// notation, so file content can never drive the terminal. Unlike
// printable.String, which escapes names losslessly (\xNN), a byte that is
// not UTF-8 or a C1 control takes one cell (·), as in a hex dump's text
// column, so that the viewer's columns stay aligned.
func Safe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r < 0xa0, r == utf8.RuneError:
			b.WriteString("·")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// perRow is how many bytes a hex row shows at this width: 16 as hexdump
// -C does when there is room, fewer in a narrow pane, so the text column is
// never cut off.
func (m Model) perRow() int {
	per := 16
	for per > 4 && 10+per*3+1+per+2 > m.width {
		per /= 2
	}
	return per
}

func hexRow(b []byte, off, per int) string {
	end := min(off+per, len(b))
	var sb strings.Builder
	fmt.Fprintf(&sb, "%08x  ", off)
	for i := off; i < off+per; i++ {
		if i < end {
			fmt.Fprintf(&sb, "%02x ", b[i])
		} else {
			sb.WriteString("   ")
		}
		if per == 16 && i == off+7 {
			sb.WriteByte(' ')
		}
	}
	sb.WriteString(" |")
	for _, c := range b[off:end] {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('|')
	return sb.String()
}

// View renders the lines on screen; hex rows are formatted as they are
// shown, so a megabyte of binary costs nothing until scrolled to.
func (m Model) View() string {
	from, to := m.cur.Visible()
	out := make([]string, 0, m.cur.Height)
	switch {
	case m.err != nil:
		out = append(out, text.Fit(m.st.Error.Render(Safe(m.err.Error())), m.width))
	case m.loading:
		out = append(out, text.Fit(m.st.Dim.Render(" reading from the layer blob…"), m.width))
	case m.cur.Len == 0:
		out = append(out, text.Fit(m.st.Dim.Render(" (empty)"), m.width))
	}
	if m.err == nil {
		for i := from; i < to; i++ {
			var l string
			switch m.mode {
			case modeHex:
				per := m.perRow()
				l = hexRow(m.data, i*per, per)
			case modeDiff:
				l = string(m.kinds[i]) + " " + Safe(m.lines[i])
			default:
				l = Safe(m.lines[i])
			}
			l = text.Fit(l, m.width)
			if m.mode == modeDiff {
				switch m.kinds[i] {
				case '+':
					l = m.st.P.Added.Render(l)
				case '-':
					l = m.st.P.Deleted.Render(l)
				}
			}
			out = append(out, l)
		}
	}
	for len(out) < m.cur.Height {
		out = append(out, strings.Repeat(" ", max(m.width, 0)))
	}
	return strings.Join(out[:m.cur.Height], "\n")
}

// diff is a line diff by longest common subsequence, bounded to diffLines
// lines a side (common head and tail are trimmed first, so long files with
// a small change stay cheap).
func diff(a, b []string) ([]string, []byte) {
	var lines []string
	var kinds []byte
	add := func(k byte, s string) { lines, kinds = append(lines, s), append(kinds, k) }
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	for _, s := range a[:head] {
		add(' ', s)
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	if len(ma) > diffLines || len(mb) > diffLines {
		for _, s := range ma {
			add('-', s)
		}
		for _, s := range mb {
			add('+', s)
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int32, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				add(' ', ma[i])
				i, j = i+1, j+1
			case i < len(ma) && (j == len(mb) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				add('-', ma[i])
				i++
			default:
				add('+', mb[j])
				j++
			}
		}
	}
	for _, s := range a[len(a)-tail:] {
		add(' ', s)
	}
	return lines, kinds
}
