package docker

import (
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/strata-forensics/strata/forensics/engine"
)

// VolumeFolders returns the folders holding the files of Docker's local
// volumes (named and anonymous alike: <data root>/volumes/<name>/_data)
// below root, an evidence root or Docker's data root itself, sorted.
// Whatever a volume holds, a registry's storage above all (the official
// registry image declares VOLUME /var/lib/registry), is read by no engine
// and must be given as an input of its own.
//
// Every place dataRoots names is looked in, not only the one dockerd
// would use: volumes outlive a change of data-root, and a Docker 29
// containerd store has no classic store to tell it by. Each folder is
// returned as a path the examiner's machine resolves, so none is reached
// through a link: a link would be followed out of the evidence.
func VolumeFolders(root string) []string {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return nil
	}
	defer ev.Close()
	var bases []string
	if isDataRoot(ev, ".") {
		bases = append(bases, ".")
	}
	c := engine.NewCustody(ev)
	defer c.Close()
	bases = append(bases, DataRoots(c)...)
	var out []string
	for _, base := range compact(bases) {
		vols := path.Join(base, "volumes")
		if !realDirs(ev, vols) {
			continue
		}
		names, err := engine.ReadDir(ev, vols)
		if err != nil {
			continue
		}
		for _, name := range names {
			// The name and _data are checked as the folders above them
			// were.
			data := path.Join(vols, name, "_data")
			if isRealDir(ev, path.Join(vols, name)) && isRealDir(ev, data) {
				out = append(out, filepath.Join(root, filepath.FromSlash(data)))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compact drops the repeats of bases (daemon.json may name the default).
func compact(bases []string) []string {
	var out []string
	for _, b := range bases {
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// realDirs reports whether the folder p below ev and every folder above
// it up to ev are folders, none a link.
func realDirs(ev *os.Root, p string) bool {
	for ; p != "." && p != "/"; p = path.Dir(p) {
		if !isRealDir(ev, p) {
			return false
		}
	}
	return true
}

func isRealDir(ev *os.Root, p string) bool {
	fi, err := ev.Lstat(p)
	return err == nil && fi.IsDir()
}
