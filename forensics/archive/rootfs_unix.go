//go:build unix

package archive

import (
	"io/fs"
	"os"
	"syscall"
)

// openFile opens the regular file name below root to read it: never
// waiting (a FIFO swapped in since it was listed opens at once, and is
// then refused for not being the file listed) and never through a link
// out of root.
func openFile(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
}

// statOf is what the system says of fi beyond fs.FileInfo.
func statOf(fi fs.FileInfo) fileStat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}
	}
	major, minor := devNumbers(uint64(st.Rdev))
	return fileStat{uid: int(st.Uid), gid: int(st.Gid), dev: uint64(st.Dev), ino: uint64(st.Ino), nlink: uint64(st.Nlink),
		major: major, minor: minor}
}
