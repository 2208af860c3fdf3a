package scan

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/blob"
	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// An orphan is an unreferenced blob that is a layer: what an image once
// had and lost (a tag moved on in an OCI layout, a manifest deleted by
// hand, a build left behind). Deleted-but-shipped content is evidence, so
// an orphan is read like a layer, on the same pass as the images' layers,
// as a one-layer image of its own; its findings say so and count at most
// as suspicious, since no image of the input would install its files.

// orphanSeverity is the most an orphan's finding can weigh: the verdict
// it leads to is "suspicious".
const orphanSeverity = finding.Medium

// orphanRef names an orphan in findings, by its digest or member name.
func orphanRef(id string) string { return "unreferenced blob " + id }

// orphans makes a one-layer image of each unreferenced blob Load found to
// be a layer (a tar, compressed or not).
func orphans(a *archive.Archive, records []integrity.Problem) []*image.Image {
	var out []*image.Image
	for _, p := range records {
		if p.Kind != integrity.Unreferenced || p.Content != "layer" {
			continue
		}
		name, d := p.Blob, digest.Digest("")
		if pd, err := digest.Parse(p.Blob); err == nil {
			name, d = blob.Path(pd), pd
		}
		m, ok := a.Stat(name)
		if !ok {
			continue
		}
		out = append(out, &image.Image{
			Names:  []string{orphanRef(p.Blob)},
			Layers: []*image.Layer{{Index: 0, Digest: d, Size: m.Size, Blob: name}},
		})
	}
	return out
}

// orphanResults builds each orphan's tree and findings from the layers
// read, and returns the findings, weighed as an orphan's, and the records
// with what reading each orphan showed added to its unreferenced record.
// An orphan's own problems (a digest that does not match its name, a tar
// broken off) stay information: nothing in the input needs the blob.
func orphanResults(imgs []*image.Image, layers map[string]*LayerResult, eng *detect.Engine, records []integrity.Problem) ([]finding.Finding, []integrity.Problem) {
	var fs []finding.Finding
	said := map[string]string{}
	for _, img := range imgs {
		ir, _ := buildImage(img, layers, eng, nil, nil)
		lr := ir.Layers[0]
		ref := img.Ref()
		id := strings.TrimPrefix(ref, orphanRef(""))
		for _, f := range ir.Findings {
			f.Image = ref
			f.Layer = -1
			f.LayerDigest = lr.Digest.String()
			if f.Severity > orphanSeverity {
				f.Severity = orphanSeverity
			}
			f.Message = "unreferenced blob, weighed at most " + orphanSeverity.String() + ": " + f.Message
			fs = append(fs, f)
		}
		var parts []string
		switch {
		case lr.Summary != nil && eng != nil:
			parts = append(parts, fmt.Sprintf("read as a layer: %d entries, %d findings", len(lr.Summary.Entries), len(ir.Findings)))
		case lr.Summary != nil:
			parts = append(parts, fmt.Sprintf("read as a layer: %d entries", len(lr.Summary.Entries)))
		}
		for _, p := range lr.Problems {
			parts = append(parts, string(p.Kind)+": "+p.Detail)
		}
		said[id] = strings.Join(parts, "; ")
	}
	out := make([]integrity.Problem, len(records))
	for i, p := range records {
		if s := said[p.Blob]; p.Kind == integrity.Unreferenced && s != "" {
			p.Detail += "; " + s
		}
		out[i] = p
	}
	return fs, out
}
