package archive

import (
	"context"
	"io"
	"runtime"
	"testing"
)

// A member visited and not read costs no read buffer: in a fleet, the
// inputs waiting for a shared layer's walk each visit their own copy of
// it and may never read it (their own hash compares it), and a buffer
// made up front for each was megabytes held for nothing. A member read
// is read through the buffer, whole.
func TestVisitUnreadMembersHoldNoBuffer(t *testing.T) {
	a, err := Open(context.Background(), writeFile(t, mkTar(t, ociMembers...)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	names := []string{"blobs/sha256/aaaa", "blobs/sha256/bbbb"}
	unread := func() {
		if err := a.Visit(context.Background(), names, 2, func(string, io.Reader) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	unread() // the visit's own first-use allocations
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 8 {
		unread()
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n >= readBuffer {
		t.Fatalf("8 visits of 2 members left unread allocated %d bytes, at least one read buffer (%d)", n, readBuffer)
	}
	err = a.Visit(context.Background(), names[:1], 1, func(_ string, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		if err == nil && n != 3<<19 {
			t.Errorf("read %d bytes, want %d", n, 3<<19)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
