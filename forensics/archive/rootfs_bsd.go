//go:build unix && !linux

package archive

// devNumbers splits a device number: on macOS and the BSDs' older layout,
// eight bits of major above twenty-four of minor.
func devNumbers(dev uint64) (major, minor int64) {
	return int64((dev >> 24) & 0xff), int64(dev & 0xffffff)
}
