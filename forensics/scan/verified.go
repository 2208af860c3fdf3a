package scan

import (
	"github.com/strata-forensics/strata/forensics/blob"
	"io"

	"github.com/strata-forensics/strata/forensics/archive"
	"github.com/strata-forensics/strata/forensics/layercache"
)

// A blob that is a file of the evidence (a registry's blob data, a file of
// an image layout folder) is read and hashed once: a scan with a cache
// folder that read it in full and found it hash to its digest records so
// (layercache.Verification), with the file's identity (inode, size,
// mtime, ctime) when it was read; a later scan, the one assembling what
// shards verified above all, takes the blob as verified without reading
// it when the record authenticates, the layer's results are in the cache,
// and the file still has that identity. A file written since has another
// ctime, which no one can set back; one replaced has another inode.

// verifier names who verifies blobs in this run, for its records.
func (r *run) verifier() string {
	if r.opts.Shard != nil {
		return "shard " + r.opts.Shard.String()
	}
	return "scan"
}

// trusted returns ref's result taken from the cache without reading the
// blob, when a verification record vouches for the blob's file as it is
// now (see above); nil otherwise, and the blob is read as any other. A
// record that cannot be taken is noted as any rejected entry.
func (r *run) trusted(a *archive.Archive, ref blobRef) *LayerResult {
	s := r.share
	if s.m == nil || s.m.cache.Dir() == "" || ref.digest == "" || blob.Validate(ref.digest) != nil {
		return nil
	}
	now, ok := a.Identity(ref.name)
	if !ok || (ref.size >= 0 && now.Size != ref.size) {
		return nil
	}
	prev := s.get(ref.digest)
	if prev == nil {
		return nil
	}
	v, ok, rej := s.m.cache.GetVerified(ref.digest)
	s.note(rej)
	if !ok || v.File != now {
		return nil
	}
	lr := s.hit(ref, prev, ref.digest)
	lr.Verified = &v
	return lr
}

// fullRead tells whether the reader it wraps was read to its end, and
// how many bytes it gave: only a blob read in full was hashed whole.
type fullRead struct {
	r   io.Reader
	n   int64
	eof bool
}

func (f *fullRead) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.n += int64(n)
	if err == io.EOF {
		f.eof = true
	}
	return n, err
}

// WriteTo keeps the wrapped reader's own (its buffer's), which io.Copy
// takes instead of a copy through a buffer of its own.
func (f *fullRead) WriteTo(w io.Writer) (int64, error) {
	wt, ok := f.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{f})
	}
	n, err := wt.WriteTo(w)
	f.n += n
	if err == nil {
		f.eof = true
	}
	return n, err
}

// recordVerified records that the blob ref, read from rd (wrapped as fr),
// verified against its digest, when it did: read in full, its result
// complete and with no problem, and its file the same before the read
// (was), after it (the open file's fstat) and as its name finds it now
// (lstat). A file changed while it was read gets no record.
func (r *run) recordVerified(a *archive.Archive, ref blobRef, rd io.Reader, fr *fullRead, was archive.FileID, lr *LayerResult) {
	s := r.share
	if s.m == nil || s.m.cache.Dir() == "" || ref.digest == "" || lr == nil || lr.Verified != nil ||
		!fr.eof || fr.n != was.Size || len(lr.Problems) > 0 || !verified(lr, ref) {
		return
	}
	after, ok := archive.OpenedIdentity(rd)
	if !ok || after != was {
		return
	}
	if now, ok := a.Identity(ref.name); !ok || now != was {
		return
	}
	// A record that cannot be written costs a read next time, no more.
	_ = s.m.cache.PutVerified(layercache.Verification{Digest: ref.digest, File: was, By: r.verifier()})
}
