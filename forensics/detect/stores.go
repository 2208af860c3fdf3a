package detect

import (
	"errors"
	"io"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/tree"
)

// This file recognises package databases and package stores as a layer
// streams past, and finds the store folders of a whole image in its tree.
//
// Two kinds of record end up in LayerResult.Packages:
//
//   - a database file (dpkg status, an rpm database, apk's installed,
//     pacman's desc, a conda-meta record, the Nix database), keyed by its
//     path, parsed from its bytes; rpm's sqlite database is read when the
//     layer is done, together with the write-ahead log the layer wrote
//     beside it;
//   - a store folder (a Homebrew keg, a Nix store path, a /var/db/pkg
//     entry), keyed by the folder, noted from its path the first time the
//     layer writes anything in it; a keg's INSTALL_RECEIPT.json adds to
//     that record.

// storeSinks notes the store folder ent lies in, if any, and adds a sink
// for ent when it is a database file.
func (s *LayerScan) storeSinks(ent *layer.Entry, sinks []layer.Sink) []layer.Sink {
	if pkg, root, ok := pkgdb.Store(ent.Path); ok {
		if _, seen := s.res.Packages[root]; !seen {
			s.res.Packages[root] = []pkgdb.Package{pkg}
		}
	}
	if _, ok := pkgdb.Staged(ent.Path); ok {
		return append(sinks, s.newStageSink(ent))
	}
	eco, ok := pkgdb.Match(ent.Path)
	if !ok {
		return sinks
	}
	if owner := pkgdb.Owner(ent.Path); owner != ent.Path {
		return append(sinks, s.newOwnedDBSink(eco, ent, owner))
	}
	return append(sinks, s.newDBSink(eco, ent))
}

// ownedDBSink parses a file whose package belongs to another path (a keg's
// INSTALL_RECEIPT.json, whose package is the keg's) and replaces that
// path's record with what it read. The parser runs on its own goroutine,
// fed through a pipe, as the other database sinks are.
type ownedDBSink struct {
	s     *LayerScan
	owner string
	pw    *io.PipeWriter
	done  chan struct{}
	pkgs  []pkgdb.Package
	err   error
}

func (s *LayerScan) newOwnedDBSink(eco pkgdb.Ecosystem, ent *layer.Entry, owner string) *ownedDBSink {
	pr, pw := io.Pipe()
	d := &ownedDBSink{s: s, owner: owner, pw: pw, done: make(chan struct{})}
	p, size, max := ent.Path, ent.Size, s.e.maxDB()
	go func() {
		defer close(d.done)
		d.pkgs, d.err = pkgdb.Parse(eco, p, pr, size, max)
		io.Copy(io.Discard, pr)
	}()
	return d
}

func (d *ownedDBSink) Write(b []byte) (int, error) { return d.pw.Write(b) }

func (d *ownedDBSink) Done(e *layer.Entry, err error) {
	if err != nil {
		d.pw.CloseWithError(err)
	} else {
		d.pw.Close()
	}
	<-d.done
	if err != nil {
		return
	}
	if d.err != nil {
		d.s.errorf("package database %s: %v", e.Path, d.err)
	}
	if len(d.pkgs) > 0 {
		d.s.res.Packages[d.owner] = append([]pkgdb.Package{}, d.pkgs...)
	}
}

// stageSink copies an rpm sqlite database, or its write-ahead log, into the
// layer's pkgdb.Staging: a package installed by the layer may be recorded
// in the log alone, and the tar may carry the two files in either order,
// so both are read together when the layer is done (readStaged).
type stageSink struct {
	*pipeSink
	s   *LayerScan
	err error
}

func (s *LayerScan) newStageSink(ent *layer.Entry) *stageSink {
	if s.stage == nil {
		s.stage = pkgdb.NewStaging(s.e.maxDB())
	}
	d := &stageSink{s: s}
	st, p, size := s.stage, ent.Path, ent.Size
	d.pipeSink = startPipe(func(r io.Reader) { d.err = st.Add(p, r, size) })
	return d
}

func (d *stageSink) Done(e *layer.Entry, err error) {
	d.finish(err)
	if err == nil && d.err != nil { // a broken stream is the walk's to report
		d.s.errorf("package database %s: %v", e.Path, d.err)
	}
}

// readStaged reads the staged rpm sqlite databases, each with the
// write-ahead log the layer wrote beside it, and removes the copies. A log
// written without its database is reported: the database it completes lies
// in another layer, whose bytes this scan does not have.
func (s *LayerScan) readStaged() {
	st := s.stage
	if st == nil {
		return
	}
	s.stage = nil
	dbs, unread := st.Parse()
	for _, d := range dbs {
		if d.Err != nil {
			s.errorf("package database %s: %v", d.Path, d.Err)
		}
		s.res.Packages[d.Path] = append([]pkgdb.Package{}, d.Packages...)
	}
	for _, err := range unread {
		var ue *pkgdb.UnreadWALError
		if errors.As(err, &ue) {
			s.res.UnreadWAL = append(s.res.UnreadWAL, ue.DB)
		}
		s.errorf("package database %v", err)
	}
	if err := st.Close(); err != nil {
		s.errorf("%v", err)
	}
}

// storeFolders lists the store folders at the fixed store places of the
// image's tree, present or deleted: those a layer filled only with hard
// links, symbolic links or empty folders are in no layer's Packages.
func storeFolders(t *tree.Tree) []string {
	if t == nil {
		return nil
	}
	var out []string
	isRoot := func(p string) bool {
		_, root, ok := pkgdb.Store(p)
		return ok && root == p
	}
	for _, dir := range pkgdb.StoreDirs {
		nix := dir+"/" == "/nix/store/"
		for _, k := range t.Children(dir) {
			p := k.Path()
			if isRoot(p) {
				out = append(out, p)
				continue
			}
			if nix {
				continue // store paths lie directly in /nix/store
			}
			for _, kk := range t.Children(p) { // <cellar>/<formula>/<version>, /var/db/pkg/<category>/<pf>
				if q := kk.Path(); isRoot(q) {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// folderState is dbState for a store folder: the folder exists after layer
// n when the tree says so, installed by the layer that began its current
// life; its package is the record of the latest layer of that life that
// wrote into it (a receipt read there), else what its name says.
func folderState(in ImageInput, root string, pkg pkgdb.Package) *dbState {
	st := &dbState{path: root, eco: pkg.Ecosystem, folder: true, at: make([][]pkgdb.Package, len(in.Layers)), from: make([]int, len(in.Layers)), sha: make([]string, len(in.Layers))}
	var node *tree.Node
	if in.Tree != nil {
		node = in.Tree.Node(root)
	}
	record := func(k int) []pkgdb.Package {
		if k < 0 || k >= len(in.Layers) || in.Layers[k] == nil {
			return nil
		}
		return in.Layers[k].Packages[root]
	}
	for n := range in.Layers {
		st.from[n] = -1
		if node == nil {
			// Without a tree, the latest layer that wrote into the folder.
			for k := n; k >= 0; k-- {
				if r := record(k); r != nil {
					st.at[n], st.from[n] = r, k
					break
				}
			}
			continue
		}
		s := node.State(n)
		if !s.Exists {
			continue
		}
		st.from[n] = s.Introduced
		st.at[n] = []pkgdb.Package{pkg}
		for k := n; k >= s.Introduced && k >= 0; k-- {
			if r := record(k); len(r) > 0 {
				st.at[n] = r
				break
			}
		}
		if s.Entry != nil && s.Entry.Type == layer.File {
			st.sha[n] = s.Entry.SHA256 // a store path that is one file
		}
	}
	return st
}
