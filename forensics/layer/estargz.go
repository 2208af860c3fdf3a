package layer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-forensics/strata/forensics/compress"
)

// Layer encodings that Summary.Format names. They are recognised from the
// blob's own bytes (a footer at its end), never from a media type or an
// annotation, which a producer may leave out and an attacker may forge.
const (
	// FormatEStargz is an eStargz layer (stargz-snapshotter estargz/types.go,
	// build.go, gzip.go): a gzip tar whose tar also holds a 1-byte landmark
	// (.prefetch.landmark or .no.prefetch.landmark), the JSON TOC
	// stargz.index.json as its last entry, and a 51-byte empty gzip member
	// whose Extra field is "SG", 22, "%016xSTARGZ" (the TOC's offset in the
	// blob) at the very end (the legacy stargz footer: 47 bytes, Extra
	// "%016xSTARGZ" alone).
	FormatEStargz = "estargz"
	// FormatZstdChunked is a zstd:chunked layer (containers/storage
	// pkg/chunked/internal/minimal/compression.go): a zstd tar followed by
	// skippable frames (the TOC, the tar-split data) and a last skippable
	// frame, the footer (see zstdChunkedFooter). The frames decode to
	// nothing: the layer's tar holds no extra entries.
	FormatZstdChunked = "zstd:chunked"
)

// The eStargz metadata entries, at the root of the layer.
const (
	estargzTOCName        = "/stargz.index.json"
	estargzPrefetch       = "/.prefetch.landmark"
	estargzNoPrefetch     = "/.no.prefetch.landmark"
	estargzLandmarkByte   = 0x0f // estargz types.go landmarkContents
	estargzFooterSize     = 51
	estargzLegacyFooter   = 47
	zstdChunkedFooterSize = 8 + 64 // skippable frame header and the footer data
	tailSize              = zstdChunkedFooterSize
)

// MaxTOCBytes bounds the eStargz TOC a walk holds back while it cannot yet
// know whether the layer is eStargz (see held). A TOC names every file and
// chunk of its layer in a few hundred bytes of JSON each: 64 MiB covers
// layers of some two hundred thousand files. A larger stargz.index.json is
// walked as an ordinary file and stays in the tree.
const MaxTOCBytes = 64 << 20

// An eStargz layer's metadata entries are part of its bytes, hashed into its
// diff_id, yet no file of the image: stargz-snapshotter hides them, and
// shown in the tree they would look planted. They are left out only when the
// footer at the very end of the blob proves the format, so that a file named
// stargz.index.json in an ordinary layer stays visible. The walk is one pass
// over a stream (Walk gets an io.Reader: the blob may sit in a compressed
// outer archive, with no offset to read the footer at first), so the footer
// is known only after the last entry. Until then the candidates are held
// back, instead of being recorded and fed to the sinks:
//
//   - a landmark only when it is exactly the builder's one byte 0x0f (a
//     landmark with anything else in it is an ordinary file at once: it could
//     hide something);
//   - stargz.index.json only up to MaxTOCBytes, and only while it is the
//     last entry: the next header releases it, in its place, as an ordinary
//     file, since the builder writes the TOC last.
//
// Memory stays bounded: one TOC and one byte a landmark. At the end, with the
// footer read, the held entries either go to Summary.FormatEntries, or are
// released: put back into Entries where they stood, their bytes replayed to
// the sinks (later than their neighbours' but before Walk returns) and the
// Entry callback called. Every error path releases them too: what is not
// proven eStargz is an ordinary file.
//
// Proof is all of: a gzip blob read to its end without error; its last 51
// (legacy: 47) bytes an empty gzip member with the STARGZ Extra field and a
// TOC offset inside the blob (estargzFooter); a held stargz.index.json as
// the last entry, spelled plainly, whose content is a JSON TOC (validTOC).
// Reading the footer first through an io.ReaderAt was the other design; it
// would serve only blobs read in place, and the footer alone proves nothing
// about the entries, which still have to be checked as they stream past.
type held struct {
	e    *Entry
	idx  int    // len(Summary.Entries) when it was held: where it goes back
	body []byte // the content, for the sinks if it is released
}

// holdable says whether an entry may be eStargz metadata, before its
// content is read.
func holdable(e *Entry) bool {
	if e.Type != File || e.Name != "" { // an unusual spelling is no builder's
		return false
	}
	switch e.Path {
	case estargzTOCName:
		return e.Size <= MaxTOCBytes
	case estargzPrefetch, estargzNoPrefetch:
		return e.Size == 1
	}
	return false
}

// hold reads a candidate's content into memory, hashing it but feeding no
// sink. It reports whether the entry is held; one that its content rules
// out (a landmark other than 0x0f) has had its sinks already, and is to be
// recorded as usual.
func (w *walker) hold(r io.Reader, e *Entry) (bool, error) {
	// ReadAll grows its buffer as bytes arrive, so a header's claim alone
	// allocates nothing; the claim is at most MaxTOCBytes (holdable).
	body, err := io.ReadAll(io.LimitReader(r, e.Size))
	if err == nil && int64(len(body)) < e.Size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		// Hand what was read to the sinks with the error, as content does.
		w.replay(e, body, err)
		return false, err
	}
	w.fileHash.Reset()
	w.fileHash.Write(body)
	e.SHA256 = hexDigest(w.fileHash.Sum(w.digest[:0]))
	if e.Path != estargzTOCName && (len(body) != 1 || body[0] != estargzLandmarkByte) {
		w.replay(e, body, nil)
		return false, nil
	}
	w.held = append(w.held, held{e: e, idx: len(w.sum.Entries), body: body})
	return true, nil
}

// replay feeds a held entry's content to the sinks, in chunks no larger
// than content's.
func (w *walker) replay(e *Entry, body []byte, err error) {
	if w.opts.Sinks == nil {
		return
	}
	sinks := w.opts.Sinks(e)
	for len(body) > 0 {
		n := min(len(body), len(w.buf))
		for _, s := range sinks {
			s.Write(body[:n])
		}
		body = body[n:]
	}
	for _, s := range sinks {
		s.Done(e, err)
	}
}

// releaseTOC releases a held TOC that is not the last entry after all.
func (w *walker) releaseTOC() {
	if n := len(w.held); n > 0 && w.held[n-1].e.Path == estargzTOCName {
		h := w.held[n-1]
		w.held = w.held[:n-1]
		w.replay(h.e, h.body, nil)
		w.record(h.e)
	}
}

// release puts every held entry back where it stood, as an ordinary file.
func (w *walker) release() {
	if len(w.held) == 0 {
		return
	}
	hs := w.held
	w.held = nil
	old := w.sum.Entries
	es := make([]*Entry, 0, len(old)+len(hs))
	i := 0
	for _, h := range hs {
		es = append(es, old[i:h.idx]...)
		i = h.idx
		es = append(es, h.e)
		w.replay(h.e, h.body, nil)
		if w.opts.Entry != nil {
			w.opts.Entry(h.e)
		}
	}
	w.sum.Entries = append(es, old[i:]...)
}

// settle decides, once the blob was read to its end without error, what the
// layer's encoding is and what becomes of the held entries. tail is the
// blob's last bytes, size its length.
func (w *walker) settle(format compress.Format, tail []byte, size int64) {
	switch format {
	case compress.Gzip:
		n := len(w.held)
		if n > 0 && w.held[n-1].e.Path == estargzTOCName && estargzFooter(tail, size) && validTOC(w.held[n-1].body) {
			w.sum.Format = FormatEStargz
			for _, h := range w.held {
				w.sum.FormatEntries = append(w.sum.FormatEntries, h.e)
			}
			w.held = nil
			return
		}
	case compress.Zstd:
		if zstdChunkedFooter(tail, size) {
			w.sum.Format = FormatZstdChunked
		}
	}
	w.release()
}

// estargzFooter reports whether the blob ends in an eStargz footer, parsed
// as estargz gzip.go's GzipDecompressor.ParseFooter (and, for the legacy
// form, LegacyGzipDecompressor.ParseFooter) does: an empty gzip member whose
// Extra field carries "%016xSTARGZ", the offset of the TOC's gzip member,
// which must lie inside the blob, before the footer.
func estargzFooter(tail []byte, size int64) bool {
	for _, fs := range []int{estargzFooterSize, estargzLegacyFooter} {
		if len(tail) < fs {
			continue
		}
		p := tail[len(tail)-fs:]
		zr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			continue
		}
		zr.Multistream(false)
		n, err := io.Copy(io.Discard, zr)
		if err != nil || n != 0 {
			continue
		}
		extra := zr.Extra
		var sub []byte
		if fs == estargzFooterSize {
			if len(extra) != 4+22 || extra[0] != 'S' || extra[1] != 'G' || binary.LittleEndian.Uint16(extra[2:4]) != 22 {
				continue
			}
			sub = extra[4:]
		} else {
			if len(extra) != 22 {
				continue
			}
			sub = extra
		}
		if string(sub[16:]) != "STARGZ" {
			continue
		}
		off, err := strconv.ParseInt(string(sub[:16]), 16, 64)
		if err != nil || off < 0 || off >= size-int64(fs) {
			continue
		}
		return true
	}
	return false
}

// validTOC reports whether a held stargz.index.json is a TOC: a JSON object
// with a version and a list of entries (estargz types.go JTOC).
func validTOC(b []byte) bool {
	var toc struct {
		Version int        `json:"version"`
		Entries []struct{} `json:"entries"`
	}
	return json.Unmarshal(b, &toc) == nil && toc.Version >= 1 && toc.Entries != nil
}

// zstdChunkedFooter reports whether the blob ends in a zstd:chunked footer,
// as containers/storage has written it over time (pkg/chunked/internal
// compression.go, later minimal/compression.go): a last skippable frame
// (magic 50 2A 4D 18) of 40 or 48 bytes ending in "GnUlInUx" (buildah 1.28
// and its time), or of 64 bytes ending in "GNUlInUx" (with the tar-split
// offsets), whose TOC (and tar-split) offsets lie inside the blob
// (footerDataToBlob).
func zstdChunkedFooter(tail []byte, size int64) bool {
	for _, f := range []struct {
		data  int
		magic string
	}{{64, "GNUlInUx"}, {48, "GnUlInUx"}, {40, "GnUlInUx"}} {
		n := 8 + f.data
		if len(tail) < n {
			continue
		}
		p := tail[len(tail)-n:]
		if !bytes.Equal(p[:4], []byte{0x50, 0x2a, 0x4d, 0x18}) || binary.LittleEndian.Uint32(p[4:8]) != uint32(f.data) {
			continue
		}
		d := p[8:]
		if string(d[f.data-8:]) != f.magic {
			continue
		}
		end := uint64(size - int64(n))
		manifest, mlen := binary.LittleEndian.Uint64(d[0:]), binary.LittleEndian.Uint64(d[8:])
		if manifest > end || mlen > end-manifest {
			continue
		}
		if f.data == 64 {
			tarSplit, tlen := binary.LittleEndian.Uint64(d[32:]), binary.LittleEndian.Uint64(d[40:])
			if tarSplit > end || tlen > end-tarSplit {
				continue
			}
		}
		return true
	}
	return false
}

// tailReader keeps the last bytes read through it: the footer, once the
// blob was read to its end.
type tailReader struct {
	r    io.Reader
	tail [tailSize]byte
	n    int // bytes of tail in use, at its end
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= tailSize {
		copy(t.tail[:], p[n-tailSize:n])
		t.n = tailSize
	} else if n > 0 {
		copy(t.tail[:], t.tail[n:])
		copy(t.tail[tailSize-n:], p[:n])
		t.n = min(tailSize, t.n+n)
	}
	return n, err
}

func (t *tailReader) bytes() []byte { return t.tail[tailSize-t.n:] }
