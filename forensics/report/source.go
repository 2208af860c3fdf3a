package report

import (
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
	"github.com/strata-forensics/strata/forensics/layer"
	"github.com/strata-forensics/strata/forensics/rules"
)

// Source is what a report needs of one scanned input: plain data, with no
// way back into the scan. *scan.Result describes itself as one
// (ReportSource); tests build them by hand.
type Source struct {
	Input    archive.Info
	Images   []SourceImage
	Problems []integrity.Problem // every integrity problem of the input
	Findings []finding.Finding
	Ruleset  *rules.Info // the rules the findings were judged by; nil when no detection ran
	Started  time.Time
	Finished time.Time
	// Cache is the cache folder the layers were looked up in; nil when
	// none was used.
	Cache *SourceCache
}

// SourceImage is one image of a Source.
type SourceImage struct {
	Image *image.Image
	// Layers are the layers as read, by position.
	Layers []SourceLayer
	// Content reads the bytes of the image's files for the evidence
	// folder; nil when they cannot be read, and then none are copied.
	Content Opener
	// Inventory lists the packages of the image's databases and its
	// liblzma files, for OpenVEX and CycloneDX (inventory.go); nil when
	// no detection ran.
	Inventory *Inventory
}

// SourceLayer is one layer of an image as read.
type SourceLayer struct {
	Blob string // the archive member read, "" when absent
	// Digest is the layer's digest as read: a legacy docker save's layer
	// has none before; "" leaves the image's own.
	Digest           digest.Digest
	UncompressedSize int64          // bytes of the layer's tar, once read
	EntryCount       int            // how many entries the layer's tar holds, once read
	Entries          []*layer.Entry // the layer's own entries, in tar order; nil when not read
	// Cache says where the layer's results came from, when a cache
	// folder was used; nil otherwise.
	Cache *LayerCache
}

// Opener reads a file's bytes back from the layer blob holding them;
// scan.Content is one.
type Opener interface {
	Open(layerIdx int, e *layer.Entry) (io.ReadCloser, error)
}

// A Sourcer describes itself as a Source; *scan.Result is one.
type Sourcer interface {
	ReportSource() Source
}

// ReportSource returns s itself, so that a Source is a Sourcer too.
func (s Source) ReportSource() Source { return s }

// LayerDigest is layer i's digest: as read, else as the image declares it.
func (si SourceImage) LayerDigest(i int) digest.Digest {
	if i >= 0 && i < len(si.Layers) && si.Layers[i].Digest != "" {
		return si.Layers[i].Digest
	}
	if si.Image != nil && i >= 0 && i < len(si.Image.Layers) && si.Image.Layers[i] != nil {
		return si.Image.Layers[i].Digest
	}
	return ""
}
