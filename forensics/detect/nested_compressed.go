package detect

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/strata-forensics/strata/forensics/compress"
	"github.com/strata-forensics/strata/forensics/internal/iox"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decoder opens f over r within the layer's memory bound and the ratio
// bound. A nil reader with a nil error means the memory bound refused it,
// which is recorded. release frees the decoder's memory and must be
// called once the stream is done with.
func (ns *nestedScan) decoder(where string, f compress.Format, r io.Reader) (rd io.Reader, rs *ratioStop, release func(), err error) {
	// The compressed bytes are counted under the buffer, which the
	// decoders then read as an io.ByteReader, adding no buffer of their
	// own.
	cr := &countingReader{r: r}
	br, _ := bufPool.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(nil, 2048)
	}
	br.Reset(cr)
	free := func() { br.Reset(nil); bufPool.Put(br) }
	head, _ := br.Peek(12 + 1024) // the xz stream and first block headers
	mem, ok := compress.DecoderMemory(f, head)
	if !ok {
		free()
		return nil, nil, nil, fmt.Errorf("%w: %s: no window or dictionary size readable in its header", ErrFormat, f)
	}
	if !ns.reserve(mem) {
		free()
		ns.limit(limitMemory, where, fmt.Sprintf("a %s decoder needing %d bytes, with %d of the %d-byte nested memory bound left", f, mem, ns.lim.memory-ns.ln.held, ns.lim.memory))
		return nil, nil, nil, nil
	}
	dec, err := compress.OpenLimited(br, f, mem)
	if err != nil {
		free()
		ns.release(mem)
		return nil, nil, nil, err
	}
	rs = &ratioStop{max: ns.lim.ratio}
	compressed := func() int64 { return cr.n - int64(br.Buffered()) }
	rr := iox.NewRatioReader(dec, compressed, ns.lim.ratio, func(n, c int64) error {
		rs.n, rs.compressed = n, c
		return rs
	})
	return rr, rs, func() { dec.Close(); free(); ns.release(mem) }, nil
}

// bufPool keeps the buffers decoders read through: one is taken for every
// compressed file or member opened.
var bufPool sync.Pool

// ratioOf reports whether err is rs, the stop of a stream this level
// opened, and records it.
func (ns *nestedScan) ratioOf(err error, rs *ratioStop, where string) bool {
	var got *ratioStop
	if rs == nil || !errors.As(err, &got) || got != rs {
		return false
	}
	ns.limit(limitRatio, where, "decompression "+rs.Error())
	return true
}

// decompress reads a compressed stream: as one archive when its content is
// one (x.tar.gz), else as a file holding one member (x.so.gz).
func (ns *nestedScan) decompress(where, base string, f compress.Format, r io.Reader, depth int) error {
	dec, rs, release, err := ns.decoder(where, f, r)
	if err != nil || dec == nil {
		return err
	}
	defer release()
	head := ns.streamHead(depth)
	n, err := io.ReadFull(dec, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		if ns.ratioOf(err, rs, where) {
			return nil
		}
		return fmt.Errorf("%s: %w", f, err)
	}
	head = head[:n]
	inner := io.MultiReader(bytes.NewReader(head), dec)
	if kind := sniffArchive(head); kind != "" {
		err = ns.compressedArchive(where, f, kind, inner, depth)
	} else {
		err = ns.member(where, decompressedName(base), inner, -1, depth)
	}
	if ns.ratioOf(err, rs, where) {
		return nil
	}
	return err
}

// compressedArchive walks an archive compressed as a whole, and hashes its
// decompressed stream too: digests are published of a release's inner
// .tar as well as of the compressed file.
func (ns *nestedScan) compressedArchive(where string, f compress.Format, kind string, r io.Reader, depth int) error {
	sh := sha256.New()
	src := io.TeeReader(r, sh)
	if err := ns.open(where, "", kind, src, -1, depth); err != nil {
		return err
	}
	// The rest of the stream (end blocks, padding) belongs to the hash;
	// it is charged like a member's bytes, for it may be long.
	t := &memberTee{ns: ns, where: where, r: src, h: nopHash{}, c: &check{decided: true}}
	if _, err := io.Copy(io.Discard, t); err != nil {
		return fmt.Errorf("%s stream: %w", f, err)
	}
	sum := hex.EncodeToString(sh.Sum(nil))
	for _, x := range ns.e.digestHits(sum) {
		ns.hits = append(ns.hits, memberHit{member: where, sha256: sum, h: x, stream: true, format: f})
	}
	return nil
}

// nopHash is a hash.Hash that hashes nothing, for bytes charged but not
// hashed on their own.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

func orNone(f compress.Format) string {
	if f == compress.None {
		return "uncompressed"
	}
	return string(f)
}
