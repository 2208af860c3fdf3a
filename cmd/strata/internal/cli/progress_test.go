package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// Inputs of a fleet are read at once: each keeps its own clock, and the
// line says how many are read.
func TestProgressFleet(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, func() time.Time { return clock }, 3)
	p.update(scan.Progress{Input: "a.tar", Layers: 1, TotalBytes: 1024})
	clock = clock.Add(time.Second)
	p.update(scan.Progress{Input: "b.tar", Layers: 1, TotalBytes: 1024})
	p.update(scan.Progress{Input: "a.tar", LayersDone: 1, Layers: 1, Bytes: 1024, TotalBytes: 1024})
	clock = clock.Add(time.Second)
	p.update(scan.Progress{Input: "b.tar", LayersDone: 1, Layers: 1, Bytes: 1024, TotalBytes: 1024})
	// An input being decompressed has no layers yet: it is not read.
	p.update(scan.Progress{Input: "c.tar.gz", Indexing: true, Bytes: 1024, TotalBytes: 4096})
	out := buf.String()
	for _, want := range []string{
		"[1/3 read] a.tar: layer 1 of 1, 1.0 KiB of 1.0 KiB, 1.0 KiB/s",
		"[2/3 read] b.tar: layer 1 of 1, 1.0 KiB of 1.0 KiB, 1.0 KiB/s", // b's clock began a second later
		"[2/3 read] c.tar.gz: decompressing, 1.0 KiB of 4.0 KiB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
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
