package archive

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// devNumbers splits a device number as glibc's major() and minor() do.
func devNumbers(dev uint64) (major, minor int64) {
	major = int64((dev>>8)&0xfff | (dev>>32)&^0xfff)
	minor = int64(dev&0xff | (dev>>12)&^0xff)
	return major, minor
}

// kernelFS names the kernel filesystem mounted at the folder f (proc,
// sysfs, cgroup …): the kernel's live state rather than files, whose
// reads may never end; "" for any other.
func kernelFS(f *os.File) string {
	var st syscall.Statfs_t
	var err error
	if ctlErr := control(f, func(fd int) { err = syscall.Fstatfs(fd, &st) }); ctlErr != nil || err != nil {
		return ""
	}
	switch uint64(st.Type) {
	case 0x9fa0:
		return "a proc filesystem"
	case 0x62656572:
		return "a sysfs"
	case 0x27e0eb, 0x63677270:
		return "a cgroup filesystem"
	case 0x64626720:
		return "a debugfs"
	case 0x74726163:
		return "a tracefs"
	case 0x73636673:
		return "a securityfs"
	case 0xcafe4a11:
		return "a bpf filesystem"
	case 0x6e736673:
		return "a namespace filesystem"
	case 0xde5e81e4:
		return "an efivarfs"
	case 0x6165676c:
		return "a pstore"
	case 0x62656570:
		return "a configfs"
	case 0x42494e4d:
		return "a binfmt_misc"
	case 0x65735543:
		return "a fusectl"
	}
	return ""
}

// maxXattrs bounds the extended attributes kept of one file.
const maxXattrs = 64 << 10

// xattrs reads the extended attributes of the open file f (security
// capabilities, SELinux labels, user attributes) where it may: a name or
// value it may not read is left out. Read through /proc/self/fd, the file
// already open, so nothing is looked up by path again.
func xattrs(f *os.File) map[string]string {
	var fd int
	if control(f, func(d int) { fd = d }) != nil {
		return nil
	}
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	names := make([]byte, 4096)
	n, err := syscall.Listxattr(p, names)
	if err == syscall.ERANGE {
		if n, err = syscall.Listxattr(p, nil); err == nil && n <= maxXattrs {
			names = make([]byte, n)
			n, err = syscall.Listxattr(p, names)
		}
	}
	if err != nil || n <= 0 || n > len(names) {
		return nil
	}
	var out map[string]string
	total := 0
	for _, name := range bytes.Split(names[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		sz, err := syscall.Getxattr(p, string(name), nil)
		if err != nil || sz < 0 || total+sz > maxXattrs {
			continue
		}
		val := make([]byte, sz)
		if sz, err = syscall.Getxattr(p, string(name), val); err != nil || sz > len(val) {
			continue
		}
		total += sz
		if out == nil {
			out = map[string]string{}
		}
		out[string(name)] = string(val[:sz])
	}
	return out
}

// control runs fn with f's descriptor, leaving f as it is (Fd would make
// it blocking).
func control(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}
