package layer

import (
	"path"
	"strings"
	"unicode/utf8"
)

// CleanPath turns a tar entry name into the absolute path a container runtime
// would create: "./a", "/a" and "a" are one path, ".." never climbs above the
// root. It returns the anomaly kind ("" when the name was ordinary).
func CleanPath(name string) (clean string, anomaly string) {
	switch {
	case !utf8.ValidString(name):
		anomaly = AnomalyBadName
	case strings.HasPrefix(name, "/"):
		anomaly = AnomalyAbsolute
	}
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		anomaly = AnomalyTraversal
	}
	return path.Clean("/" + name), anomaly
}

const (
	whiteoutPrefix = ".wh."
	opaqueName     = ".wh..wh..opq"
	// whiteoutMeta prefixes aufs bookkeeping entries (.wh..wh.plnk and the
	// like) that runtimes skip.
	whiteoutMeta = ".wh..wh."
)

// classifyWhiteout reports whether a cleaned path is a whiteout marker and
// which path it deletes or makes opaque.
func classifyWhiteout(p string) (t Type, target string, meta bool) {
	dir, base := path.Split(p)
	if strings.Contains(dir, "/"+whiteoutMeta) || strings.HasPrefix(base, whiteoutMeta) && base != opaqueName {
		return 0, "", true
	}
	if !strings.HasPrefix(base, whiteoutPrefix) {
		return 0, "", false
	}
	dir = path.Clean(dir)
	if base == opaqueName {
		return Opaque, dir, false
	}
	return Whiteout, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), false
}
