package engine

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-forensics/strata/forensics/archive"
)

// readOverride reads OverrideXattr of the file or folder p below dir,
// opened as what it was listed as (a folder, or a regular file never
// through a link), so that no link leads the read out of dir. found is
// false when p has no such xattr.
func readOverride(dir *os.Root, p string, isDir bool) (v string, found bool, err error) {
	var f *os.File
	if isDir {
		f, err = dir.Open(p)
		if err == nil {
			if fi, serr := f.Stat(); serr != nil || !fi.IsDir() {
				f.Close()
				return "", false, errors.New("not the folder listed")
			}
		}
	} else {
		f, err = archive.OpenRegular(dir, p)
	}
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return "", false, err
	}
	buf := make([]byte, 256) // "uid:gid:mode:type": a few dozen bytes
	var n int
	var gerr error
	if err := rc.Control(func(fd uintptr) { n, gerr = unix.Fgetxattr(int(fd), OverrideXattr, buf) }); err != nil {
		return "", false, err
	}
	switch {
	case errors.Is(gerr, unix.ENODATA):
		return "", false, nil
	case gerr != nil:
		return "", false, gerr
	case n < 0 || n > len(buf):
		return "", false, errors.New("xattr too long")
	}
	return string(buf[:n]), true, nil
}
