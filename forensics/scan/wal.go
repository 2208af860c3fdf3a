package scan

import (
	"fmt"

	"github.com/strata-forensics/strata/forensics/detect"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
)

// A walReader reads, for layer i of an image, the package database db as
// the layers below left it together with the write-ahead log layer i
// wrote beside it: a package installed by that layer's build step may be
// recorded in the log alone, and a layer read on its own has no database
// to apply it to (detect.LayerResult.UnreadWAL).
type walReader func(ir *ImageResult, i int, db string) ([]pkgdb.Package, error)

// readWALs completes dets, the image's per-layer detector results, with
// the packages of every database a layer's log completes, read with the
// database from below. A result is copied before it is changed: the same
// layer under another base reads another database.
func readWALs(ir *ImageResult, dets []*detect.LayerResult, read walReader) {
	if read == nil {
		return
	}
	for i, det := range dets {
		if det == nil || len(det.UnreadWAL) == 0 {
			continue
		}
		own := *det
		own.Packages = make(map[string][]pkgdb.Package, len(det.Packages)+len(det.UnreadWAL))
		for k, v := range det.Packages {
			own.Packages[k] = v
		}
		own.Errors = append([]string(nil), det.Errors...)
		for _, db := range det.UnreadWAL {
			pkgs, err := read(ir, i, db)
			if err != nil {
				own.Errors = append(own.Errors, fmt.Sprintf("package database %s with the log layer %d wrote: %v", db, i, err))
				continue
			}
			own.Packages[db] = pkgs
		}
		own.UnreadWAL = nil
		dets[i] = &own
	}
}

// contentWAL is the walReader of a scan's result: the database's bytes as
// of the layer below from the blob that holds them, the log's from layer
// i's, both through the input's content opener (so verified against the
// sha256 their walks recorded), into a private scratch folder.
func contentWAL(res *Result, maxBytes int64) walReader {
	return func(ir *ImageResult, i int, db string) ([]pkgdb.Package, error) {
		if i == 0 {
			return nil, fmt.Errorf("no layer below holds %s", db)
		}
		c := res.Content(ir)
		st := pkgdb.NewStaging(maxBytes)
		defer st.Close()
		for _, f := range []struct {
			path  string
			as    int // the layer the file is taken as of
			exact bool
		}{{db, i - 1, false}, {db + "-wal", i, true}} {
			e, from, ok := ir.Resolve(f.path, f.as)
			if !ok || e.Type != layer.File || (f.exact && from != i) {
				return nil, fmt.Errorf("%s is not there as of layer %d", f.path, f.as)
			}
			rc, err := c.Open(from, e)
			if err != nil {
				return nil, err
			}
			err = st.Add(f.path, rc, e.Size)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
		dbs, _ := st.Parse()
		if len(dbs) != 1 {
			return nil, fmt.Errorf("%s not read", db)
		}
		return dbs[0].Packages, dbs[0].Err
	}
}
