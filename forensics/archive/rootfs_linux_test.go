package archive

import (
	"archive/tar"
	"path/filepath"
	"syscall"
	"testing"
)

// Devices are listed as their tar types, never opened; extended
// attributes are kept where the filesystem has them.
func TestRootfsDirDevicesAndXattrs(t *testing.T) {
	dir, _ := rfsFolder(t)
	dev := filepath.Join(dir, "usr/null")
	hasDev := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3) == nil // 1,3: /dev/null
	hasXattr := syscall.Setxattr(filepath.Join(dir, "usr/bin/sshd"), "user.strata", []byte("mark"), 0) == nil
	if !hasDev && !hasXattr {
		t.Skip("neither mknod nor user extended attributes here")
	}
	a, err := openWithin(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, hdrs, _ := readTar(t, readLayer(t, a))
	if h := hdrs["usr/null"]; hasDev && (h == nil || h.Typeflag != tar.TypeChar || h.Devmajor != 1 || h.Devminor != 3) {
		t.Errorf("usr/null: %+v, want char device 1,3", h)
	}
	if h := hdrs["usr/bin/sshd"]; hasXattr && h.PAXRecords["SCHILY.xattr.user.strata"] != "mark" {
		t.Errorf("usr/bin/sshd: PAX records %q, want the user.strata attribute", h.PAXRecords)
	}
}
