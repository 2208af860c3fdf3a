// Package app is the explorer's root model: it loads a session in the
// background, lays out the panes, keeps focus and routes messages. Domain
// logic lives in forensics; view logic lives in the pane packages.
package app

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/tree"
	"github.com/strata-forensics/strata/tui/content"
	"github.com/strata-forensics/strata/tui/filetree"
	"github.com/strata-forensics/strata/tui/layers"
)

// Session is what the explorer shows: one scanned input. The command that
// starts the explorer adapts a scan result into it, so the TUI depends on
// the forensic data types only and tests can build sessions by hand.
type Session struct {
	Input    string
	Images   []Image
	Problems []integrity.Problem
	// Coverage says what the input carries of what it names (platforms
	// not pulled, attachments).
	Coverage report.Coverage
}

// Image is one image of the input with its rebuilt tree.
type Image struct {
	Image    *image.Image
	Tree     *tree.Tree
	Findings []finding.Finding
	// LayerProblems holds each layer's integrity problems, by layer index.
	LayerProblems [][]integrity.Problem
	// Layers holds what reading each layer told (its digest as read, its
	// unpacked size and entry count), by layer index.
	Layers []layers.Facts
	// Content reads file bytes from layer blobs; nil disables the viewer.
	Content content.Opener
	// Extract writes one file out through the safe extraction path; nil
	// when extraction is not available.
	Extract Extractor
}

// Extractor writes the version of path held by layer layerIdx into
// destDir, returning the file written and its sha256.
type Extractor interface {
	Extract(ctx context.Context, path string, layerIdx int, destDir string) (written, sha256 string, err error)
}

// Progress is how far loading is.
type Progress struct {
	LayersDone, Layers int
	Bytes, TotalBytes  int64
	// Indexing: an input compressed as a whole is being decompressed (and
	// its layers walked); Bytes and TotalBytes count the input's bytes.
	Indexing bool
}

// Loader reads the input, reporting progress as layers stream in. It runs
// off the UI goroutine.
type Loader func(ctx context.Context, progress func(Progress)) (*Session, error)

type progressMsg Progress

type loadedMsg struct {
	sess    *Session
	indexes []*filetree.Index
	err     error
}

// start runs the loader and indexes the trees in the background, posting
// progress and the result to events. Progress is dropped rather than
// queued when the UI is behind: only the latest matters.
func start(ctx context.Context, load Loader, events chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		go func() {
			sess, err := load(ctx, func(p Progress) {
				select {
				case events <- progressMsg(p):
				default:
				}
			})
			msg := loadedMsg{sess: sess, err: err}
			if err == nil && sess != nil {
				for _, img := range sess.Images {
					paths := make([]string, 0, len(img.Findings))
					for _, f := range img.Findings {
						if f.Path != "" {
							paths = append(paths, f.Path)
						}
					}
					msg.indexes = append(msg.indexes, filetree.NewIndex(img.Tree, paths))
				}
			}
			select {
			case events <- msg:
			case <-ctx.Done():
			}
		}()
		return nil
	}
}

// wait yields the next background event.
func wait(ctx context.Context, events chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		select {
		case msg := <-events:
			return msg
		case <-ctx.Done():
			return nil
		}
	}
}
