package detect

import (
	"fmt"

	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/layer"
)

// anomalySeverity says how much each kind of odd entry matters to an
// investigator. Kinds absent here are kept in the layer summary only: a
// duplicate entry is something real tools write (the last one wins).
func anomalySeverity(kind string) (finding.Severity, string, bool) {
	switch kind {
	case layer.AnomalyTraversal:
		return finding.Medium, "an entry name climbs above the root with \"..\"; a careless extractor would write outside its folder", true
	case layer.AnomalyLinkOutside:
		return finding.Medium, "a hardlink points outside the layer stack", true
	case layer.AnomalyAbsolute:
		return finding.Low, "an entry name is absolute; runtimes place it below the root", true
	case layer.AnomalyBadName:
		return finding.Low, "an entry name is empty, not UTF-8 or over-long", true
	case layer.AnomalyDevice:
		return finding.Low, "a device node ships in the layer; container builds do not normally write them", true
	case layer.AnomalyWhiteoutMeta:
		return finding.Low, "a whiteout marker carries content or an odd type", true
	}
	return finding.Info, "", false
}

// anomalyFindings turns what the layer walks noticed into findings, so that
// hostile archives are reported, not only survived.
func anomalyFindings(in ImageInput, ref string) []finding.Finding {
	var out []finding.Finding
	for i, as := range in.Anomalies {
		for _, a := range as {
			sev, why, ok := anomalySeverity(a.Kind)
			if !ok {
				continue
			}
			present := false
			if in.Tree != nil {
				if n := in.Tree.Node(a.Path); n != nil {
					present = n.Present()
				}
			}
			out = append(out, finding.Finding{
				Rule:        "strata-anomaly-" + a.Kind,
				Kind:        finding.Anomaly,
				Severity:    sev,
				Image:       ref,
				Layer:       i,
				LayerDigest: layerDigest(in, i),
				Path:        a.Path,
				Present:     present,
				Evidence:    fmt.Sprintf("%s (layer tar offset %d)", a.Detail, a.Offset),
				Message:     why,
			})
		}
	}
	return out
}
