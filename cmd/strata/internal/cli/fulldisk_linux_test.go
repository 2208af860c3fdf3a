package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fullDisk mounts a tiny tmpfs and fills it, so that writes fail with
// ENOSPC as on an examiner's full disk. It needs root (CI runs as root);
// elsewhere the test skips.
func fullDisk(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount tmpfs: %v (needs root)", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			break
		}
	}
	f.Close()
	return dir
}

// TestFullDiskLeavesNothingHalfWritten: a report or an evidence folder
// that cannot be written whole is not there at all, and strata exits 2
// naming it.
func TestFullDiskLeavesNothingHalfWritten(t *testing.T) {
	disk := fullDisk(t)
	planted := filepath.Join(fixturesDir, "xz-planted.docker.tar")
	for _, tc := range []struct {
		name string
		args []string
		dest string
	}{
		{"report", []string{"scan", "--quiet", "--format", "json", "-o", filepath.Join(disk, "report.json"), planted}, "report.json"},
		// A fleet's json report is spooled beside it first.
		{"fleet report", []string{"scan", "--quiet", "--format", "json", "-o", filepath.Join(disk, "fleet.json"), planted, planted}, "fleet.json"},
		{"evidence", []string{"scan", "--quiet", "--evidence", filepath.Join(disk, "case"), planted}, "case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runCaptured(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, out)
			}
			if !strings.Contains(string(out), tc.dest) || !strings.Contains(string(out), "no space left") {
				t.Errorf("error does not name %s and the cause:\n%s", tc.dest, out)
			}
			ents, err := os.ReadDir(disk)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "filler" {
					t.Errorf("left behind on the full disk: %s", e.Name())
				}
			}
		})
	}
}

// runCaptured runs the command tree in-process, as main does, and returns
// its exit code and what it wrote to stderr.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), testBuild, args, &out, &errOut)
	return code, errOut.String()
}
