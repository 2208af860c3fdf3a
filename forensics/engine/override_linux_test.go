package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// forcedLayer is a layer with what force_mask changes on the disk: a
// sticky folder, a setuid file, a file of another owner, a device.
func forcedLayer(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}, "")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/motd", Mode: 0o644}, "hello\n")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/owned", Mode: 0o600, Uid: 1000, Gid: 1001}, "mine\n")
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, "")
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0o755}, "")
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/su", Mode: 0o4755}, "su\n")
	add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/link", Linkname: "su", Mode: 0o777}, "")
	add(&tar.Header{Typeflag: tar.TypeDir, Name: "dev/", Mode: 0o755}, "")
	add(&tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}, "")
	tw.Close()
	return b.Bytes()
}

// forcedSplitOf lays layer out in a diff folder as containers/storage's
// overlay driver does with force_mask set to mask (pkg/archive
// extractTarFileEntry): every folder and file of the mask's mode, owned
// by the engine's user (chown is not done), a device as a regular file,
// and the mode, owner and type the layer meant in the override xattr, in
// containers/storage 1.57's format ("uid:gid:mode:type") or, old, the
// format before it ("uid:gid:mode", special bits lost). The folder
// itself gets the xattr too (drivers/overlay create).
func forcedSplitOf(t *testing.T, layer []byte, mask os.FileMode, old bool) (*Split, string) {
	t.Helper()
	dir := t.TempDir()
	var ts bytes.Buffer
	zw := gzip.NewWriter(&ts)
	packed(t, layer, zw)
	tsPath := filepath.Join(dir, "tar-split.json.gz")
	os.WriteFile(tsPath, ts.Bytes(), 0o600)
	diff := filepath.Join(dir, "diff")
	os.Mkdir(diff, 0o700)
	os.Chmod(diff, mask)
	setOverride(t, diff, "0:0:0755:dir")
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		p := filepath.Join(diff, h.Name)
		var typ string
		switch h.Typeflag {
		case tar.TypeDir:
			os.Mkdir(p, mask)
			typ = "dir"
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
			continue
		case tar.TypeChar:
			os.WriteFile(p, nil, mask)
			typ = fmt.Sprintf("char-%d-%d", h.Devmajor, h.Devminor)
		default:
			data, _ := io.ReadAll(tr)
			os.WriteFile(p, data, mask)
			typ = "file"
		}
		os.Chmod(p, mask)
		v := fmt.Sprintf("%d:%d:%04o:%s", h.Uid, h.Gid, h.Mode&0o7777, typ)
		if old {
			v = fmt.Sprintf("%d:%d:0%o", h.Uid, h.Gid, h.Mode&0o777)
		}
		setOverride(t, p, v)
	}
	root, err := os.OpenRoot(diff)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &Split{Name: "layer", Diff: root, Open: func() (io.ReadCloser, error) { return os.Open(tsPath) }}, diff
}

func setOverride(t *testing.T, p, v string) {
	t.Helper()
	if err := unix.Lsetxattr(p, OverrideXattr, []byte(v), 0); err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			t.Skipf("this filesystem keeps no user.* xattrs: %v", err)
		}
		t.Fatal(err)
	}
}

func removeOverrides(diff string) {
	filepath.Walk(diff, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			unix.Lremovexattr(p, OverrideXattr)
		}
		return nil
	})
}

// A layer stored with force_mask: its files' modes and owners on the disk
// are the mask's and the engine's, the ones the layer meant are in the
// override xattr, which drift compares with the layer's headers.
func TestDriftForceMask(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the layer's owners are root's: run as root")
	}
	forced := &StatOverride{Forced: true, Mask: 0o700}
	tests := []struct {
		name     string
		old      bool
		override *StatOverride
		damage   func(diff string)
		want     []string
	}{
		{"as stored", false, forced, func(string) {}, nil},
		{"as stored before containers/storage 1.57", true, forced, func(string) {}, nil},
		// A graph root read alone: no storage.conf, but its folder's
		// xattr says force_mask, and its mode is the mask.
		{"no storage.conf", false, &StatOverride{Mask: -1}, func(string) {}, nil},
		{"as stored, xattrs not read", false, nil, func(string) {}, []string{"drift: mode changed: /usr/su is 0700, 4755"}},
		{"xattr's mode changed", false, forced, func(d string) {
			unix.Lsetxattr(filepath.Join(d, "etc/motd"), OverrideXattr, []byte("0:0:4755:file"), 0)
		},
			[]string{"drift: mode changed: /etc/motd is 4755 (its user.containers.override_stat), 0644"}},
		{"xattr's owner changed", false, forced, func(d string) {
			unix.Lsetxattr(filepath.Join(d, "etc/owned"), OverrideXattr, []byte("0:0:0600:file"), 0)
		},
			[]string{"drift: owner changed: /etc/owned is 0:0 (its user.containers.override_stat), 1000:1001"}},
		{"xattr's type changed", false, forced, func(d string) {
			unix.Lsetxattr(filepath.Join(d, "dev/null"), OverrideXattr, []byte("0:0:0666:file"), 0)
		},
			[]string{"drift: type changed: /dev/null is a file (its user.containers.override_stat), a character device"}},
		{"old xattr given setuid", true, forced, func(d string) { unix.Lsetxattr(filepath.Join(d, "etc/motd"), OverrideXattr, []byte("0:0:04755"), 0) },
			[]string{"drift: mode changed: /etc/motd is 4755 (its user.containers.override_stat), 0644"}},
		{"xattr not containers/storage's", false, forced, func(d string) { unix.Lsetxattr(filepath.Join(d, "etc/motd"), OverrideXattr, []byte("root:0644"), 0) },
			[]string{`drift: changed: /etc/motd: its user.containers.override_stat "root:0644"`}},
		// Copied without xattrs: what the layer meant is unknown, said
		// in a note, never called drift.
		{"xattrs lost", false, forced, removeOverrides,
			[]string{"8 files and folders of the layer have no readable user.containers.override_stat"}},
		// ... but a mode that is not the mask's was changed on the disk.
		{"xattrs lost, a file made setuid", false, forced, func(d string) {
			removeOverrides(d)
			os.Chmod(filepath.Join(d, "etc/motd"), os.ModeSetuid|0o755)
		}, []string{"drift: mode changed: /etc/motd is 4755, 0644", "7 files and folders"}},
		{"planted", false, forced, func(d string) { os.WriteFile(filepath.Join(d, "etc/x.so"), []byte("x"), 0o700) },
			[]string{"drift: planted: /etc/x.so"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, diff := forcedSplitOf(t, forcedLayer(t), 0o700, tc.old)
			s.Override = tc.override
			tc.damage(diff)
			ps, err := s.Drift(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if (p.Kind != integrity.Drift && p.Kind != integrity.Degraded) || p.Blob != "layer" {
					t.Errorf("record %+v", p)
				}
				got = append(got, p.Detail)
			}
			if tc.override == nil {
				// Compared as they lie on the disk, every file and
				// folder differs.
				if !strings.Contains(strings.Join(got, "\n"), tc.want[0]) {
					t.Errorf("drift %q, want %q among it", got, tc.want)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("drift %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("drift %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		v    string
		want overrideStat
		err  bool
	}{
		{"0:0:0644", overrideStat{mode: 0o644, modeBits: 0o777}, false},
		{"1:2:04755", overrideStat{uid: 1, gid: 2, mode: 0o4755, modeBits: 0o7777}, false},
		{"0:0:1777:dir", overrideStat{mode: 0o1777, modeBits: 0o7777, typ: tar.TypeDir}, false},
		{"0:5:0620:char-136-0", overrideStat{gid: 5, mode: 0o620, modeBits: 0o7777, typ: tar.TypeChar}, false},
		{"0:0:0000:char-0-0", overrideStat{modeBits: 0o7777, typ: 'w'}, false},
		{"0:0:0644:block-8-0", overrideStat{mode: 0o644, modeBits: 0o7777, typ: tar.TypeBlock}, false},
		{"0:0:0644:pipe", overrideStat{mode: 0o644, modeBits: 0o7777, typ: tar.TypeFifo}, false},
		{"0:0:0644:door", overrideStat{}, true},
		{"0:0", overrideStat{}, true},
		{"a:0:0644", overrideStat{}, true},
		{"0:0:0999", overrideStat{}, true},
		{"0:0:77777", overrideStat{}, true},
		{"-1:0:0644", overrideStat{}, true},
	}
	for _, tc := range tests {
		got, err := parseOverride(tc.v)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseOverride(%q) = %+v, %v; want %+v, error %v", tc.v, got, err, tc.want, tc.err)
		}
	}
}
