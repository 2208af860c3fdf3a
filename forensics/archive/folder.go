package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/strata-forensics/strata/forensics/integrity"
)

// A Folder is a folder of an engine's storage listed as the layer tar it
// stands for, synthesised on each Open as a root-filesystem folder's is
// (see rootfs_dir.go: no link followed, nothing but regular files opened,
// each checked to be the file listed).
type Folder struct {
	d *rootfsDir
}

// Size is the size of the folder's tar.
func (f *Folder) Size() int64 { return f.d.size }

// Open returns a reader of the folder's tar.
func (f *Folder) Open() io.ReadCloser { return f.d.open() }

// Overlay xattr namespaces: trusted.overlay.* as the kernel writes them
// for a rootful overlay, user.overlay.* for a rootless one.
var overlayXattrs = []string{"trusted.overlay.", "user.overlay."}

// ListUpper lists an overlay upper folder (a container's writable layer,
// root being that folder) as the layer tar it stands for: a whiteout, the
// 0/0 character device the kernel leaves for a deleted file, is the
// ".wh.<name>" entry a layer tar holds, and a folder marked opaque gets a
// ".wh..wh..opq" entry; fuse-overlayfs's own ".wh." files are kept as they
// are. The overlay's xattrs are left out of the headers. A renamed folder
// (redirect) or a metadata-only copy-up is named in a record, for what the
// folder shows of it is not all of it. An examiner who cannot read
// trusted.* xattrs sees no opaque folder nor redirect: the caller says so.
func ListUpper(ctx context.Context, root *os.Root, maxEntries int, name string) (*Folder, []integrity.Problem, error) {
	d, problems, err := listRootfs(ctx, root, maxEntries)
	if err != nil {
		return nil, problems, err
	}
	d.ctx = ctx
	var out []fsEntry
	for _, e := range d.entries {
		opaque := false
		for k, v := range e.xattrs {
			for _, ns := range overlayXattrs {
				key, ok := strings.CutPrefix(k, ns)
				if !ok {
					continue
				}
				switch key {
				case "opaque":
					opaque = v == "y"
				case "redirect":
					problems = append(problems, integrity.Problem{Blob: name, Kind: integrity.Degraded,
						Detail: fmt.Sprintf("/%s/: a folder renamed in the container (overlay redirect from %q): what it held below is not in this layer", e.name, v)})
				case "metacopy":
					problems = append(problems, integrity.Problem{Blob: name, Kind: integrity.Degraded,
						Detail: fmt.Sprintf("/%s: copied up metadata only (overlay metacopy): its bytes are the image's", e.name)})
				}
			}
		}
		e.xattrs = withoutOverlay(e.xattrs)
		if e.typ == tar.TypeChar && e.major == 0 && e.minor == 0 {
			dir, base := path.Split(e.name)
			e = fsEntry{name: dir + ".wh." + base, typ: tar.TypeReg, mode: 0o600, mtime: e.mtime, uid: e.uid, gid: e.gid}
		}
		out = append(out, e)
		if e.typ == tar.TypeDir && opaque {
			out = append(out, fsEntry{name: e.name + "/.wh..wh..opq", typ: tar.TypeReg, mode: 0o600, mtime: e.mtime, uid: e.uid, gid: e.gid})
		}
	}
	d.entries = out
	d.size = 2 * blockSize
	for i := range d.entries {
		e := &d.entries[i]
		n, err := headerSize(e.header())
		if err != nil {
			return nil, problems, fmt.Errorf("/%s: %w", e.name, err)
		}
		d.size += n
		if e.typ == tar.TypeReg {
			d.size += blockPad(e.size)
		}
	}
	return &Folder{d: d}, problems, nil
}

func withoutOverlay(x map[string]string) map[string]string {
	for k := range x {
		for _, ns := range overlayXattrs {
			if strings.HasPrefix(k, ns) {
				delete(x, k)
			}
		}
	}
	if len(x) == 0 {
		return nil
	}
	return x
}

// OpenRegular opens the regular file name below root to read it, never
// through a link and never waiting on a FIFO: a file of an engine's layer
// folder that is now something else is not read.
func OpenRegular(root *os.Root, name string) (*os.File, error) {
	// os.Root follows a link that stays below it whatever flags are
	// given (O_NOFOLLOW included): name is looked at first, and the file
	// opened must be the one looked at.
	li, err := root.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !li.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: a %v, not a regular file", name, li.Mode().Type())
	}
	f, err := openFile(root, name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || !os.SameFile(li, fi) {
		f.Close()
		return nil, fmt.Errorf("%s: replaced while it was opened", name)
	}
	return f, nil
}
