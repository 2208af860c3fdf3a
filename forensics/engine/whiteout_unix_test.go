//go:build unix

package engine

import "syscall"

// mkWhiteout makes overlay's whiteout at p, as moby's converter applies a
// ".wh." entry: a character device 0/0 (root only).
func mkWhiteout(p string) error { return syscall.Mknod(p, syscall.S_IFCHR, 0) }
