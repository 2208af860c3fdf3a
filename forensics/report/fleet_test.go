package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/finding"
)

func TestFleetSummary(t *testing.T) {
	cases := []struct {
		name     string
		sources  func(testing.TB) []Source
		verdicts map[Status]int
		findings []string // severity rule path (images), worst first
		shared   []string // layer n of the planted image: compromised/images/findings
	}{
		{"one image", one(cleanSource), map[Status]int{Clean: 1}, nil, nil},
		{"one input, two images", one(sampleSource), map[Status]int{Compromised: 1, IntegrityFailed: 1},
			[]string{"critical TEST-digest /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 (1)", "medium TEST-signature /opt/old/liblzma.so.5.6.0 (1)", "low TEST-package /var/lib/dpkg/status (1)"}, nil},
		// The same compromised image in two inputs: every one of its
		// layers is shared; the one only compromised images carry comes
		// before the base the clean image has too, and the one with the
		// findings first of all.
		{"compromised fleet", compromisedFleet, map[Status]int{Compromised: 2, IntegrityFailed: 2, Clean: 1},
			[]string{"critical TEST-digest /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 (2)", "medium TEST-signature /opt/old/liblzma.so.5.6.0 (2)", "low TEST-package /var/lib/dpkg/status (2)"},
			[]string{"layer1 2/2/6", "layer2 2/2/0", "layer0 2/5/0"}},
		// The same image in a registry's gzip and a zstd repack: other
		// digests, the same layers.
		{"one layer, two compressions", func(t testing.TB) []Source { return []Source{sampleSource(t), recompressed(t)} },
			map[Status]int{Compromised: 2, IntegrityFailed: 2},
			[]string{"critical TEST-digest /usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1 (2)", "medium TEST-signature /opt/old/liblzma.so.5.6.0 (2)", "low TEST-package /var/lib/dpkg/status (2)"},
			[]string{"layer1 2/2/6", "layer2 2/2/0", "layer0 2/4/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewDocument(testMeta(t), c.sources(t)...).Fleet()
			for _, st := range Statuses {
				if s.Verdicts[st] != c.verdicts[st] {
					t.Errorf("%s: %d images, want %d", st, s.Verdicts[st], c.verdicts[st])
				}
			}
			var fs []string
			for _, f := range s.Findings {
				fs = append(fs, fmt.Sprintf("%s %s %s (%d)", f.Severity, f.Rule, f.Path, f.Images))
			}
			if strings.Join(fs, "\n") != strings.Join(c.findings, "\n") {
				t.Errorf("findings\n%s\nwant\n%s", strings.Join(fs, "\n"), strings.Join(c.findings, "\n"))
			}
			var ls []string
			for _, l := range s.SharedLayers {
				name := l.ID
				for i := range 3 {
					if digest.FromString(fmt.Sprintf("diff%d", i)).String() == l.ID {
						name = fmt.Sprintf("layer%d", i)
					}
				}
				ls = append(ls, fmt.Sprintf("%s %d/%d/%d", name, l.Compromised, l.Images, l.Findings))
			}
			if strings.Join(ls, ", ") != strings.Join(c.shared, ", ") {
				t.Errorf("shared layers %v, want %v", ls, c.shared)
			}
		})
	}
}

// recompressed is sampleSource with its layers compressed otherwise: each
// has another digest, and the findings name those.
func recompressed(t testing.TB) Source {
	src := sampleSource(t)
	src.Input.Path = "xz-planted.zst.tar"
	moved := map[string]string{}
	for k, si := range src.Images {
		img := *si.Image
		img.Layers = nil
		for _, l := range si.Image.Layers {
			c := *l
			c.Digest = digest.FromString("zstd " + l.Digest.String())
			moved[l.Digest.String()] = c.Digest.String()
			img.Layers = append(img.Layers, &c)
		}
		src.Images[k].Image = &img
	}
	for i := range src.Findings {
		src.Findings[i].LayerDigest = moved[src.Findings[i].LayerDigest]
	}
	return src
}

// The summary of a big fleet stays a screen long: the top findings and
// layers only, with how many there are in all.
func TestFleetSummaryLimits(t *testing.T) {
	var srcs []Source
	for i := range 2 * fleetTopFindings {
		src := sampleSource(t)
		src.Input.Path = fmt.Sprintf("in%02d.tar", i)
		// Every input's compromised image gets a layer of its own, and
		// a finding of its own.
		img := *src.Images[0].Image
		l := *img.Layers[2]
		l.Digest, l.DiffID = digest.FromString(fmt.Sprintf("own%d", i)), digest.FromString(fmt.Sprintf("own diff%d", i))
		img.Layers = append(img.Layers[:2:2], &l)
		src.Images[0].Image = &img
		src.Findings = append(src.Findings, finding.Finding{Rule: "TEST-digest", Kind: finding.Digest, Severity: finding.Critical,
			Image: img.Ref(), Layer: 2, LayerDigest: l.Digest.String(), Path: fmt.Sprintf("/opt/own%d/liblzma.so.5", i), Present: true})
		finding.Sort(src.Findings)
		srcs = append(srcs, src)
	}
	d := NewDocument(testMeta(t), srcs...)
	text := string(render(t, d, Text, TextOptions{}))
	tail := text[strings.Index(text, "\nfleet:")+1:]
	for _, l := range strings.Split(strings.TrimSuffix(tail, "\n"), "\n") {
		if l != "" && !isFleetLine(l) && !strings.HasPrefix(l, "verdict: ") {
			t.Errorf("a summary line of no known shape: %q", l)
		}
	}
	want := fmt.Sprintf("worst findings (%d of %d kinds):", fleetTopFindings, 2*fleetTopFindings+3)
	if !strings.Contains(text, want+"\n") {
		t.Errorf("no %q in\n%s", want, tail)
	}
	// Only the two layers all of them share (the base and the install
	// step) are shared: each image's own top layer is not.
	if !strings.Contains(text, "\nlayers shared by the 10 compromised images:\n") {
		t.Errorf("no shared-layers heading in\n%s", tail)
	}
	if s := d.Fleet(); len(s.SharedLayers) != 2 || s.SharedLayers[0].Findings != 30 {
		t.Errorf("shared layers %+v", s.SharedLayers)
	}
	if n := strings.Count(tail, "\n"); n > 25 {
		t.Errorf("the summary is %d lines", n)
	}
}
