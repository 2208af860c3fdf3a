//go:build !unix

package engine

import "errors"

func mkWhiteout(string) error { return errors.ErrUnsupported }
