package blob

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
)

func TestVerifier(t *testing.T) {
	content := []byte("hello, blob\n")
	good := digest.FromBytes(content)
	s512 := sha512.Sum512(content)
	good512 := digest.Digest("sha512:" + hex.EncodeToString(s512[:]))
	other := digest.FromString("something else")
	tests := []struct {
		name    string
		content []byte
		d       digest.Digest
		size    int64
		wantErr error // nil means a clean io.EOF
		wantN   int64
	}{
		{"sha256 ok", content, good, int64(len(content)), nil, 12},
		{"sha512 ok", content, good512, int64(len(content)), nil, 12},
		{"unknown size ok", content, good, -1, nil, 12},
		{"empty ok", nil, digest.FromBytes(nil), 0, nil, 0},
		{"digest mismatch", content, other, int64(len(content)), ErrDigestMismatch, 12},
		{"digest mismatch unknown size", content, other, -1, ErrDigestMismatch, 12},
		{"short", content[:5], good, int64(len(content)), ErrSizeMismatch, 5},
		{"long", append(append([]byte{}, content...), "tail"...), good, int64(len(content)), ErrSizeMismatch, 12},
		{"size zero but content", content, good, 0, ErrSizeMismatch, 0},
		{"negative size", content, good, -7, ErrSizeMismatch, 0},
		{"malformed digest", content, "sha256:xyz", 12, ErrBadDigest, 0},
		{"uppercase hex", content, digest.Digest(strings.ToUpper(string(good))), 12, ErrBadDigest, 0},
		{"unsupported algorithm", content, "md5:d41d8cd98f00b204e9800998ecf8427e", 12, ErrBadDigest, 0},
		{"empty digest", content, "", 12, ErrBadDigest, 0},
		{"traversal digest", content, "sha256:../../etc/passwd", 12, ErrBadDigest, 0},
	}
	for _, tc := range tests {
		for _, mode := range []string{"plain", "one-byte", "data-err"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tc.content)
				switch mode {
				case "one-byte":
					r = iotest.OneByteReader(r)
				case "data-err":
					r = iotest.DataErrReader(r)
				}
				v := NewVerifier(r, tc.d, tc.size)
				got, err := io.ReadAll(v)
				if tc.wantErr == nil {
					if err != nil {
						t.Fatalf("ReadAll: %v", err)
					}
					if !v.Verified() {
						t.Error("Verified() = false after a clean read")
					}
				} else {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v, want %v", err, tc.wantErr)
					}
					if v.Verified() {
						t.Error("Verified() = true after an error")
					}
					// Sticky: reading again gives the same error.
					if _, err2 := v.Read(make([]byte, 4)); err2 != err {
						t.Errorf("second read err = %v, want %v", err2, err)
					}
				}
				if int64(len(got)) != tc.wantN || v.N() != tc.wantN {
					t.Errorf("read %d bytes (N=%d), want %d", len(got), v.N(), tc.wantN)
				}
				if tc.size >= 0 && int64(len(got)) > tc.size {
					t.Errorf("returned %d bytes beyond size %d", len(got), tc.size)
				}
			})
		}
	}
}

func TestVerifierMessages(t *testing.T) {
	content := []byte("abc")
	d := digest.FromBytes(content)
	_, err := io.ReadAll(NewVerifier(bytes.NewReader(content[:2]), d, 3))
	if err == nil || !strings.Contains(err.Error(), "expected 3 bytes, got 2") {
		t.Errorf("size message = %v", err)
	}
	other := digest.FromString("x")
	_, err = io.ReadAll(NewVerifier(bytes.NewReader(content), other, 3))
	if err == nil || !strings.Contains(err.Error(), "expected "+other.String()) || !strings.Contains(err.Error(), "got "+d.String()) {
		t.Errorf("digest message = %v", err)
	}
}

// countingReader proves the verifier never reads past size+1.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += int64(len(p))
	return len(p), nil
}

func TestVerifierBoundedRead(t *testing.T) {
	c := &countingReader{}
	v := NewVerifier(c, digest.FromString("x"), 10)
	_, err := io.Copy(io.Discard, v)
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("err = %v, want size mismatch", err)
	}
	if c.n > 11 {
		t.Errorf("read %d bytes from an endless reader with size 10", c.n)
	}
}

func TestUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom))
	_, err := io.ReadAll(NewVerifier(r, digest.FromString("abc"), 3))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want wrapped boom", err)
	}
}

func TestPath(t *testing.T) {
	d := digest.FromString("x")
	tests := []struct {
		name string
		d    digest.Digest
		want string
	}{
		{"sha256", d, "blobs/sha256/" + d.Encoded()},
		{"malformed", "sha256:nothex", ""},
		{"traversal", "sha256:../../../etc/passwd", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Path(tc.d); got != tc.want {
				t.Errorf("Path(%q) = %q, want %q", tc.d, got, tc.want)
			}
			if tc.want != "" {
				if back := FromPath(tc.want); back != tc.d {
					t.Errorf("FromPath(%q) = %q, want %q", tc.want, back, tc.d)
				}
			}
		})
	}
	for _, p := range []string{"blobs/", "blobs/sha256", "blobs/sha256/zz", "x/sha256/" + d.Encoded(), "blobs/sha256/" + d.Encoded() + "/x"} {
		if got := FromPath(p); got != "" {
			t.Errorf("FromPath(%q) = %q, want empty", p, got)
		}
	}
}

func FuzzVerifier(f *testing.F) {
	f.Add([]byte("hello"), int64(5), uint8(0))
	f.Add([]byte(""), int64(0), uint8(1))
	f.Add([]byte("hello"), int64(-1), uint8(2))
	f.Add([]byte("hello world"), int64(3), uint8(0))
	f.Fuzz(func(t *testing.T, content []byte, size int64, flip uint8) {
		d := digest.FromBytes(content)
		want := content
		if flip%3 == 1 && len(content) > 0 {
			// Corrupt the content the digest was taken of.
			c := append([]byte{}, content...)
			c[int(flip)%len(c)] ^= 0xff
			content = c
		}
		v := NewVerifier(bytes.NewReader(content), d, size)
		got, err := io.ReadAll(v)
		if size >= 0 && int64(len(got)) > size {
			t.Fatalf("returned %d bytes beyond size %d", len(got), size)
		}
		sizeOK := size == -1 || size == int64(len(content))
		switch {
		case size < -1:
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("negative size: err = %v", err)
			}
		case !sizeOK:
			if !errors.Is(err, ErrSizeMismatch) {
				t.Fatalf("size %d for %d bytes: err = %v", size, len(content), err)
			}
		case !bytes.Equal(content, want):
			if !errors.Is(err, ErrDigestMismatch) {
				t.Fatalf("corrupted content: err = %v", err)
			}
		default:
			if err != nil || !bytes.Equal(got, content) {
				t.Fatalf("clean read: err = %v, equal = %v", err, bytes.Equal(got, content))
			}
		}
	})
}

// FuzzValidate holds Validate's own check of sha256 digests to go-digest's:
// the same answer for every string.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"sha256:" + strings.Repeat("a", 64),
		"sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("0", 63),
		"sha256:" + strings.Repeat("f", 65),
		"sha256:" + strings.Repeat("g", 64),
		"sha512:" + strings.Repeat("1", 128),
		"sha256:",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := Validate(digest.Digest(s)) == nil, digest.Digest(s).Validate() == nil
		if got != want {
			t.Fatalf("Validate(%q) valid = %v, go-digest says %v", s, got, want)
		}
	})
}
