package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/vbatts/tar-split/archive/tar"

	"github.com/strata-forensics/strata/forensics/archive"
)

// OverrideXattr is where containers/storage's overlay driver keeps the
// owner, mode and type a file was meant to have when the driver's
// force_mask option (storage.conf: [storage.options.overlay] force_mask)
// made it store every file and folder with the mask's mode, owned by the
// engine's user, and every device, FIFO or socket as a regular file
// (pkg/archive/archive.go extractTarFileEntry; pkg/idtools/idtools.go).
// fuse-overlayfs shows the container that, not what the disk holds.
const OverrideXattr = "user.containers.override_stat"

// A StatOverride says that a layer's files may carry OverrideXattr: a
// containers/storage layer. A file's xattr, when it has one, is then what
// Drift compares with the layer's tar header, not its mode and owner on
// the disk. Docker's and containerd's layers have none (the xattr means
// nothing to them, and one planted there would hide a change).
type StatOverride struct {
	// Forced is set when the store's storage.conf sets force_mask, and
	// Mask is its mode (-1 when it cannot be read). A layer whose folder
	// carries the xattr was written with force_mask too, and the folder's
	// own mode is the mask.
	Forced bool
	Mask   int64
}

// overrideStat is what one file's OverrideXattr says.
type overrideStat struct {
	uid, gid int
	mode     int64 // permission and setuid, setgid, sticky bits, as a tar header's
	modeBits int64 // the bits of mode the xattr records
	typ      byte  // a tar type flag, 0 when the xattr does not say
}

// parseOverride reads OverrideXattr's value: "uid:gid:mode" with the mode
// in octal, and since containers/storage 1.57 ":type" after it ("file",
// "dir", "symlink", "pipe", "socket", "block-M-m", "char-M-m"). Before
// 1.57 the mode was written from a Go file mode's permission bits alone,
// so setuid, setgid and sticky bits were lost: a three-part value with
// none of them says nothing of them.
func parseOverride(v string) (overrideStat, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 3 {
		return overrideStat{}, errors.New("fewer than three parts")
	}
	uid, err1 := strconv.ParseUint(parts[0], 10, 32)
	gid, err2 := strconv.ParseUint(parts[1], 10, 32)
	mode, err3 := strconv.ParseUint(parts[2], 8, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return overrideStat{}, err
	}
	if mode > 0o7777 {
		return overrideStat{}, fmt.Errorf("mode %o", mode)
	}
	st := overrideStat{uid: int(uid), gid: int(gid), mode: int64(mode), modeBits: 0o7777}
	if len(parts) == 3 {
		if st.mode&0o7000 == 0 {
			st.modeBits = 0o777
		}
		return st, nil
	}
	switch typ := parts[3]; {
	case strings.HasPrefix(typ, "file"):
		st.typ = tar.TypeReg
	case strings.HasPrefix(typ, "dir"):
		st.typ = tar.TypeDir
	case strings.HasPrefix(typ, "symlink"):
		st.typ = tar.TypeSymlink
	case strings.HasPrefix(typ, "pipe"):
		st.typ = tar.TypeFifo
	case strings.HasPrefix(typ, "block"):
		st.typ = tar.TypeBlock
	case strings.HasPrefix(typ, "char"):
		st.typ = tar.TypeChar
		if typ == "char-0-0" {
			st.typ = 'w' // overlay's whiteout
		}
	case strings.HasPrefix(typ, "socket"):
		st.typ = 's' // no tar type: what any header is not
	default:
		return overrideStat{}, fmt.Errorf("type %q", typ)
	}
	return st, nil
}

// overrides is how one layer's folder is compared when its files may carry
// OverrideXattr.
type overrides struct {
	dir    *os.Root
	forced bool  // force_mask: a file without the xattr was stored with mask
	mask   int64 // -1 when not known
	// unknown counts the files and folders whose mode and owner are the
	// mask's and differ from the layer's, and whose xattr cannot be read:
	// what they were meant to be is unknown.
	unknown int
}

// newOverrides returns how the folder dir of a layer is compared under o,
// or nil when its files carry no xattr to read: o is nil, or the store
// does not set force_mask and the folder itself has no xattr (which
// containers/storage gives every layer folder it makes with force_mask).
func newOverrides(o *StatOverride, dir *os.Root) *overrides {
	if o == nil {
		return nil
	}
	ov := &overrides{dir: dir, forced: o.Forced, mask: -1}
	if o.Forced {
		ov.mask = o.Mask
	}
	if _, found, err := readOverride(dir, ".", true); err == nil && found {
		ov.forced = true
		if ov.mask < 0 {
			if fi, err := dir.Stat("."); err == nil {
				ov.mask = archive.TarMode(fi.Mode())
			}
		}
	}
	if !ov.forced {
		return nil
	}
	return ov
}

// stat is what the engine meant of the file p (fi): its xattr's record
// when it has one (ok), a note of an xattr that is not containers/
// storage's (bad), or known false when its mode and owner are the mask's
// and no xattr says what they were meant to be.
func (ov *overrides) stat(p string, fi fs.FileInfo) (st overrideStat, ok, known bool, bad string) {
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return overrideStat{}, false, true, "" // links are never given the xattr
	}
	v, found, err := readOverride(ov.dir, p, fi.IsDir())
	if err == nil && found {
		st, err := parseOverride(v)
		if err != nil {
			return overrideStat{}, false, true, fmt.Sprintf("%q (%v)", v, err)
		}
		return st, true, true, ""
	}
	if ov.mask < 0 || archive.TarMode(fi.Mode())&0o7777 == ov.mask&0o7777 {
		return overrideStat{}, false, false, ""
	}
	// Not the mask's mode: a file of a layer written before force_mask
	// was set, or one changed since; its mode on the disk is what is.
	return overrideStat{}, false, true, ""
}
