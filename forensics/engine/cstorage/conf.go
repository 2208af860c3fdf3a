package cstorage

import (
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/strata-forensics/strata/forensics/engine"
)

// storage.conf (and CRI-O's crio.conf) is read without a TOML parser:
// strata needs a few keys of it, each a string or a number on a line of
// its own in its table.

// confValue returns the value of key in table of a storage.conf: a
// quoted string without its quotes, else what precedes a comment.
func confValue(conf, table, key string) (string, bool) {
	current := ""
	for _, line := range strings.Split(conf, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			current = strings.Join(strings.Fields(strings.Trim(line, "[] ")), "")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || current != table || strings.Trim(strings.TrimSpace(k), `"'`) != key {
			continue
		}
		v = strings.TrimSpace(v)
		if v != "" && (v[0] == '"' || v[0] == '\'') {
			if end := strings.IndexByte(v[1:], v[0]); end >= 0 {
				return v[1 : 1+end], true
			}
			return strings.Trim(v, `"'`), true
		}
		if i := strings.IndexByte(v, '#'); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		return v, true
	}
	return "", false
}

// graphrootOf reads `graphroot = "..."` from storage.conf's [storage]
// table.
func graphrootOf(conf string) string {
	v, _ := confValue(conf, "storage", "graphroot")
	return v
}

// Where CRI-O reads its configuration (pkg/config/config_unix.go
// CrioConfigPath, CrioConfigDropInPath).
const (
	crioConf   = "etc/crio/crio.conf"
	crioDropIn = "etc/crio/crio.conf.d"
)

// crioRoot returns the graph root CRI-O's own configuration in the
// evidence sets, and the file that sets it: [crio] root of
// /etc/crio/crio.conf, then of each file below /etc/crio/crio.conf.d (any
// name, in lexical order, folders walked), the last that sets it winning;
// where none does CRI-O uses storage.conf's graphroot
// (internal/criocli/criocli.go mergeConfigFiles; pkg/config/config.go
// DefaultConfig, UpdateFromFile, UpdateFromPath, UpdateFromDropInFile).
// Each file read is hashed into the chain of custody. crio's --root flag
// and CONTAINER_ROOT, which a service unit may set, are not read.
func (s *Store) crioRoot() (root, from string) {
	files := []string{crioConf}
	fs.WalkDir(s.Ev.FS(), crioDropIn, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	for _, f := range files {
		if fi, err := s.Ev.Lstat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := s.Custody.ReadFile(f)
		if err != nil {
			continue
		}
		if v, ok := confValue(string(data), "crio", "root"); ok && v != "" {
			root, from = v, f
		}
	}
	return root, from
}

// forceMaskOf reads [storage.options.overlay] force_mask from
// storage.conf, as containers/storage's overlay driver parses it
// (drivers/overlay/overlay.go parseOptions): "shared" is 0755, "private"
// 0700, anything else octal. mask is -1 when it is set to what cannot be
// read. (pkg/config also takes a force_mask in [storage.options], but
// hands the driver a Go file mode's string, which it cannot parse.)
func forceMaskOf(conf string) (mask int64, set bool) {
	v, ok := confValue(conf, "storage.options.overlay", "force_mask")
	switch {
	case !ok || v == "":
		return 0, false
	case v == "shared":
		return 0o755, true
	case v == "private":
		return 0o700, true
	}
	m, err := strconv.ParseInt(v, 8, 32)
	if err != nil || m < 0 || m > 0o7777 {
		return -1, true
	}
	return m, true
}

// statOverride says how the files of the store's layers are compared
// with their headers: any may carry containers/storage's override xattr,
// and with force_mask set in the storage.conf that applies to the store
// (the evidence's own, never the examiner's) every one was stored with
// the mask's mode. The storage.conf read is hashed into the chain of
// custody.
func (s *Store) statOverride() *engine.StatOverride {
	o := &engine.StatOverride{Mask: -1}
	if data, ok := s.storageConf(); ok {
		if m, set := forceMaskOf(string(data)); set {
			o.Forced, o.Mask = true, m
		}
	}
	return o
}

// storageConf reads the storage.conf containers/storage would have read
// for the store (types/options.go): a rootless user's own
// ~/.config/containers/storage.conf, else /etc/containers/storage.conf,
// else the distribution's /usr/share/containers/storage.conf. None is
// read for a graph root given as the input itself.
func (s *Store) storageConf() ([]byte, bool) {
	if s.base == "." {
		return nil, false
	}
	var candidates []string
	if home, _, ok := strings.Cut(s.base, "/.local/share/"); ok && s.rootless {
		candidates = append(candidates, path.Join(home, ".config/containers/storage.conf"))
	}
	candidates = append(candidates, "etc/containers/storage.conf", "usr/share/containers/storage.conf")
	for _, c := range candidates {
		if fi, err := s.Ev.Lstat(c); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := s.Custody.ReadFile(c)
		return data, err == nil
	}
	return nil, false
}
