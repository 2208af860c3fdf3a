package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// maxDriftShown bounds how many drift records one layer gives; the rest
// are counted.
const maxDriftShown = 32

// maxDriftFiles bounds how many of a layer's planted or changed files are
// kept for the detectors to read: far more than anyone plants by hand,
// few enough that their list (a path and a closure each) stays small. A
// folder holding more (a whole root filesystem copied in) says how many
// were left out.
const maxDriftFiles = 10_000

// recorded is what a layer's tar header says of one path: for a regular
// file the header's size (-1 when not had), and when its bytes were read,
// their sha256.
type recorded struct {
	typ  byte
	mode int64
	uid  int
	gid  int

	size int64
	sum  []byte
}

// Headers is what a layer's tar says of each path, to compare the folder
// the layer was applied to with: a tar-split's headers (Docker's layerdb,
// containers/storage) or a verified blob's (containerd's snapshots).
type Headers struct {
	want   map[string]recorded
	opaque map[string]bool // folders the layer marks opaque
}

// NewHeaders returns an empty record of a layer's headers.
func NewHeaders() *Headers { return &Headers{want: map[string]recorded{}, opaque: map[string]bool{}} }

// Add records one header of the layer: its name as the tar has it, its
// type flag, mode and owner. A ".wh." entry is a whiteout (a 0/0
// character device on disk, by the overlay converters of moby and
// containerd); an opaque marker is an xattr of its folder, not compared.
func (hs *Headers) Add(name string, typ byte, mode int64, uid, gid int) {
	hs.add(name, typ, mode, uid, gid, -1)
}

// add is Add with the header's size: a tar-split keeps no digest of a
// file's bytes, but a file of the folder whose size is not the header's
// is known to hold other bytes without reading it.
func (hs *Headers) add(name string, typ byte, mode int64, uid, gid int, size int64) {
	name = strings.TrimSuffix(path.Clean("/"+name), "/")
	dir, base := path.Split(name)
	switch {
	case base == ".wh..wh..opq":
		hs.opaque[strings.TrimSuffix(dir, "/")] = true
		return
	case strings.HasPrefix(base, ".wh."):
		hs.want[dir+strings.TrimPrefix(base, ".wh.")] = recorded{typ: 'w'}
		return
	}
	if typ != tar.TypeReg && typ != tar.TypeRegA {
		size = -1 // a hard link's header has no size of its own
	}
	hs.want[name] = recorded{typ: typ, mode: mode & 0o7777, uid: uid, gid: gid, size: size}
}

// aufsWhiteout reports whether name, a regular file in the folder, is one
// of the layer's own deletions kept as the tar writes them: fuse-overlayfs
// (the mount_program of rootless containers/storage) applies a ".wh."
// entry as a ".wh." file, and an opaque folder's ".wh..wh..opq" as a
// file too, where the kernel's overlay has a 0/0 device and an xattr. The
// whiteout's own path is then seen.
func (hs *Headers) aufsWhiteout(name string, fi fs.FileInfo, seen map[string]bool) bool {
	dir, base := path.Split(name)
	if !fi.Mode().IsRegular() || !strings.HasPrefix(base, ".wh.") {
		return false
	}
	if base == ".wh..wh..opq" {
		return hs.opaque[strings.TrimSuffix(dir, "/")]
	}
	target := dir + strings.TrimPrefix(base, ".wh.")
	if r, ok := hs.want[target]; ok && r.typ == 'w' {
		seen[target] = true
		return true
	}
	return false
}

// addSegment records the header a tar-split segment holds after the
// previous file's padding, and returns the padding of this one's file
// (asm.IterateHeaders reads segments the same way).
func (hs *Headers) addSegment(payload []byte, padding int64) int64 {
	if int64(len(payload)) < padding {
		return 0
	}
	if h, ok := ustarHeader(payload[padding:]); ok {
		hs.add(h.name, h.typ, h.mode, h.uid, h.gid, h.size)
		return (blockSize - h.size%blockSize) % blockSize
	}
	tr := tar.NewReader(bytes.NewReader(payload[padding:]))
	h, err := tr.Next()
	if err != nil {
		return 0 // the end-of-archive blocks, or no header: nothing to record
	}
	hs.add(h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size)
	return tr.ExpectedPadding()
}

// AddContent records the length and sha256 of a regular file's bytes, for
// Compare to check the folder's copy against (a tar-split keeps only a
// CRC, which its rebuild checks; a blob's bytes are had whole).
func (hs *Headers) AddContent(name string, size int64, sum []byte) {
	name = strings.TrimSuffix(path.Clean("/"+name), "/")
	if r, ok := hs.want[name]; ok {
		r.size, r.sum = size, sum
		hs.want[name] = r
	}
}

// Drift walks the diff folder and compares it with the tar-split's
// headers, for what a rebuild cannot see: a file planted in the folder
// after the pull, or re-permissioned, re-owned or retyped, is streamed by
// no rebuild (which takes only the files it lists, and their bytes), so
// the layer's diff_id still matches. shift is the uid/gid shift of a
// rootless or user-namespaced engine (0 for none).
func (s *Split) Drift(ctx context.Context, shift int) ([]integrity.Problem, error) {
	return s.drifted(ctx, shift, nil)
}

// drifted is Drift, adding to files (when not nil) the regular files of
// the folder whose bytes the layer's tar does not hold.
func (s *Split) drifted(ctx context.Context, shift int, files *driftFiles) ([]integrity.Problem, error) {
	s.mu.Lock()
	hs := s.kept
	s.mu.Unlock()
	if hs == nil {
		hs = NewHeaders()
		rc, err := s.Open()
		if err != nil {
			return nil, err
		}
		err = s.headers(rc, func(h *tar.Header) error {
			hs.add(h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size)
			return nil
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return hs.compare(ctx, s.Name, s.Diff, shift, s.Override, files)
}

// driftFiles collects, up to maxDriftFiles, the regular files of a
// layer's folder whose bytes the layer's digest does not cover: planted
// after the pull, or changed since. A file is kept once, under what was
// said of it first.
type driftFiles struct {
	list []archive.Drifted // Open is set by the Store that serves them
	seen map[string]bool
	more int // not kept, past maxDriftFiles
}

// add keeps file p (absolute), of size bytes; nothing on a nil d.
func (d *driftFiles) add(p string, size int64, what string) {
	if d == nil || d.seen[p] {
		return
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[p] = true
	if len(d.list) >= maxDriftFiles {
		d.more++
		return
	}
	d.list = append(d.list, archive.Drifted{Path: p, Size: size, What: what})
}

// Compare walks folder dir, where the layer was applied, and names in
// Drift records (Blob name) what differs from its headers: a file
// planted, one whose type, mode or owner changed, one that is gone, and
// where AddContent gave its bytes, one whose bytes changed. No link is
// followed and nothing but regular files is opened.
func (hs *Headers) Compare(ctx context.Context, name string, dir *os.Root, shift int) ([]integrity.Problem, error) {
	return hs.compare(ctx, name, dir, shift, nil, nil)
}

// compare is Compare of a folder whose files may carry OverrideXattr (o
// not nil): a file's xattr is then what its type, mode and owner are
// compared from. It adds to files (when not nil) each regular file whose
// bytes the layer's tar does not hold: one planted, one planted inside a
// planted folder (of which the records say only the folder), one where
// the tar had something else, one whose size or sha256 is not the
// header's.
func (hs *Headers) compare(ctx context.Context, name string, dir *os.Root, shift int, o *StatOverride, files *driftFiles) ([]integrity.Problem, error) {
	want := hs.want
	ov := newOverrides(o, dir)
	// A folder a path lies in is made when the layer is applied even
	// when the tar has no header of its own for it.
	implied := map[string]bool{}
	for name := range want {
		for d := path.Dir(name); d != "/" && !implied[d]; d = path.Dir(d) {
			implied[d] = true
		}
	}
	var out []integrity.Problem
	n := 0
	add := func(format string, args ...any) {
		n++
		if n <= maxDriftShown {
			out = append(out, integrity.Problem{Blob: name, Kind: integrity.Drift, Detail: fmt.Sprintf(format, args...)})
		}
	}
	seen := map[string]bool{}
	plantedDirs := map[string]bool{} // walked only for files, when files is kept
	err := walkFolder(dir, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			add("drift: unreadable: /%s: %v", p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		name := "/" + p
		seen[name] = true
		fi, err := d.Info()
		if err != nil {
			add("drift: unreadable: %s: %v", name, err)
			return nil
		}
		if hs.aufsWhiteout(name, fi, seen) {
			return nil
		}
		rec, ok := want[name]
		if !ok && d.IsDir() && implied[name] {
			return nil
		}
		if !ok {
			if plantedDirs[path.Dir(name)] {
				// Inside a planted folder: its record said it all.
				if d.IsDir() {
					plantedDirs[name] = true
				} else if fi.Mode().IsRegular() {
					files.add(name, fi.Size(), archive.DriftPlanted)
				}
				return nil
			}
			add("drift: planted: %s: %s (%d bytes) the layer did not have when it was pulled", name, typeName(typeOf(fi)), fi.Size())
			switch {
			case d.IsDir() && files == nil:
				return fs.SkipDir // one record for what it holds
			case d.IsDir():
				plantedDirs[name] = true // one record, but its files are read
			case fi.Mode().IsRegular():
				files.add(name, fi.Size(), archive.DriftPlanted)
			}
			return nil
		}
		got, mode, bits := typeOf(fi), archive.TarMode(fi.Mode()), int64(0o7777)
		uid, gid, owned := ownerOf(fi)
		from := "" // where the type, mode and owner compared come from
		known := true
		if ov != nil {
			st, ok, k, bad := ov.stat(p, fi)
			switch {
			case bad != "":
				add("drift: changed: %s: its %s %s is not what containers/storage writes", name, OverrideXattr, bad)
				return nil
			case ok:
				mode, bits, uid, gid, owned, from = st.mode, st.modeBits, st.uid, st.gid, true, " (its "+OverrideXattr+")"
				if st.typ != 0 {
					got = st.typ
				} else if forcedType(rec.typ, got) {
					got = rec.typ // the xattr of containers/storage before 1.57 records no type
				}
			default:
				known = k
			}
		}
		if !known {
			// Stored with the mask's mode, owned by the engine's user,
			// and a device, FIFO or socket as a regular file: what the
			// layer meant is unknown where that differs from its header.
			if forcedType(rec.typ, got) || mode&bits != rec.mode&bits || owned && shift >= 0 && (uid-shift != rec.uid || gid-shift != rec.gid) {
				ov.unknown++
			}
			if !sameType(rec.typ, got) && !forcedType(rec.typ, got) {
				add("drift: type changed: %s is %s, %s when the layer was pulled", name, typeName(got), typeName(rec.typ))
				if fi.Mode().IsRegular() {
					files.add(name, fi.Size(), archive.DriftChanged)
				}
				return nil
			}
		} else {
			if !sameType(rec.typ, got) {
				add("drift: type changed: %s is %s%s, %s when the layer was pulled", name, typeName(got), from, typeName(rec.typ))
				if fi.Mode().IsRegular() {
					files.add(name, fi.Size(), archive.DriftChanged)
				}
				return nil
			}
			if rec.typ == 'w' || rec.typ == tar.TypeSymlink {
				return nil
			}
			if mode&bits != rec.mode&bits {
				add("drift: mode changed: %s is %04o%s, %04o when the layer was pulled", name, mode, from, rec.mode)
			}
			if owned && shift >= 0 {
				uid, gid = uid-shift, gid-shift
				if uid != rec.uid || gid != rec.gid {
					add("drift: owner changed: %s is %d:%d%s, %d:%d when the layer was pulled", name, uid, gid, from, rec.uid, rec.gid)
				}
			}
		}
		switch {
		case rec.sum != nil:
			switch size, sum, err := sha256Of(dir, p); {
			case err != nil:
				add("drift: unreadable: %s: %v", name, err)
			case size != rec.size:
				add("drift: changed: %s is %d bytes, %d when the layer was pulled", name, size, rec.size)
				files.add(name, size, archive.DriftChanged)
			case !bytes.Equal(sum, rec.sum):
				add("drift: changed: %s content differs from what was pulled (sha256 of its %d bytes)", name, size)
				files.add(name, size, archive.DriftChanged)
			}
		case rec.size >= 0 && fi.Mode().IsRegular() && fi.Size() != rec.size:
			// A tar-split's rebuild says it (it reads the file); its
			// bytes are the detectors' to read.
			files.add(name, fi.Size(), archive.DriftChanged)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	lostWhiteouts := 0
	for _, name := range names {
		rec := want[name]
		switch {
		case seen[name]:
		case rec.typ == 'w':
			lostWhiteouts++
		case rec.sum != nil || rec.typ != tar.TypeReg && rec.typ != tar.TypeRegA:
			// A regular file's absence a tar-split rebuild reports; one
			// compared by content (a snapshot) is said here.
			add("drift: gone: %s (%s) is not in the folder", name, typeName(rec.typ))
		}
	}
	if lostWhiteouts > 0 {
		// The layer's record keeps them, so the layer read is whole; the
		// folder alone, as an overlay would mount it, is not.
		out = append(out, integrity.Problem{Blob: name, Kind: integrity.Degraded,
			Detail: fmt.Sprintf("%d whiteouts of the layer are not in its folder (a copy made without device nodes?): the layer read has them, the folder alone does not", lostWhiteouts)})
	}
	if ov != nil && ov.unknown > 0 {
		mask := "the mask's"
		if ov.mask >= 0 {
			mask = fmt.Sprintf("the mask's, %04o", ov.mask)
		}
		out = append(out, integrity.Problem{Blob: name, Kind: integrity.Degraded,
			Detail: fmt.Sprintf("%d files and folders of the layer have no readable %s though containers/storage stored them with force_mask (a copy that lost extended attributes?): their modes on the disk are %s, so what the layer meant of their modes, owners and device types is unknown, not compared", ov.unknown, OverrideXattr, mask)})
	}
	if n > maxDriftShown {
		out = append(out, integrity.Problem{Blob: name, Kind: integrity.Drift,
			Detail: fmt.Sprintf("drift: %d more differences not listed", n-maxDriftShown)})
	}
	return out, nil
}

// forcedType reports whether a file of the layer's type want, which is
// got on the disk, is as force_mask stores it: a device, a FIFO or a
// whiteout as a regular file.
func forcedType(want, got byte) bool {
	switch want {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo, 'w':
		return got == tar.TypeReg
	}
	return false
}

// sha256Of hashes the regular file p below dir, never through a link.
func sha256Of(dir *os.Root, p string) (int64, []byte, error) {
	f, err := archive.OpenRegular(dir, p)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return n, nil, err
	}
	return n, h.Sum(nil), nil
}

// headers calls fn with each tar header of the tar-split read from rc.
func (s *Split) headers(rc interface{ Read([]byte) (int, error) }, fn func(*tar.Header) error) error {
	zr, err := newGzip(rc)
	if err != nil {
		return err
	}
	return asm.IterateHeaders(storage.NewJSONUnpacker(limit(zr)), fn)
}

func typeOf(fi fs.FileInfo) byte {
	m := fi.Mode()
	switch {
	case m.IsDir():
		return tar.TypeDir
	case m&fs.ModeSymlink != 0:
		return tar.TypeSymlink
	case m&fs.ModeCharDevice != 0:
		if isWhiteout(fi) {
			return 'w'
		}
		return tar.TypeChar
	case m&fs.ModeDevice != 0:
		return tar.TypeBlock
	case m&fs.ModeNamedPipe != 0:
		return tar.TypeFifo
	case m.IsRegular():
		return tar.TypeReg
	}
	return 0
}

func sameType(want, got byte) bool {
	switch want {
	case tar.TypeReg, tar.TypeRegA, tar.TypeLink, tar.TypeCont:
		return got == tar.TypeReg // a hard link is one more name of a file
	}
	return want == got
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg, tar.TypeRegA:
		return "a file"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeDir:
		return "a folder"
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a FIFO"
	case 'w':
		return "a whiteout"
	}
	return "something else"
}
