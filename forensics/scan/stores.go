package scan

import (
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/engine/containerd"
	"github.com/strata-forensics/strata/forensics/engine/cstorage"
	"github.com/strata-forensics/strata/forensics/engine/docker"
	"github.com/strata-forensics/strata/forensics/registry"
)

// Stores are the stores a folder is asked to be, in order, before it is
// read as an image layout or a root filesystem, as a scan with opts reads
// them: an evidence root holding engines' storage is read as that storage
// (every engine's found), not as the host's files; a registry's storage,
// which is no engine (no containers, no layer folders: blobs as pushed),
// after them.
func Stores(opts Options) []archive.StoreOpener {
	return []archive.StoreOpener{
		engine.OpenAll(docker.Open, cstorage.Open, containerd.Open),
		registry.Opener(registry.Options{AllRevisions: opts.AllRevisions}),
	}
}

// storeKinds tell each store in a folder without reading it.
var storeKinds = []func(root string) bool{docker.Is, cstorage.Is, containerd.Is, registry.Is}

// IsStore reports whether the folder p holds a store Stores reads (an
// engine's or a registry's storage), so that it is one input and not a
// folder of them.
func IsStore(p string) bool {
	for _, is := range storeKinds {
		if is(p) {
			return true
		}
	}
	return false
}
