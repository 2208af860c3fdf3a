// Package blob reads content-addressed blobs and proves they are what their
// descriptor says: a Verifier hashes while it reads and, at the end, reports
// a digest or size mismatch in place of io.EOF, so no caller can consume a
// blob to its end without the check having run.
package blob

import (
	// Register the hashes go-digest looks up for sha256, sha384 and sha512.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
)

var (
	// ErrDigestMismatch: the content does not hash to its digest.
	ErrDigestMismatch = errors.New("blob: digest mismatch")
	// ErrSizeMismatch: the content is shorter or longer than its size.
	ErrSizeMismatch = errors.New("blob: size mismatch")
	// ErrBadDigest: the digest is malformed or its algorithm unsupported.
	ErrBadDigest = errors.New("blob: bad digest")
)

// Validate checks that d is well formed and uses a supported algorithm.
// A sha256 digest, nearly every digest an image holds, is checked here
// as go-digest's expression for it would check it (64 lower-case hex
// digits; FuzzValidate holds the two to the same answers): matching the
// expression was 8% of the CPU of a sharded scan's process that finds no
// layer of its own, which validates every folder and link of a registry.
func Validate(d digest.Digest) error {
	if isSHA256(string(d)) {
		return nil
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadDigest, truncate(string(d)), err)
	}
	return nil
}

// isSHA256 reports whether s is "sha256:" and 64 lower-case hex digits.
func isSHA256(s string) bool {
	const prefix = "sha256:"
	if len(s) != len(prefix)+64 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Path returns the member name of d in an OCI image layout,
// "blobs/<alg>/<hex>", or "" when d is not a valid digest: a digest read
// from an archive is untrusted and must never become a path such as
// "blobs/sha256/../../etc".
func Path(d digest.Digest) string {
	if Validate(d) != nil {
		return ""
	}
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// FromPath returns the digest an OCI layout member name claims
// ("blobs/sha256/<hex>" -> "sha256:<hex>"), or "" when the name is not a
// valid blob path.
func FromPath(name string) digest.Digest {
	const prefix = "blobs/"
	if len(name) <= len(prefix) || name[:len(prefix)] != prefix {
		return ""
	}
	rest := name[len(prefix):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			d := digest.Digest(rest[:i] + ":" + rest[i+1:])
			if Validate(d) != nil {
				return ""
			}
			return d
		}
	}
	return ""
}

// Verifier is an io.Reader over a blob that checks its digest and size.
// It never reads more than size+1 bytes from the underlying reader (the
// extra byte proves a blob longer than announced) and never returns bytes
// beyond size. At the end of the content it returns io.EOF only when both
// digest and size match; otherwise an error wrapping ErrDigestMismatch or
// ErrSizeMismatch. Errors are sticky.
type Verifier struct {
	r    io.Reader
	d    digest.Digest
	size int64 // -1 when unknown
	h    hash.Hash
	n    int64
	err  error
}

// NewVerifier returns a Verifier of r against d and size (-1 when the size
// is unknown). A malformed or unsupported d makes the first Read fail with
// an error wrapping ErrBadDigest, without reading r.
func NewVerifier(r io.Reader, d digest.Digest, size int64) *Verifier {
	v := &Verifier{r: r, d: d, size: size}
	if err := Validate(d); err != nil {
		v.err = err
		return v
	}
	if size < -1 {
		v.err = fmt.Errorf("%w: %s: negative size %d", ErrSizeMismatch, d, size)
		return v
	}
	if size >= 0 {
		v.r = io.LimitReader(r, size+1)
	}
	v.h = d.Algorithm().Hash()
	return v
}

// Read implements io.Reader.
func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	if v.size >= 0 && v.n+int64(n) > v.size {
		// Past the announced size: hand out only the announced bytes.
		n = int(v.size - v.n)
		v.h.Write(p[:n])
		v.n += int64(n)
		v.err = fmt.Errorf("%w: %s: more than the expected %d bytes", ErrSizeMismatch, v.d, v.size)
		return n, v.err
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		v.err = v.check()
		return n, v.err
	case err != nil:
		v.err = fmt.Errorf("reading %s at byte %d: %w", v.d, v.n, err)
		return n, v.err
	}
	return n, nil
}

func (v *Verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("%w: %s: expected %d bytes, got %d", ErrSizeMismatch, v.d, v.size, v.n)
	}
	got := digest.NewDigest(v.d.Algorithm(), v.h)
	if got != v.d {
		return fmt.Errorf("%w: expected %s, got %s", ErrDigestMismatch, v.d, got)
	}
	return io.EOF
}

// N is the number of content bytes returned so far.
func (v *Verifier) N() int64 { return v.n }

// Verified reports whether the whole blob was read and matched.
func (v *Verifier) Verified() bool { return v.err == io.EOF }

// truncate keeps hostile digest strings short in messages.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
