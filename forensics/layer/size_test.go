package layer

import (
	"testing"
	"unsafe"
)

// A layer may hold millions of entries, each its own allocation: the struct
// must stay in the 128-byte size class.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry{}); s > 128 {
		t.Fatalf("Entry is %d bytes, want at most 128", s)
	}
}
