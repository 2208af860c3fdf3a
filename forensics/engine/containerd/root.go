package containerd

import (
	"path"
	"regexp"
	"strings"
)

// findRoot finds containerd's root below ev.
func (s *Store) findRoot() (string, bool) {
	isRoot := func(p string) bool {
		fi, err := s.ev.Lstat(path.Join(p, metaDBPath))
		return err == nil && fi.Mode().IsRegular()
	}
	if isRoot(".") {
		return ".", true
	}
	var candidates []string
	if data, err := s.custody.ReadFile("etc/containerd/config.toml"); err == nil {
		if r := configRoot(data); r != "" {
			candidates = append(candidates, strings.TrimPrefix(path.Clean("/"+r), "/"))
		}
	}
	candidates = append(candidates, "var/lib/containerd", "var/lib/docker/containerd/daemon", "var/lib/rancher/k3s/agent/containerd")
	for _, c := range candidates {
		if c != "" && isRoot(c) {
			return c, true
		}
	}
	return "", false
}

// rootLine is a top-level `root = "..."` of containerd's config.toml
// (every config version keeps it outside any table).
var rootLine = regexp.MustCompile(`^root\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:#.*)?$`)

// configRoot returns the root a containerd config.toml sets, or "".
func configRoot(data []byte) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			return "" // past the top level
		}
		if m := rootLine.FindStringSubmatch(line); m != nil {
			return m[1] + m[2]
		}
	}
	return ""
}
