package atomicfile

import (
	"errors"
	"syscall"
)

// isSyncUnsupported reports an fsync a file system refuses for folders.
func isSyncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
