package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/strata-forensics/strata/internal/testkit/golden"
	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
	"github.com/strata-forensics/strata/tui/keys"
	"github.com/strata-forensics/strata/tui/styles"
)

func loader(img *fake.Image) app.Loader {
	return func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		progress(app.Progress{LayersDone: 1, Layers: 3})
		return &app.Session{Input: "xz.tar", Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers,
		}}}, nil
	}
}

// probe wraps the explorer and publishes its screen after every update,
// so a test waits on what the screen says rather than on time.
type probe struct {
	m      tea.Model
	latest *latest
}

type latest struct {
	mu     sync.Mutex
	screen string
}

func (p probe) Init() tea.Cmd { return p.m.Init() }

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	p.m, cmd = p.m.Update(msg)
	s := screen(p.m)
	p.latest.mu.Lock()
	p.latest.screen = s
	p.latest.mu.Unlock()
	return p, cmd
}

func (p probe) View() tea.View { return p.m.View() }

// screen is the model's screen as plain text, one line per row.
func screen(m tea.Model) string {
	lines := strings.Split(ansi.Strip(m.View().Content), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

type session struct {
	t  *testing.T
	tm *teatest.TestModel
	l  *latest
}

func start(t *testing.T, w, h int) *session {
	t.Helper()
	return startWith(t, w, h, loader(fake.XZ()))
}

func startWith(t *testing.T, w, h int, load app.Loader) *session {
	t.Helper()
	l := &latest{}
	m := app.New(context.Background(), load, app.Options{Styles: styles.Mono(), Keys: keys.Default()})
	tm := teatest.NewTestModel(t, probe{m: m, latest: l}, teatest.WithInitialTermSize(w, h))
	s := &session{t: t, tm: tm, l: l}
	s.waitFor("Layers (3)")
	return s
}

// waitFor waits until the screen shows want.
func (s *session) waitFor(want string) {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.l.mu.Lock()
		got := s.l.screen
		s.l.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.t.Fatalf("screen never showed %q; last screen:\n%s", want, s.l.screen)
}

func (s *session) keys(ks ...string) {
	for _, k := range ks {
		s.tm.Send(press(k))
	}
}

func (s *session) final() string {
	s.t.Helper()
	if err := s.tm.Quit(); err != nil {
		s.t.Fatal(err)
	}
	return screen(s.tm.FinalModel(s.t, teatest.WithFinalTimeout(5*time.Second)).(probe).m)
}

func press(s string) tea.KeyPressMsg { return fake.Key(s) }

func TestScreens(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		run  func(s *session)
		want []string // also on screen, beside the golden file
	}{
		{name: "start", w: 100, h: 30, run: func(s *session) {}, want: []string{"Tree @ layer 2", "CRITICAL", "integrity ok"}},
		{name: "layer-selection", w: 100, h: 30, run: func(s *session) {
			s.keys("shift+tab", "up")
			s.waitFor("Tree @ layer 1")
		}, want: []string{"apt-get install -y xz-utils", "diff_id", "54db133a109fd7f0d6eb72da"}},
		{name: "layer-changes", w: 100, h: 30, run: func(s *session) {
			s.keys("shift+tab", "up", "c")
			s.waitFor("[changes]")
		}, want: []string{"liblzma.so.5.6.1", "app.conf", "build.sh"}},
		{name: "findings-jump", w: 100, h: 30, run: func(s *session) {
			s.keys("tab", "enter")
			s.waitFor("Tree @ layer 1")
		}, want: []string{"▸ liblzma.so.5.6.1"[len("▸ "):], "sha256:", "xz-liblzma-digest"}},
		{name: "search", w: 100, h: 30, run: func(s *session) {
			s.keys("/", "l", "z", "m", "a", "enter", "n")
			s.waitFor("/lzma] 2 matches")
		}, want: []string{"liblzma.so.5"}},
		{name: "help", w: 100, h: 30, run: func(s *session) {
			s.keys("?")
			s.waitFor("Keys")
		}, want: []string{"search paths", "findings only", "layer changes only"}},
		{name: "80x24", w: 80, h: 24, run: func(s *session) {
			s.keys("tab", "enter")
			s.waitFor("Tree @ layer 1")
		}},
		{name: "diff", w: 100, h: 30, run: func(s *session) {
			s.keys("/", "a", "p", "p", ".", "c", "enter", "n")
			s.waitFor("1 match")
			s.keys("shift+tab", "up", "d")
			s.waitFor("[diff]")
		}, want: []string{"- listen = 80", "+ listen = 8080"}},
		{name: "hidden-content", w: 100, h: 30, run: func(s *session) {
			s.keys("D")
			s.waitFor("deleted-shipped")
			s.keys("n", "n", "v")
			s.waitFor("make install")
		}},
		{name: "resize", w: 80, h: 24, run: func(s *session) {
			s.tm.Send(tea.WindowSizeMsg{Width: 120, Height: 32})
			s.waitFor("Tree @ layer 2" + strings.Repeat(" ", 0))
			s.tm.Send(tea.WindowSizeMsg{Width: 30, Height: 8})
			s.waitFor("needs at least")
			s.tm.Send(tea.WindowSizeMsg{Width: 120, Height: 32})
			s.waitFor("Layers (3)")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.w, tc.h)
			tc.run(s)
			got := s.final()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("screen lacks %q:\n%s", w, got)
				}
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			wantW, wantH := tc.w, tc.h
			if tc.name == "resize" {
				wantW, wantH = 120, 32
			}
			if len(lines) != wantH {
				t.Errorf("%d lines, want %d", len(lines), wantH)
			}
			for i, l := range lines {
				if ansi.StringWidth(l) > wantW {
					t.Errorf("line %d is %d cells wide, want at most %d: %q", i, ansi.StringWidth(l), wantW, l)
				}
			}
			golden.Assert(t, golden.Path(t), []byte(got))
		})
	}
}

// While loading, the explorer shows how far it is: decompressing an input
// compressed as a whole, then reading layers.
func TestLoadingScreens(t *testing.T) {
	img := fake.XZ()
	steps := make(chan app.Progress)
	load := func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		for p := range steps {
			progress(p)
		}
		return &app.Session{Input: "xz.tar.gz", Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers,
		}}}, nil
	}
	l := &latest{}
	m := app.New(context.Background(), load, app.Options{Styles: styles.Mono(), Keys: keys.Default()})
	tm := teatest.NewTestModel(t, probe{m: m, latest: l}, teatest.WithInitialTermSize(80, 24))
	s := &session{t: t, tm: tm, l: l}
	s.waitFor("Opening the input")
	steps <- app.Progress{Indexing: true, Bytes: 1 << 20, TotalBytes: 4 << 20}
	s.waitFor("Decompressing the input: 1.0M of 4.0M")
	s.waitFor("[############......................................]")
	steps <- app.Progress{LayersDone: 1, Layers: 3}
	s.waitFor("Reading layers: 1 of 3")
	close(steps)
	s.waitFor("Layers (3)")
	s.final()
}
