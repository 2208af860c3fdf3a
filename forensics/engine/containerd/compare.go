package containerd

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/engine"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// maxCompareEntries bounds the headers of one layer kept to compare its
// snapshots with.
const maxCompareEntries = 1 << 21

// compare walks each snapshot unpacked from the layer blob member name
// and names what differs from the blob: containerd keeps no record of a
// snapshot's contents (no tar-split), and a running container reads the
// snapshot, not the blob, so a file planted, changed or re-permissioned
// in it after the unpack is seen by every container on that layer and by
// no digest. The blob is read again, decompressed, for its headers and
// its files' sha256; what it is itself image.Load verifies.
func (s *Store) compare(ctx context.Context, name string, dirs []snapshotDir) []integrity.Problem {
	hs, err := s.headersOf(name)
	if err != nil {
		var out []integrity.Problem
		for _, d := range dirs {
			out = append(out, integrity.Problem{Blob: d.dir, Kind: integrity.Unverifiable,
				Detail: fmt.Sprintf("snapshot %s (%s): not compared with its layer %s: %v", d.key, d.ns, name, err)})
		}
		return out
	}
	var out []integrity.Problem
	for _, d := range dirs {
		root, err := s.ev.OpenRoot(d.dir)
		if err != nil {
			out = append(out, integrity.Problem{Blob: d.dir, Kind: integrity.MissingBlob,
				Detail: fmt.Sprintf("snapshot %s (%s): its folder: %v", d.key, d.ns, err)})
			continue
		}
		ps, err := hs.Compare(ctx, d.dir, root, 0)
		root.Close()
		if err != nil {
			ps = append(ps, integrity.Problem{Blob: d.dir, Kind: integrity.BadLayer, Detail: "drift: " + err.Error()})
		}
		out = append(out, ps...)
	}
	return out
}

// headersOf reads layer blob member name as a tar, compressed or not,
// into the headers and file digests its snapshots are compared with.
func (s *Store) headersOf(name string) (*engine.Headers, error) {
	m := s.members[name]
	f, err := archive.OpenRegular(s.ev, m.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, _, err := compress.Reader(f)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	hs := engine.NewHeaders()
	tr := tar.NewReader(zr)
	buf := make([]byte, 256<<10)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the layer's tar: %w", err)
		}
		if n >= maxCompareEntries {
			return nil, fmt.Errorf("more than %d entries", maxCompareEntries)
		}
		hs.Add(h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid)
		if h.Typeflag == tar.TypeReg {
			sum := sha256.New()
			size, err := io.CopyBuffer(sum, tr, buf)
			if err != nil {
				return nil, fmt.Errorf("the layer's tar: %s: %w", h.Name, err)
			}
			hs.AddContent(h.Name, size, sum.Sum(nil))
		}
	}
}
