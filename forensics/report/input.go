package report

import (
	"time"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/finding"
	"github.com/strata-forensics/strata/forensics/image"
	"github.com/strata-forensics/strata/forensics/integrity"
)

// InputInfo is the input file itself, for the chain of custody.
type InputInfo struct {
	Path        string `json:"path"`
	Format      string `json:"format"`
	Compression string `json:"compression,omitempty"` // outer compression, absent when none
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
}

// Image is one image as inspect and the report describe it.
type Image struct {
	Ref            string   `json:"ref"` // how findings name the image
	Names          []string `json:"names"`
	Platform       string   `json:"platform"`
	ManifestDigest string   `json:"manifest_digest"`
	IndexDigests   []string `json:"index_digests,omitempty"`
	ConfigDigest   string   `json:"config_digest"`
	Created        string   `json:"created,omitempty"` // RFC 3339, UTC
	Entrypoint     []string `json:"entrypoint"`
	Cmd            []string `json:"cmd"`
	Layers         []Layer  `json:"layers"`
	// Attachments are the image's attestations, signatures and other
	// artifacts, carried or named only.
	Attachments []Attachment `json:"attachments"`
	// Container is set for a container of an engine's storage, as its
	// engine's records describe it (trusted only).
	Container *image.Container `json:"container,omitempty"`
}

// Layer is one layer of an image, numbered from 0 at the bottom.
type Layer struct {
	Index            int    `json:"index"`
	Digest           string `json:"digest"`
	DiffID           string `json:"diff_id"`
	MediaType        string `json:"media_type"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressed_size"`
	Entries          int    `json:"entries"`
	CreatedBy        string `json:"created_by"`
	Absent           bool   `json:"absent,omitempty"`
	Foreign          bool   `json:"foreign,omitempty"`
	Opaque           bool   `json:"opaque,omitempty"` // verified, no filesystem: not unpacked
	// Writable marks a container's writable layer ("rw"), which no
	// digest records.
	Writable bool `json:"writable,omitempty"`
	// Cache, for a scan that used a cache folder, says whether the
	// layer's results were computed or taken from the cache.
	Cache *LayerCache `json:"cache,omitempty"`
}

// Input is everything one scanned input revealed.
type Input struct {
	Input     InputInfo         `json:"input"`
	Images    []Image           `json:"images"`
	Integrity integrity.Report  `json:"integrity"`
	Coverage  Coverage          `json:"coverage"`
	Findings  []finding.Finding `json:"findings"`
	Verdict   Verdict           `json:"verdict"`
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished"`

	// layerBlobs are, by image, the blobs its layers were read from.
	layerBlobs [][]string
	// cache is what the source says of the cache folder, for the custody.
	cache *SourceCache
	// inventories are, by image, what OpenVEX and CycloneDX describe.
	inventories []*Inventory
	// idx is what judging its images one by one needs of the whole
	// input (index).
	idx *imageIndex
}

func newInput(src Source) Input {
	in := Input{
		Input:     inputInfo(src.Input),
		Images:    []Image{},
		Integrity: integrity.Verdict(src.Problems),
		Findings:  append([]finding.Finding{}, src.Findings...),
		Started:   src.Started.UTC(),
		Finished:  src.Finished.UTC(),
		cache:     src.Cache,
	}
	finding.Sort(in.Findings)
	for _, si := range src.Images {
		if si.Image == nil {
			continue
		}
		in.Images = append(in.Images, imageOf(si))
		setLayerCache(&in.Images[len(in.Images)-1], si.Layers)
		var blobs []string
		for _, l := range si.Layers {
			if l.Blob != "" {
				blobs = append(blobs, l.Blob)
			}
		}
		in.layerBlobs = append(in.layerBlobs, blobs)
		in.inventories = append(in.inventories, si.Inventory)
	}
	in.Verdict = NewVerdict(in.Findings, in.Integrity.Problems)
	in.Coverage = newCoverage(in.Images, in.Integrity)
	return in
}

func inputInfo(i archive.Info) InputInfo {
	return InputInfo{Path: i.Path, Format: string(i.Format), Compression: string(i.Compression), SHA256: i.SHA256, Size: i.Size}
}

func imageOf(si SourceImage) Image {
	img := si.Image
	out := Image{
		Ref:            img.Ref(),
		Names:          nonNil(img.Names),
		Platform:       img.Platform,
		ManifestDigest: img.ManifestDigest.String(),
		ConfigDigest:   img.ConfigDigest.String(),
		Entrypoint:     nonNil(img.Entrypoint),
		Cmd:            nonNil(img.Cmd),
		Layers:         []Layer{},
		Attachments:    attachmentsOf(img),
		Container:      img.Container,
	}
	for _, d := range img.IndexDigests {
		out.IndexDigests = append(out.IndexDigests, d.String())
	}
	if img.Created != nil {
		out.Created = img.Created.UTC().Format(time.RFC3339)
	}
	for i, l := range img.Layers {
		if l == nil {
			continue
		}
		var read SourceLayer
		if i < len(si.Layers) {
			read = si.Layers[i]
		}
		// Findings name layers by position, so the position is the index.
		out.Layers = append(out.Layers, Layer{
			Index: i, Digest: si.LayerDigest(i).String(), DiffID: l.DiffID.String(), MediaType: l.MediaType,
			Size: l.Size, UncompressedSize: read.UncompressedSize, Entries: read.EntryCount, CreatedBy: l.CreatedBy,
			Absent: l.Absent, Foreign: l.Foreign, Opaque: l.Opaque, Writable: l.Writable,
		})
	}
	return out
}
