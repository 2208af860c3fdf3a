package scan

import "github.com/strata-forensics/strata/forensics/archive"

// describeRootFS completes the one layer of an input that is a root
// filesystem (a docker export, a folder) once it was read: no config gives
// its diff_id, so it is the one its walk computed, the sha256 of its
// uncompressed tar (for an uncompressed one, its own digest). Its digest
// was computed as it was read (buildImage), like a legacy layer.tar's.
func describeRootFS(a *archive.Archive, ir *ImageResult) {
	if _, ok := a.RootFS(); !ok {
		return
	}
	for i, l := range ir.Image.Layers {
		if lr := ir.Layers[i]; l.DiffID == "" && lr != nil && lr.Summary != nil {
			l.DiffID = lr.Summary.DiffID
		}
	}
}
