//go:build !unix

package archive

import (
	"io/fs"
	"os"
)

// openFile opens the regular file name below root to read it.
func openFile(root *os.Root, name string) (*os.File, error) { return root.Open(name) }

// statOf is what the system says of fi beyond fs.FileInfo: nothing here.
func statOf(fs.FileInfo) fileStat { return fileStat{} }
