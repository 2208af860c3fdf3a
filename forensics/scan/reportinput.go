package scan

import (
	"io"
	"path"
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/report"
	"github.com/strata-forensics/strata/forensics/tree"
)

// ReportSource describes the result as a report input: its findings and
// problems, its images with the layers as read, an opener (Content) per
// image for the evidence folder's copies, and each image's inventory (its
// packages with the layers that installed them) for OpenVEX and CycloneDX.
// The source points into the result, not into its trees; its openers read
// until r is closed.
func (r *Result) ReportSource() report.Source {
	src := report.Source{Input: r.Input, Problems: r.Problems, Findings: r.Findings, Ruleset: r.Ruleset,
		Started: r.Started, Finished: r.Finished}
	for _, ir := range r.Images {
		if ir == nil || ir.Image == nil {
			continue
		}
		content := r.Content(ir)
		img := report.SourceImage{Image: ir.Image, Layers: make([]report.SourceLayer, len(ir.Layers)), Content: content}
		for i, lr := range ir.Layers {
			if lr == nil {
				continue
			}
			img.Layers[i].Blob = lr.Blob
			img.Layers[i].Digest = ir.LayerDigest(i)
			if lr.Summary != nil {
				img.Layers[i].Entries = lr.Summary.Entries
				img.Layers[i].UncompressedSize = lr.Summary.UncompressedSize
				img.Layers[i].EntryCount = lr.EntryCount()
			}
		}
		switch {
		case ir.inventory != nil:
			img.Inventory = ir.inventory
		case r.Ruleset != nil:
			img.Inventory = inventory(ir, content)
		}
		src.Images = append(src.Images, img)
	}
	r.cacheSource(&src)
	return src
}

// inventory lists what the image's package databases say, each package
// with the layer that installed it, and its final liblzma files. It reads
// the layer results and the tree, never the blobs; only ReadOSRelease
// does, when a writer calls it.
func inventory(ir *ImageResult, content Content) *report.Inventory {
	inv := &report.Inventory{}
	for _, db := range databases(ir) {
		inv.Packages = append(inv.Packages, dbInventory(ir, db)...)
	}
	seen := map[string]bool{}
	for _, lr := range ir.Layers {
		if lr == nil || lr.Summary == nil || ir.Tree == nil {
			continue
		}
		for _, e := range lr.Summary.Entries {
			if (e.Type != layer.File && e.Type != layer.Hardlink) || !strings.HasPrefix(path.Base(e.Path), "liblzma.so") || seen[e.Path] {
				continue
			}
			seen[e.Path] = true
			res, err := ir.Tree.Resolve(e.Path, -1, false)
			if err != nil || res.Entry == nil || res.Entry.Type != layer.File {
				continue // deleted, or no longer a file, in the final filesystem
			}
			inv.Liblzma = append(inv.Liblzma, report.InventoryFile{Path: e.Path, Layer: res.From, SHA256: res.Entry.SHA256})
		}
	}
	if ir.Tree != nil {
		for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
			res, err := ir.Tree.Resolve(p, -1, true)
			if err != nil || res.Entry == nil || res.Entry.Type != layer.File || res.From < 0 {
				continue
			}
			// A copy: the entry may lie in one allocation with every
			// entry of its layer (a cache entry's), which the report
			// would otherwise keep to its end (Options.DropListings).
			e, from := *res.Entry, res.From
			inv.ReadOSRelease = func() ([]byte, error) {
				rc, err := content.Open(from, &e)
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(io.LimitReader(rc, 64<<10))
			}
			break
		}
	}
	report.SortInventory(inv)
	return inv
}

// databases returns the paths of every package database a layer of the
// image wrote, sorted.
func databases(ir *ImageResult) []string {
	seen := map[string]bool{}
	var out []string
	for _, lr := range ir.Layers {
		if lr == nil || lr.Detect == nil {
			continue
		}
		for p := range lr.Detect.Packages {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// dbInventory follows one database layer by layer: the copy in force after
// each layer (the tree says which layer's copy that is, or that a layer
// deleted it), and, for each package, the layer where its current run
// began. Packages the final copy lists are Present; the others were
// removed or replaced by a later layer and keep the layer of their last
// run.
func dbInventory(ir *ImageResult, db string) []report.InventoryPackage {
	type key struct{ name, version, arch string }
	var node *tree.Node
	if ir.Tree != nil {
		node = ir.Tree.Node(db)
	}
	// at returns the packages of the copy in force after layer n and the
	// layer that wrote it.
	at := func(n int) ([]pkgdb.Package, int) {
		if node == nil {
			// Without a tree, a layer's own copy stands until the next.
			for k := n; k >= 0; k-- {
				if lr := ir.Layers[k]; lr != nil && lr.Detect != nil {
					if pk, ok := lr.Detect.Packages[db]; ok {
						return pk, k
					}
				}
			}
			return nil, -1
		}
		_, from, ok := node.At(n)
		if !ok || from < 0 || from >= len(ir.Layers) || ir.Layers[from] == nil || ir.Layers[from].Detect == nil {
			return nil, -1
		}
		return ir.Layers[from].Detect.Packages[db], from
	}
	current := map[key]int{}        // listed now -> the layer its run began
	pkgs := map[key]pkgdb.Package{} // the record, as last listed
	gone := map[key]int{}           // no longer listed -> the layer its last run began
	for n := range ir.Layers {
		list, from := at(n)
		next := map[key]int{}
		for _, p := range list {
			if p.Ecosystem == pkgdb.Dpkg && p.Status != "" && !strings.HasSuffix(p.Status, " installed") {
				continue // a removed package's record ("deinstall ok config-files"): its files are gone
			}
			k := key{p.Name, p.Version, p.Arch}
			pkgs[k] = p
			if start, ok := current[k]; ok {
				next[k] = start
			} else if _, dup := next[k]; !dup {
				next[k] = from
			}
		}
		for k, start := range current {
			if _, ok := next[k]; !ok {
				gone[k] = start
			}
		}
		for k := range next {
			delete(gone, k)
		}
		current = next
	}
	out := make([]report.InventoryPackage, 0, len(current)+len(gone))
	for k, start := range current {
		out = append(out, report.InventoryPackage{Package: pkgs[k], Database: db, Layer: start, Present: true})
	}
	for k, start := range gone {
		out = append(out, report.InventoryPackage{Package: pkgs[k], Database: db, Layer: start})
	}
	return out
}
