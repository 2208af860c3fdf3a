package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// progress draws one status line on a terminal's stderr while a scan runs:
// input, layers done of all, bytes read, rate and time left, and for
// several inputs how many are read. It is only ever attached to a
// terminal; reports never see it.
type progress struct {
	w      io.Writer
	now    func() time.Time
	inputs int // inputs in the scan; a fleet scans several at once
	mu     sync.Mutex
	starts map[string]time.Time // when each input began
	read   map[string]bool      // inputs whose layers are all read
	width  int                  // length of the last line drawn, to blank it
	last   string               // the last line drawn, to draw again under a note
}

func newProgress(w io.Writer, now func() time.Time, inputs int) *progress {
	return &progress{w: w, now: now, inputs: inputs, starts: map[string]time.Time{}, read: map[string]bool{}}
}

// update is scan.Options.Progress; scans call it from several goroutines,
// for several inputs at once. An input's first report starts its clock.
func (p *progress) update(s scan.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start, ok := p.starts[s.Input]
	if !ok {
		start = p.now()
		p.starts[s.Input] = start
	}
	if !s.Indexing && s.LayersDone == s.Layers {
		p.read[s.Input] = true
	}
	line := progressLine(s, p.now().Sub(start))
	if p.inputs > 1 {
		line = fmt.Sprintf("[%d/%d read] %s", len(p.read), p.inputs, line)
	}
	p.draw(line)
}

// done clears the line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
	p.last = ""
}

func (p *progress) draw(line string) {
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width, p.last = len(line), line
}

// note writes a line of its own above the status line, which is drawn
// again below it.
func (p *progress) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s\n", line, pad)
	p.width = 0
	if p.last != "" {
		p.draw(p.last)
	}
}

// progressLine formats one status line; the rate and time left come from
// the compressed bytes read so far in elapsed.
func progressLine(s scan.Progress, elapsed time.Duration) string {
	var b strings.Builder
	if s.Indexing {
		fmt.Fprintf(&b, "%s: decompressing", printable.String(s.Input))
	} else {
		fmt.Fprintf(&b, "%s: layer %d of %d", printable.String(s.Input), s.LayersDone, s.Layers)
	}
	if s.TotalBytes > 0 {
		fmt.Fprintf(&b, ", %s of %s", report.HumanBytes(s.Bytes), report.HumanBytes(s.TotalBytes))
	} else {
		fmt.Fprintf(&b, ", %s", report.HumanBytes(s.Bytes))
	}
	if secs := elapsed.Seconds(); secs > 0 && s.Bytes > 0 {
		rate := float64(s.Bytes) / secs
		fmt.Fprintf(&b, ", %s/s", report.HumanBytes(int64(rate)))
		if left := s.TotalBytes - s.Bytes; s.TotalBytes > 0 && left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(&b, ", %s left", eta)
		}
	}
	return b.String()
}
