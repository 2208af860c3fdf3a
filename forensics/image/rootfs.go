package image

import (
	"fmt"
	"strings"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// A rootFS is a Source that may be a root filesystem rather than an image
// (a docker export, a folder holding a host's disk): *archive.Archive.
type rootFS interface {
	RootFS() (archive.RootFS, bool)
}

// leftOutShown is how many of what a folder's layer left out its note
// names.
const leftOutShown = 8

// loadRootFS describes a Source that is a root filesystem: one image of
// one layer, named after the input, with no manifest, config, platform or
// history. Its one record says so in every output, as information: there
// is nothing to verify it against, and which build step brought a file in
// cannot be known. ok is false for any other Source.
func loadRootFS(src Source) (imgs []*Image, problems []integrity.Problem, ok bool) {
	rs, isRoot := src.(rootFS)
	if !isRoot {
		return nil, nil, false
	}
	r, ok := rs.RootFS()
	if !ok {
		return nil, nil, false
	}
	img := &Image{Names: []string{r.Name}, Layers: []*Layer{{Index: 0, Blob: r.Layer.Name, Size: r.Layer.Size}}}
	what := "a root filesystem"
	if r.Container {
		what = "a container's filesystem (docker export: /.dockerenv is there)"
	}
	detail := what + ": one layer and no history, so which build step brought a file in cannot be known; " +
		"no manifest, config or digest came with it, so its bytes are unverifiable: described as found, its own sha256 recorded"
	if n := len(r.LeftOut); n > 0 {
		shown := r.LeftOut[:min(n, leftOutShown)]
		detail += fmt.Sprintf("; %d left out of the layer: %s", n, strings.Join(shown, "; "))
		if n > len(shown) {
			detail += "; …"
		}
	}
	return []*Image{img}, []integrity.Problem{{Blob: r.Layer.Name, Kind: integrity.Unverifiable,
		Reason: integrity.NoLayerHistory, Detail: detail}}, true
}
