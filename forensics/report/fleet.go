package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/strata-forensics/strata/forensics/finding"
)

// Fleet summary limits: a fleet of thousands of images must still end
// with a table that fits a screen; the JSON report has everything.
const (
	fleetTopFindings = 5
	fleetTopLayers   = 10
)

// FleetSummary is what the end of a text report over several images
// says: how many images have each verdict, the worst findings across the
// fleet, and the layers the compromised images share, which is where an
// examiner looks for the common cause (a poisoned base, a shared build
// step).
type FleetSummary struct {
	Inputs, Images int
	// Verdicts counts images by status, in the order of Statuses.
	Verdicts map[Status]int
	// Findings are the kinds of findings (severity, rule, path), worst
	// first, then those in the most images.
	Findings []FleetFinding
	// Compromised is how many images are compromised.
	Compromised int
	// SharedLayers are the layers carried by at least two compromised
	// images: those in the most compromised images first, then those in
	// the fewest images in all (a layer only compromised images carry
	// says more than a base every image has), then in the order met.
	SharedLayers []SharedLayer
}

// Statuses are the verdicts in the order the summary counts them.
var Statuses = []Status{Compromised, Suspicious, IntegrityFailed, Clean}

// FleetFinding is one kind of finding across the fleet.
type FleetFinding struct {
	Severity finding.Severity
	Rule     string
	Path     string
	Images   int // distinct images (per input) it was found in
}

// SharedLayer is a layer carried by several compromised images.
type SharedLayer struct {
	// ID is the layer's diff_id, the digest of its uncompressed tar: one
	// layer saved by docker save, pushed gzip-compressed and repacked with
	// zstd has three digests but one diff_id. A layer without a diff_id
	// goes by its digest.
	ID          string
	Compromised int // compromised images carrying it
	Images      int // images carrying it, whatever their verdict
	Findings    int // findings of the compromised images in this layer
	CreatedBy   string
	first       int // order of first appearance, for a stable order
}

// Fleet sums the document up image by image.
func (d *Document) Fleet() FleetSummary {
	if d.text != nil {
		return d.text.tally.summary()
	}
	return d.tally().summary()
}

// tally sums up the inputs d holds in memory.
func (d *Document) tally() *fleetTally {
	t := newFleetTally()
	for i := range d.Inputs {
		t.add(&d.Inputs[i])
	}
	return t
}

// fleetTally sums a fleet up input by input, so that a report that does
// not keep its inputs (a spooled text report) can still end with the
// summary: it keeps one record per kind of finding, per layer and per
// verdict, not the inputs.
type fleetTally struct {
	inputs, images, compromised int
	verdicts                    map[Status]int
	kinds                       map[FleetFinding]map[imageKey]bool
	layers                      map[string]*SharedLayer
	order                       []string
}

// imageKey names an image of the fleet: its input's position and ref.
type imageKey struct {
	input int
	ref   string
}

func newFleetTally() *fleetTally {
	return &fleetTally{verdicts: map[Status]int{}, kinds: map[FleetFinding]map[imageKey]bool{}, layers: map[string]*SharedLayer{}}
}

// isFleet reports whether the text ends with the fleet summary: over
// several images, whether of one input (a multi-platform index) or many.
func (t *fleetTally) isFleet() bool { return t.images > 1 || t.inputs > 1 }

// add counts one more input.
func (t *fleetTally) add(in *Input) {
	i := t.inputs
	t.inputs++
	// The input's findings by image and layer, counted once: looking them
	// up per image and layer was quadratic in a registry of thousands of
	// compromised images.
	var perLayer map[[2]string]int
	for j := range in.Images {
		img := &in.Images[j]
		t.images++
		v := in.ImageVerdict(img)
		t.verdicts[v.Status]++
		bad := v.Status == Compromised
		if bad {
			t.compromised++
		}
		seen := map[string]bool{} // an image naming a layer twice carries it once
		for _, l := range img.Layers {
			id := cmp.Or(l.DiffID, l.Digest)
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			sl := t.layers[id]
			if sl == nil {
				sl = &SharedLayer{ID: id, CreatedBy: l.CreatedBy, first: len(t.order)}
				t.layers[id] = sl
				t.order = append(t.order, id)
			}
			sl.Images++
			if bad {
				if perLayer == nil {
					perLayer = map[[2]string]int{}
					for _, f := range in.Findings {
						perLayer[[2]string{f.Image, f.LayerDigest}]++
					}
				}
				sl.Compromised++
				sl.Findings += perLayer[[2]string{img.Ref, l.Digest}]
			}
		}
	}
	for _, f := range in.Findings {
		k := FleetFinding{Severity: f.Severity, Rule: f.Rule, Path: f.Path}
		if t.kinds[k] == nil {
			t.kinds[k] = map[imageKey]bool{}
		}
		t.kinds[k][imageKey{i, f.Image}] = true
	}
}

// summary is the fleet's summary so far.
func (t *fleetTally) summary() FleetSummary {
	s := FleetSummary{Inputs: t.inputs, Images: t.images, Verdicts: maps.Clone(t.verdicts), Compromised: t.compromised}
	for k, imgs := range t.kinds {
		k.Images = len(imgs)
		s.Findings = append(s.Findings, k)
	}
	slices.SortFunc(s.Findings, func(a, b FleetFinding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Images, a.Images),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Path, b.Path))
	})
	for _, id := range t.order {
		if sl := t.layers[id]; sl.Compromised >= 2 {
			s.SharedLayers = append(s.SharedLayers, *sl)
		}
	}
	slices.SortStableFunc(s.SharedLayers, func(a, b SharedLayer) int {
		return cmp.Or(cmp.Compare(b.Compromised, a.Compromised), cmp.Compare(a.Images, b.Images), cmp.Compare(a.first, b.first))
	})
	return s
}

// writeFleetText writes the summary table: verdicts, worst findings,
// shared layers. Every row starts with a right-aligned count, so that no
// row can be taken for a finding line or a verdict line of an input.
func writeFleetText(cw *countingWriter, s FleetSummary, o TextOptions) {
	cw.line("")
	cw.line(fmt.Sprintf("fleet: %s, %s", plural(s.Inputs, "input"), plural(s.Images, "image")))
	cw.line("  images  verdict")
	for _, st := range Statuses {
		cw.line(fmt.Sprintf("  %6d  %s", s.Verdicts[st], o.paint(statusColor(st), strings.ToUpper(string(st)))))
	}

	if len(s.Findings) > 0 {
		shown := s.Findings[:min(len(s.Findings), fleetTopFindings)]
		cw.line("")
		if len(shown) < len(s.Findings) {
			cw.line(fmt.Sprintf("worst findings (%d of %d kinds):", len(shown), len(s.Findings)))
		} else {
			cw.line("worst findings:")
		}
		ruleW := len("rule")
		for _, f := range shown {
			ruleW = max(ruleW, min(utf8.RuneCountInString(oneLine(f.Rule)), 40))
		}
		cw.line(fmt.Sprintf("  images  %-8s  %s  path", "severity", padRunes("rule", ruleW)))
		for _, f := range shown {
			head := fmt.Sprintf("  %6d  %-8s  %s  ", f.Images, f.Severity, padRunes(oneLine(f.Rule), ruleW))
			path := oneLine(orDash(f.Path))
			if o.Width > 0 {
				// The file name is what tells the rows apart: keep the
				// end of the path.
				path = cutStart(path, max(o.Width-utf8.RuneCountInString(head), 12))
			}
			cw.line(fmt.Sprintf("  %6d  %s  %s  %s", f.Images, o.paint(sevColor(f.Severity), fmt.Sprintf("%-8s", f.Severity)),
				padRunes(oneLine(f.Rule), ruleW), path))
		}
	}

	if s.Compromised < 2 {
		return // no layer can be shared by compromised images
	}
	cw.line("")
	if len(s.SharedLayers) == 0 {
		cw.line(fmt.Sprintf("layers shared by the %d compromised images: none", s.Compromised))
		return
	}
	shown := s.SharedLayers[:min(len(s.SharedLayers), fleetTopLayers)]
	if len(shown) < len(s.SharedLayers) {
		cw.line(fmt.Sprintf("layers shared by the %d compromised images (%d of %d):", s.Compromised, len(shown), len(s.SharedLayers)))
	} else {
		cw.line(fmt.Sprintf("layers shared by the %d compromised images:", s.Compromised))
	}
	cw.line("  compromised  images  findings  layer (diff_id)")
	for _, l := range shown {
		head := fmt.Sprintf("  %11d  %6d  %8d  ", l.Compromised, l.Images, l.Findings)
		dg := oneLine(l.ID)
		if o.Width > 0 && len(head)+len(dg) > o.Width {
			dg = shortDigest(dg) // the full diff_id is in every image's layers in the JSON
		}
		line := head + dg
		if by := strings.TrimSpace(oneLine(l.CreatedBy)); by != "" {
			line += "  " + by // a history's "ADD file:… in / " ends in a blank no reader wants
		}
		cw.line(o.fit(line))
	}
}

// padRunes pads s with spaces to n columns, or cuts it to n with "…".
func padRunes(s string, n int) string {
	c := utf8.RuneCountInString(s)
	if c > n {
		return cutEnd(s, n)
	}
	return s + strings.Repeat(" ", n-c)
}
