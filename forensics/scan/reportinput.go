package scan

import "github.com/strata-forensics/strata/forensics/report"

// ReportSource describes the result as a report input: its findings and
// problems, its images with the layers as read, and an opener (Content) per
// image for the evidence folder's copies. The source points into the
// result, not into its trees; its openers read until r is closed.
func (r *Result) ReportSource() report.Source {
	src := report.Source{Input: r.Input, Problems: r.Problems, Findings: r.Findings, Ruleset: r.Ruleset,
		Started: r.Started, Finished: r.Finished}
	for _, ir := range r.Images {
		if ir == nil || ir.Image == nil {
			continue
		}
		img := report.SourceImage{Image: ir.Image, Layers: make([]report.SourceLayer, len(ir.Layers)), Content: r.Content(ir)}
		for i, lr := range ir.Layers {
			if lr == nil {
				continue
			}
			img.Layers[i].Blob = lr.Blob
			if lr.Summary != nil {
				img.Layers[i].Entries = lr.Summary.Entries
			}
		}
		src.Images = append(src.Images, img)
	}
	return src
}
