//go:build !linux

package app_test

import "time"

// threadCPU is not measured off Linux; the metric then reads zero.
func threadCPU() time.Duration { return 0 }
