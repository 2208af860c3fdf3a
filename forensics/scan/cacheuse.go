package scan

import (
	"cmp"
	"slices"

	"github.com/strata-forensics/strata/forensics/layercache"
	"github.com/strata-forensics/strata/forensics/report"
)

// CacheUse is what a result records of the cache folder its layers were
// looked up in, for the chain of custody: the folder, the id of the key
// its entries are authenticated with, and the entries the lookups did not
// take (their layers' results were computed again).
type CacheUse struct {
	Folder   string
	KeyID    string
	Rejected []layercache.Rejection // sorted by entry, then reason
}

// use is what the run's lookups record of the cache folder; nil when the
// memo has none.
func (s *share) use() *CacheUse {
	if s.m == nil || s.m.cache.Dir() == "" {
		return nil
	}
	s.mu.Lock()
	rejected := slices.Clone(s.rejected)
	s.mu.Unlock()
	// Lookups run concurrently: the order they met rejections in is
	// no order at all.
	slices.SortFunc(rejected, func(a, b layercache.Rejection) int {
		return cmp.Or(cmp.Compare(a.Entry, b.Entry), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Detail, b.Detail))
	})
	return &CacheUse{Folder: s.m.cache.Dir(), KeyID: s.m.cache.KeyID(), Rejected: rejected}
}

// cacheSource adds to src, built by ReportSource, what the result records
// of the cache folder: the folder, its key id and rejected entries, and for
// each layer read whether its results were computed or taken from an
// entry, and that entry's making.
func (r *Result) cacheSource(src *report.Source) {
	if r.Cache == nil {
		return
	}
	sc := &report.SourceCache{Folder: r.Cache.Folder, KeyID: r.Cache.KeyID}
	for _, rej := range r.Cache.Rejected {
		sc.Rejected = append(sc.Rejected, report.CacheRejection{Kind: rej.Kind, Digest: rej.Digest.String(),
			Entry: rej.Entry, Reason: string(rej.Reason), Detail: rej.Detail})
	}
	src.Cache = sc
	i := 0
	for _, ir := range r.Images {
		if ir == nil || ir.Image == nil {
			continue
		}
		if i >= len(src.Images) {
			return
		}
		layers := src.Images[i].Layers
		i++
		for j, lr := range ir.Layers {
			if lr == nil || lr.Summary == nil || j >= len(layers) {
				continue // absent, or not read: no results at all
			}
			lc := &report.LayerCache{Results: report.Computed}
			if o := lr.Cache; o != nil {
				lc = &report.LayerCache{Results: report.FromCache, KeyID: o.KeyID, Created: o.Created.UTC(), ToolVersion: o.ToolVersion}
			}
			lc.Verification = report.VerifiedRead
			if v := lr.Verified; v != nil {
				lc.Verification = report.VerifiedRecord
				lc.Record = &report.VerificationRecord{By: v.By, File: report.FileIdentity(v.File)}
				if o := v.Origin; o != nil {
					lc.Record.At, lc.Record.KeyID, lc.Record.ToolVersion = o.Created.UTC(), o.KeyID, o.ToolVersion
				}
			}
			layers[j].Cache = lc
		}
	}
}

// KeyID names the key the memo's cache folder is authenticated with; ""
// without a folder.
func (m *Memo) KeyID() string {
	if m == nil {
		return ""
	}
	return m.cache.KeyID()
}
