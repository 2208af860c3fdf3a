package engine

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// maxDriftShown bounds how many drift records one layer gives; the rest
// are counted.
const maxDriftShown = 32

// recorded is what a layer's tar header says of one path.
type recorded struct {
	typ  byte
	mode int64
	uid  int
	gid  int
}

// Drift walks the diff folder and compares it with the tar-split's
// headers, for what a rebuild cannot see: a file planted in the folder
// after the pull, or re-permissioned, re-owned or retyped, is streamed by
// no rebuild (which takes only the files it lists, and their bytes), so
// the layer's diff_id still matches. Whiteouts are 0/0 character devices
// on disk (moby's overlay converter). shift is the uid/gid shift of a
// rootless or user-namespaced engine (0 for none).
func (s *Split) Drift(ctx context.Context, shift int) ([]integrity.Problem, error) {
	want := map[string]recorded{}
	rc, err := s.Open()
	if err != nil {
		return nil, err
	}
	err = s.headers(rc, func(h *tar.Header) error {
		name := strings.TrimSuffix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			return nil // an xattr of its folder on disk
		case strings.HasPrefix(base, ".wh."):
			want[dir+strings.TrimPrefix(base, ".wh.")] = recorded{typ: 'w'}
			return nil
		}
		want[name] = recorded{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
		return nil
	})
	// A folder a path lies in is made when the layer is applied even
	// when the tar has no header of its own for it.
	implied := map[string]bool{}
	for name := range want {
		for d := path.Dir(name); d != "/" && !implied[d]; d = path.Dir(d) {
			implied[d] = true
		}
	}
	rc.Close()
	if err != nil {
		return nil, err
	}
	var out []integrity.Problem
	n := 0
	add := func(format string, args ...any) {
		n++
		if n <= maxDriftShown {
			out = append(out, integrity.Problem{Blob: s.Name, Kind: integrity.Drift, Detail: fmt.Sprintf(format, args...)})
		}
	}
	seen := map[string]bool{}
	err = fs.WalkDir(s.Diff.FS(), ".", func(p string, d fs.DirEntry, err error) error {
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
		rec, ok := want[name]
		if !ok && d.IsDir() && implied[name] {
			return nil
		}
		if !ok {
			what := "a file"
			if d.IsDir() {
				what = "a folder"
			}
			add("drift: planted: %s: %s (%d bytes) the layer did not have when it was pulled", name, what, fi.Size())
			if d.IsDir() {
				return fs.SkipDir // one record for what it holds
			}
			return nil
		}
		if got := typeOf(fi); !sameType(rec.typ, got) {
			add("drift: type changed: %s is %s, %s when the layer was pulled", name, typeName(got), typeName(rec.typ))
			return nil
		}
		if rec.typ == 'w' || rec.typ == tar.TypeSymlink {
			return nil
		}
		if mode := int64(fi.Mode().Perm()) | special(fi.Mode()); mode != rec.mode {
			add("drift: mode changed: %s is %04o, %04o when the layer was pulled", name, mode, rec.mode)
		}
		if uid, gid, ok := ownerOf(fi); ok {
			uid, gid = uid-shift, gid-shift
			if uid != rec.uid || gid != rec.gid {
				add("drift: owner changed: %s is %d:%d, %d:%d when the layer was pulled", name, uid, gid, rec.uid, rec.gid)
			}
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
		case rec.typ != tar.TypeReg && rec.typ != tar.TypeRegA:
			// A regular file's absence the rebuild reports.
			add("drift: gone: %s (%s) is not in the folder", name, typeName(rec.typ))
		}
	}
	if lostWhiteouts > 0 {
		// The tar-split keeps them, so the rebuilt layer is whole; the
		// folder alone, as an overlay would mount it, is not.
		out = append(out, integrity.Problem{Blob: s.Name, Kind: integrity.Degraded,
			Detail: fmt.Sprintf("%d whiteouts of the layer are not in its folder (a copy made without device nodes?): the rebuilt layer has them, the folder alone does not", lostWhiteouts)})
	}
	if n > maxDriftShown {
		out = append(out, integrity.Problem{Blob: s.Name, Kind: integrity.Drift,
			Detail: fmt.Sprintf("drift: %d more differences not listed", n-maxDriftShown)})
	}
	return out, nil
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

// special is the setuid, setgid and sticky bits of m as tar keeps them.
func special(m os.FileMode) int64 {
	var n int64
	if m&os.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		n |= 0o1000
	}
	return n
}
