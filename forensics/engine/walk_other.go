//go:build !linux

package engine

import (
	"io/fs"
	"os"
)

// walkFolder calls fn for every entry below dir, as fs.WalkDir does.
func walkFolder(dir *os.Root, fn fs.WalkDirFunc) error { return fs.WalkDir(dir.FS(), ".", fn) }
