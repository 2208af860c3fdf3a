package registry

import (
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Candidates for the layout's folder below the folder given, tried in
// order: the v2 folder itself, a registry's root directory (the
// filesystem driver's rootdirectory, /var/lib/registry in the official
// image) and the folders between, then below an evidence root, the
// official image's and Debian's docker-registry package's root
// directories.
var candidates = []string{".", "v2", "registry/v2", "docker/registry/v2",
	"var/lib/registry/docker/registry/v2", "var/lib/docker-registry/docker/registry/v2"}

// find returns the layout's v2 folder below ev. The folder given itself
// must hold both blobs and repositories (an OCI layout holds blobs
// alone); one found at a path ending in registry/v2 needs either, for a
// registry whose repositories were all deleted still holds blobs. As
// everywhere below an os.Root, a link is followed only while it stays in
// the evidence.
func find(ev *os.Root) (string, bool) {
	isDir := func(p string) bool {
		fi, err := ev.Lstat(p)
		return err == nil && fi.IsDir()
	}
	for _, c := range candidates {
		blobs, repos := isDir(path.Join(c, "blobs")), isDir(path.Join(c, "repositories"))
		if blobs && repos || c != "." && (blobs || repos) {
			return c, true
		}
	}
	return "", false
}

// rootDirSuffix ends the path of the v2 folder below a registry's root
// directory.
const rootDirSuffix = "/docker/registry/v2"

// Folder returns the folder that holds the registry's storage Open finds
// in the folder root, to be named as an input of its own: below an
// evidence root, the registry's root directory (root/var/lib/registry);
// root itself when it is that root directory, its v2 folder or a folder
// between. A root directory reached through a link is not given: the
// folder named must be the one read, and a path is resolved by the
// examiner's machine, not within the evidence.
func Folder(root string) (string, bool) {
	ev, err := os.OpenRoot(root)
	if err != nil {
		return "", false
	}
	defer ev.Close()
	base, ok := find(ev)
	if !ok {
		return "", false
	}
	dir, below := strings.CutSuffix(base, rootDirSuffix)
	if !below {
		return root, true
	}
	for p := dir; p != "."; p = path.Dir(p) {
		if fi, err := ev.Lstat(p); err != nil || !fi.IsDir() {
			return "", false
		}
	}
	return filepath.Join(root, filepath.FromSlash(dir)), true
}
