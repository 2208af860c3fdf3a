package scan

import (
	"slices"

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
// after them. A root holding both is two inputs: see Inputs.
func Stores(opts Options) []archive.StoreOpener {
	return []archive.StoreOpener{
		engine.OpenAll(docker.Open, cstorage.Open, containerd.Open),
		registry.Opener(registry.Options{AllRevisions: opts.AllRevisions}),
	}
}

// engineKinds tell each engine's storage in a folder without reading it;
// storeKinds each store's.
var (
	engineKinds = []func(root string) bool{docker.Is, cstorage.Is, containerd.Is}
	storeKinds  = append(slices.Clip(engineKinds), registry.Is)
)

// IsStore reports whether the folder p holds a store Stores reads (an
// engine's or a registry's storage), so that it is one input and not a
// folder of them.
func IsStore(p string) bool { return holds(storeKinds, p) }

func holds(kinds []func(string) bool, p string) bool {
	for _, is := range kinds {
		if is(p) {
			return true
		}
	}
	return false
}

// Inputs are the inputs the folder p is read as: p itself and, when p is
// an evidence root holding an engine's storage (which Stores reads there),
// every registry's storage below it as an input of its own, named by its
// folder, in name order: at the registry's usual root directories
// (p/var/lib/registry) and in Docker's volumes (the official registry
// image keeps its storage in one: p/var/lib/docker/volumes/<name>/_data).
// The engines' images and containers are served from their records as one
// input; a registry's images are an OCI layout of its own blobs, which may
// be copies of the very blobs containerd's layout holds: each copy is
// verified as the registry holds it, and the registry's links have a chain
// of custody of their own, under the registry's own folder's name.
func Inputs(p string) []string {
	if !holds(engineKinds, p) {
		return []string{p}
	}
	var regs []string
	if dir, ok := registry.Folder(p); ok && dir != p {
		regs = append(regs, dir)
	}
	for _, v := range docker.VolumeFolders(p) {
		if dir, ok := registry.Folder(v); ok {
			regs = append(regs, dir)
		}
	}
	slices.Sort(regs)
	return append([]string{p}, slices.Compact(regs)...)
}
