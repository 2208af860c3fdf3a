package archive

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// RootFS describes an input that is a root filesystem rather than an
// image: a docker export (a tar of a container's merged filesystem, as
// `docker export` writes it, compressed or not), or a folder holding one
// (a host's disk mounted for examination). It is one layer, with no
// manifest, no config and no history: nothing came with it to verify its
// bytes against, and which build step brought a file in cannot be known.
type RootFS struct {
	// Layer is the member holding the one layer: the input file itself
	// for a tar (Offset 0, its whole size), or the tar strata synthesises
	// from a folder. Open reads it; Visit visits it.
	Layer Member
	// Name is what to call the image: the input's file or folder name.
	Name string
	// Container is set when the files docker adds to every container are
	// there (/.dockerenv, moby's daemon/initlayer): the filesystem of a
	// container, as docker export writes it, rather than of a host.
	Container bool
	// LeftOut says what a folder holds that its layer does not, and why
	// ("run/a.sock: a socket (tar has no socket type)"), in path order.
	LeftOut []string
}

// rootfsInput is the state of an input that is a root filesystem.
type rootfsInput struct {
	info RootFS
	dir  *rootfsDir // a folder: its layer is synthesised; nil for a tar
}

// RootFS reports whether the input is a root filesystem (Format RootfsTar
// or RootfsDir), and describes it.
func (a *Archive) RootFS() (RootFS, bool) {
	if a.rootfs == nil {
		return RootFS{}, false
	}
	return a.rootfs.info, true
}

// rootfsTop are the top-level folders of a root filesystem the heuristic
// counts: two of them (as folders, or as links, as merged-/usr systems
// have bin -> usr/bin) make a root filesystem.
var rootfsTop = [...]string{"bin", "etc", "lib", "sbin", "usr", "var"}

// rootfsSigns gathers, while an input is indexed, what tells a root
// filesystem from any other tar: its top-level folders, an os-release
// file, and the files `docker export` adds to every container. Detection
// is by content, never by the input's name.
type rootfsSigns struct {
	top       [len(rootfsTop)]bool
	osRelease bool // etc/os-release or usr/lib/os-release, a file or a link
	dockerenv bool // .dockerenv, a regular file at the top
	proc, sys bool // proc/ and sys/ folders at the top
}

// see notes one entry: its name as the input spells it and its tar type.
func (s *rootfsSigns) see(name string, typ byte) {
	name = cleanName(name)
	if name == "" {
		return
	}
	top, rest, nested := strings.Cut(name, "/")
	// A folder is a folder entry, or implied by an entry below it; a
	// link at the top counts as the folder it stands for.
	folder := nested || typ == tar.TypeDir || typ == tar.TypeSymlink
	if folder {
		for i, n := range rootfsTop {
			if top == n {
				s.top[i] = true
			}
		}
		switch top {
		case "proc":
			s.proc = true
		case "sys":
			s.sys = true
		}
	}
	switch {
	case name == ".dockerenv" && typ == tar.TypeReg:
		s.dockerenv = true
	case (top == "etc" && rest == "os-release") || (top == "usr" && rest == "lib/os-release"):
		if typ == tar.TypeReg || typ == tar.TypeSymlink || typ == tar.TypeLink {
			s.osRelease = true
		}
	}
}

// rootfs reports whether what was seen is a root filesystem: two of the
// usual top-level folders, an os-release file, or the mount points
// `docker export` writes for every container (moby's daemon/initlayer:
// /.dockerenv, /proc and /sys, with /dev/pts, /dev/shm, /dev/console,
// /etc/hostname, /etc/hosts, /etc/resolv.conf and /etc/mtab), which a
// container from scratch holding one static binary still has.
func (s *rootfsSigns) rootfs() bool {
	n := 0
	for _, ok := range s.top {
		if ok {
			n++
		}
	}
	return n >= 2 || s.osRelease || (s.dockerenv && s.proc && s.sys)
}

// LooksLikeRootFS applies the detection heuristic to a list of entries, as
// a tar would give them (names and tar types); Open uses the same on every
// tar it indexes that holds no image.
func LooksLikeRootFS(names []string, types []byte) bool {
	var s rootfsSigns
	for i, n := range names {
		typ := byte(tar.TypeReg)
		if i < len(types) {
			typ = types[i]
		}
		s.see(n, typ)
	}
	return s.rootfs()
}

// becomeRootfsTar makes a tar holding no image but a root filesystem one
// image of one layer: the input file itself, read in place as stored (a
// compressed one is decompressed by the layer walk, which then gives its
// diff_id). The members indexed are dropped: the walk of the layer lists
// them, and what is odd about them (a name twice) is its anomalies.
func (a *Archive) becomeRootfsTar() error {
	if a.tmp != "" {
		// The decompressed copy is not the input as stored.
		a.file.Close()
		os.Remove(a.tmp)
		a.tmp = ""
		f, err := os.Open(a.Info.Path)
		if err != nil {
			return err
		}
		a.file = f
	}
	a.compressed, a.small = false, nil
	a.Info.Format = RootfsTar
	name := rootfsName(a.Info.Path)
	a.members = map[string]*Member{}
	a.order = nil
	a.add(name, 0, a.Info.Size)
	kept := a.Problems[:0]
	for _, p := range a.Problems {
		if p.Kind != integrity.DuplicateMember {
			kept = append(kept, p)
		}
	}
	a.Problems = kept
	a.rootfs = &rootfsInput{info: RootFS{Layer: *a.members[name], Name: name, Container: a.signs.dockerenv}}
	return nil
}

// rootfsName names a root-filesystem input's image and layer member after
// the input: its file or folder name.
func rootfsName(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if n := cleanName(filepath.Base(p)); n != "" {
		return n
	}
	return "rootfs"
}

// fileStat is what the system says of a file beyond fs.FileInfo; zero
// where it says nothing.
type fileStat struct {
	uid, gid     int
	dev, ino     uint64
	nlink        uint64
	major, minor int64
}
