package app_test

import (
	"context"
	"errors"
	"path"
	"sync"
	"testing"

	"github.com/strata-forensics/strata/tui/app"
	"github.com/strata-forensics/strata/tui/internal/fake"
)

// extractor records what the explorer asks to extract.
type extractor struct {
	mu    sync.Mutex
	calls []extractCall
	err   error
}

type extractCall struct {
	path  string
	layer int
	dest  string
}

func (x *extractor) Extract(_ context.Context, p string, layerIdx int, dest string) (string, string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls = append(x.calls, extractCall{p, layerIdx, dest})
	if x.err != nil {
		return "", "", x.err
	}
	return path.Join(dest, path.Base(p)), "f00d", nil
}

func (x *extractor) called() []extractCall {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]extractCall(nil), x.calls...)
}

func extractLoader(img *fake.Image, ex app.Extractor) app.Loader {
	return func(ctx context.Context, progress func(app.Progress)) (*app.Session, error) {
		return &app.Session{Input: "xz.tar", Images: []app.Image{{
			Image: img.Image, Tree: img.Tree, Findings: img.Findings, Content: img.Content, Layers: img.Layers, Extract: ex,
		}}}, nil
	}
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		err    error
		status string
		want   []extractCall
	}{{
		name:   "to the folder proposed",
		keys:   []string{"/", "r", "u", "n", ".", "s", "h", "enter", "n", "x", "enter"},
		status: "wrote run.sh (sha256 f00d)",
		want:   []extractCall{{"/app/run.sh", 2, "."}},
	}, {
		name:   "to a folder typed",
		keys:   []string{"/", "r", "u", "n", ".", "s", "h", "enter", "n", "x", "backspace", "o", "u", "t", "enter"},
		status: "wrote out/run.sh (sha256 f00d)",
		want:   []extractCall{{"/app/run.sh", 2, "out"}},
	}, {
		// A path deleted by layer 2 is extracted as layer 1 left it.
		name:   "a deleted path",
		keys:   []string{"H", "/", "b", "u", "i", "l", "d", "enter", "n", "x", "enter"},
		status: "wrote build.sh (sha256 f00d)",
		want:   []extractCall{{"/tmp/build.sh", 1, "."}},
	}, {
		name:   "refused",
		keys:   []string{"/", "r", "u", "n", ".", "s", "h", "enter", "n", "x", "enter"},
		err:    errors.New("out/run.sh exists; --force to replace"),
		status: "extract failed: out/run.sh exists; --force to replace",
		want:   []extractCall{{"/app/run.sh", 2, "."}},
	}, {
		// Esc closes the prompt, and keys are the explorer's again.
		name:   "cancelled",
		keys:   []string{"/", "r", "u", "n", ".", "s", "h", "enter", "n", "x", "esc", "c"},
		status: "[changes /run.sh] 1 match",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := &extractor{err: tc.err}
			s := startWith(t, 100, 30, extractLoader(fake.XZ(), ex))
			s.keys(tc.keys...)
			s.waitFor(tc.status)
			s.final()
			got := ex.called()
			if len(got) != len(tc.want) {
				t.Fatalf("extract calls %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("extract call %+v, want %+v", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestExtractUnavailable(t *testing.T) {
	s := startWith(t, 100, 30, extractLoader(fake.XZ(), nil))
	s.keys("/", "r", "u", "n", ".", "s", "h", "enter", "n", "x")
	s.waitFor("extract not available in this build")
	s.final()
}
