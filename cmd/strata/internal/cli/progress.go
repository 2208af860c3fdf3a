package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/strata-forensics/strata/forensics/printable"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/scan"
)

// progress draws one status line on a terminal's stderr while a scan runs.
// For one input: layers done of all, bytes read, rate and time left. For a
// fleet: inputs done of all, bytes of the whole fleet, its rate and time
// left, then what the input heard from last is doing. It is only ever
// attached to a terminal; reports never see it.
type progress struct {
	w      io.Writer
	now    func() time.Time
	inputs int // inputs in the scan; a fleet scans several at once
	cols   int // the terminal's columns, to keep the line on one row; 0: unknown
	mu     sync.Mutex
	starts map[string]time.Time // when each input began
	// fleet is each input's share of the fleet's work, by path.
	fleet  map[string]*inputProgress
	began  time.Time // the fleet's first report
	detail string    // what the input heard from last is doing
	width  int       // length of the last line drawn, to blank it
	last   string    // the last line drawn, to draw again under a note
}

// inputProgress is how far one input of a fleet is.
type inputProgress struct {
	// weight is what the input counts for in the fleet's bytes: its size
	// on disk when known before it starts (a file), else the bytes its
	// scan first says it will read (a folder); 0 until then.
	weight int64
	// frac is how far through it is, 0 to 1. An input compressed as a
	// whole is read twice over (decompressed and indexed, then its
	// layers), each phase reporting from 0: frac is the furthest either
	// got, so that the fleet's bytes never go back.
	frac float64
	read bool // every layer read: done but for its turn in the report
	done bool // handed to the report, or failed
}

func newProgress(w io.Writer, now func() time.Time, inputs int) *progress {
	return &progress{w: w, now: now, inputs: inputs, starts: map[string]time.Time{}, fleet: map[string]*inputProgress{}}
}

// sized gives the fleet the inputs' sizes on disk before they start, so
// that its total, and so its time left, is known from the beginning; an
// input without one (a folder: summing it would mean walking it before
// the scan does) counts once it reports.
func (p *progress) sized(sizes map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for path, n := range sizes {
		p.input(path).weight = n
	}
}

func (p *progress) input(path string) *inputProgress {
	ip := p.fleet[path]
	if ip == nil {
		ip = &inputProgress{}
		p.fleet[path] = ip
	}
	return ip
}

// update is scan.Options.Progress; scans call it from several goroutines,
// for several inputs at once. An input's first report starts its clock.
func (p *progress) update(s scan.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	start, ok := p.starts[s.Input]
	if !ok {
		start = now
		p.starts[s.Input] = start
	}
	if p.inputs <= 1 {
		p.draw(progressLine(s, now.Sub(start)))
		return
	}
	if p.began.IsZero() {
		p.began = now
	}
	ip := p.input(s.Input)
	if ip.weight == 0 && s.TotalBytes > 0 {
		ip.weight = s.TotalBytes
	}
	var frac float64
	switch {
	case s.TotalBytes > 0:
		frac = float64(s.Bytes) / float64(s.TotalBytes)
	case s.Layers > 0:
		frac = float64(s.LayersDone) / float64(s.Layers)
	}
	ip.frac = max(ip.frac, min(frac, 1))
	if !s.Indexing && s.LayersDone == s.Layers {
		ip.read = true
	}
	if s.Indexing {
		p.detail = printable.String(s.Input) + ": decompressing"
	} else {
		p.detail = fmt.Sprintf("%s: layer %d of %d", printable.String(s.Input), s.LayersDone, s.Layers)
	}
	p.draw(p.fleetLine(now))
}

// finished marks an input of a fleet done: its outcome, a result or an
// error, is in hand.
func (p *progress) finished(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inputs <= 1 {
		return
	}
	ip := p.input(path)
	ip.done, ip.frac = true, 1
	if p.began.IsZero() {
		p.began = p.now()
	}
	p.draw(p.fleetLine(p.now()))
}

// fleetLine is the fleet's status: inputs done, bytes of all, rate and
// time left over the fleet since its first report, and the detail.
func (p *progress) fleetLine(now time.Time) string {
	done, unknown := 0, p.inputs-len(p.fleet) // inputs never heard of count as unknown
	var bytes, total float64
	for _, ip := range p.fleet {
		if ip.done || ip.read {
			done++
		}
		if ip.weight == 0 && !ip.done {
			unknown++
		}
		bytes += float64(ip.weight) * ip.frac
		total += float64(ip.weight)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d inputs done, %s of %s", done, p.inputs, report.HumanBytes(int64(bytes)), report.HumanBytes(int64(total)))
	if unknown > 0 {
		b.WriteString("+") // inputs whose size is not known yet
	}
	if secs := now.Sub(p.began).Seconds(); secs > 0 && bytes > 0 {
		rate := bytes / secs
		fmt.Fprintf(&b, ", %s/s", report.HumanBytes(int64(rate)))
		// Time left only once every input's size is known: an estimate
		// that leaves inputs out would only ever grow.
		eta := time.Duration((total - bytes) / rate * float64(time.Second)).Round(time.Second)
		if unknown == 0 && eta > 0 { // "0s left" would be noise on the last inputs
			fmt.Fprintf(&b, ", %s left", eta)
		}
	}
	if p.detail != "" && done < p.inputs {
		b.WriteString("; " + p.detail)
	}
	return b.String()
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
	if p.cols > 1 && utf8.RuneCountInString(line) > p.cols-1 {
		// A line that wraps cannot be drawn over with a carriage return:
		// keep it one column short of the terminal, so the cursor stays
		// on its row too.
		r := []rune(line)
		line = string(r[:p.cols-2]) + "…"
	}
	// Widths are in runes, not bytes: a name in UTF-8 or the ellipsis
	// would otherwise be padded past the end of the row.
	cols := utf8.RuneCountInString(line)
	pad := ""
	if n := p.width - cols; n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width, p.last = cols, line
}

// note writes a line of its own above the status line, which is drawn
// again below it.
func (p *progress) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := ""
	if n := p.width - utf8.RuneCountInString(line); n > 0 {
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
