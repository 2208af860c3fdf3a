package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/strata-forensics/strata/forensics/scan"
)

func TestProgressLine(t *testing.T) {
	cases := []struct {
		name    string
		p       scan.Progress
		elapsed time.Duration
		want    string
	}{
		{"start", scan.Progress{Input: "a.tar", Layers: 4, TotalBytes: 4 << 20}, 0, "a.tar: layer 0 of 4, 0 B of 4.0 MiB"},
		{"half way", scan.Progress{Input: "a.tar", LayersDone: 2, Layers: 4, Bytes: 2 << 20, TotalBytes: 4 << 20}, 2 * time.Second,
			"a.tar: layer 2 of 4, 2.0 MiB of 4.0 MiB, 1.0 MiB/s, 2s left"},
		{"done", scan.Progress{Input: "a.tar", LayersDone: 4, Layers: 4, Bytes: 4 << 20, TotalBytes: 4 << 20}, 4 * time.Second,
			"a.tar: layer 4 of 4, 4.0 MiB of 4.0 MiB, 1.0 MiB/s"},
		{"decompressing an input compressed as a whole", scan.Progress{Input: "a.tar.gz", Indexing: true, Bytes: 1 << 20, TotalBytes: 4 << 20}, time.Second,
			"a.tar.gz: decompressing, 1.0 MiB of 4.0 MiB, 1.0 MiB/s, 3s left"},
		{"sizes unknown", scan.Progress{Input: "l.tar", LayersDone: 1, Layers: 2, Bytes: 512}, time.Second,
			"l.tar: layer 1 of 2, 512 B, 512 B/s"},
		// A file in a scanned folder may be named by whoever left it there.
		{"a name with control characters", scan.Progress{Input: "ev/\x1b]0;x\x07.tar", Layers: 1}, 0,
			"ev/^[]0;x^G.tar: layer 0 of 1, 0 B"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := progressLine(c.p, c.elapsed); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestProgressDraws(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, func() time.Time { return clock }, 1)
	p.update(scan.Progress{Input: "image.tar", Layers: 2, TotalBytes: 2048}) // the clock starts
	clock = clock.Add(time.Second)
	p.update(scan.Progress{Input: "image.tar", LayersDone: 1, Layers: 2, Bytes: 1024, TotalBytes: 2048})
	p.done()
	out := buf.String()
	if !strings.Contains(out, "\rimage.tar: layer 1 of 2, 1.0 KiB of 2.0 KiB, 1.0 KiB/s, 1s left") {
		t.Errorf("no progress line in %q", out)
	}
	if !strings.HasSuffix(out, "\r") || strings.Contains(out, "\n") {
		t.Errorf("the line is not cleared in place: %q", out)
	}
}

// Inputs of a fleet are read at once: the line is the fleet's, inputs
// done of all and the bytes, rate and time left of the whole fleet, then
// what the input heard from last is doing.
func TestProgressFleet(t *testing.T) {
	type step struct {
		advance  time.Duration
		p        *scan.Progress // an update, or
		finished string         // an outcome handed over
		want     string         // the line then drawn
	}
	cases := []struct {
		name   string
		inputs int
		sizes  map[string]int64 // on disk, before the scan
		cols   int
		steps  []step
	}{
		{"sizes known from the start", 3, map[string]int64{"a.tar": 1024, "b.tar": 1024, "c.tar.gz": 2048}, 0, []step{
			{0, &scan.Progress{Input: "a.tar", Layers: 1, TotalBytes: 1024}, "", "0/3 inputs done, 0 B of 4.0 KiB; a.tar: layer 0 of 1"},
			{time.Second, &scan.Progress{Input: "a.tar", LayersDone: 1, Layers: 1, Bytes: 1024, TotalBytes: 1024}, "",
				"1/3 inputs done, 1.0 KiB of 4.0 KiB, 1.0 KiB/s, 3s left; a.tar: layer 1 of 1"},
			// An input compressed as a whole: decompressing counts its
			// bytes on disk...
			{time.Second, &scan.Progress{Input: "c.tar.gz", Indexing: true, Bytes: 1024, TotalBytes: 2048}, "",
				"1/3 inputs done, 2.0 KiB of 4.0 KiB, 1.0 KiB/s, 2s left; c.tar.gz: decompressing"},
			// ... then its layers start from nothing: the fleet's
			// bytes do not go back.
			{0, &scan.Progress{Input: "c.tar.gz", Layers: 2, TotalBytes: 8192}, "",
				"1/3 inputs done, 2.0 KiB of 4.0 KiB, 1.0 KiB/s, 2s left; c.tar.gz: layer 0 of 2"},
			{0, nil, "a.tar", "1/3 inputs done, 2.0 KiB of 4.0 KiB, 1.0 KiB/s, 2s left; c.tar.gz: layer 0 of 2"},
			// An input that fails is done too.
			{time.Second, nil, "b.tar", "2/3 inputs done, 3.0 KiB of 4.0 KiB, 1.0 KiB/s, 1s left; c.tar.gz: layer 0 of 2"},
			{0, &scan.Progress{Input: "c.tar.gz", LayersDone: 2, Layers: 2, Bytes: 8192, TotalBytes: 8192}, "",
				"3/3 inputs done, 4.0 KiB of 4.0 KiB, 1.3 KiB/s"},
		}},
		// A folder has no size before it reports: the total is a lower
		// bound ("+") and no time left is promised until it is known.
		{"a folder's size comes with its first report", 2, map[string]int64{"a.tar": 1024}, 0, []step{
			{0, &scan.Progress{Input: "a.tar", Layers: 1, TotalBytes: 1024}, "", "0/2 inputs done, 0 B of 1.0 KiB+; a.tar: layer 0 of 1"},
			{time.Second, &scan.Progress{Input: "a.tar", LayersDone: 1, Layers: 1, Bytes: 1024, TotalBytes: 1024}, "",
				"1/2 inputs done, 1.0 KiB of 1.0 KiB+, 1.0 KiB/s; a.tar: layer 1 of 1"},
			{0, &scan.Progress{Input: "layout", Layers: 4, TotalBytes: 3072}, "",
				"1/2 inputs done, 1.0 KiB of 4.0 KiB, 1.0 KiB/s, 3s left; layout: layer 0 of 4"},
			// Sizes unknown: layers count instead.
			{time.Second, &scan.Progress{Input: "layout", LayersDone: 2, Layers: 4, Bytes: 1536, TotalBytes: 3072}, "",
				"1/2 inputs done, 2.5 KiB of 4.0 KiB, 1.2 KiB/s, 1s left; layout: layer 2 of 4"},
		}},
		// A line wider than the terminal would wrap, and a carriage
		// return would not draw over it: it is cut one column short.
		{"narrow terminal", 2, map[string]int64{"a-long-input-name.tar": 1024, "b.tar": 1024}, 40, []step{
			{0, &scan.Progress{Input: "a-long-input-name.tar", Layers: 3, TotalBytes: 1024}, "", "0/2 inputs done, 0 B of 2.0 KiB; a-lon…"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
			p := newProgress(&buf, func() time.Time { return clock }, c.inputs)
			p.cols = c.cols
			p.sized(c.sizes)
			for i, s := range c.steps {
				clock = clock.Add(s.advance)
				buf.Reset()
				if s.p != nil {
					p.update(*s.p)
				} else {
					p.finished(s.finished)
				}
				got := strings.TrimRight(strings.TrimPrefix(buf.String(), "\r"), " ")
				if got != s.want {
					t.Errorf("step %d: got  %q\nwant %q", i+1, got, s.want)
				}
				if c.cols > 0 && utf8.RuneCountInString(strings.TrimPrefix(buf.String(), "\r")) >= c.cols {
					t.Errorf("step %d: %q is as wide as the terminal", i+1, buf.String())
				}
			}
		})
	}
}

// A note (a rejected cache entry) goes on a line of its own above the
// status line, which is drawn again below it; held notes wait for release.
func TestProgressNote(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, func() time.Time { return clock }, 1)
	var n notices
	n.w = &buf
	n.drawOver(p)
	p.update(scan.Progress{Input: "image.tar", Layers: 2, TotalBytes: 2048})
	n.say("strata: cache: rejected")
	want := "\rimage.tar: layer 0 of 2, 0 B of 2.0 KiB\rstrata: cache: rejected" + strings.Repeat(" ", len("image.tar: layer 0 of 2, 0 B of 2.0 KiB")-len("strata: cache: rejected")) +
		"\n\rimage.tar: layer 0 of 2, 0 B of 2.0 KiB"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
	n.drawOver(nil)
	p.done()
	buf.Reset()
	n.hold()
	n.say("held")
	if buf.Len() != 0 {
		t.Errorf("a held note written: %q", buf.String())
	}
	n.release()
	n.say("after")
	if buf.String() != "held\nafter\n" {
		t.Errorf("released: %q", buf.String())
	}
}
