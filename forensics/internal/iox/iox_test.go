package iox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader{Ctx: ctx, R: strings.NewReader("abcdef")}
	b := make([]byte, 3)
	if n, err := r.Read(b); n != 3 || err != nil {
		t.Fatalf("before cancel: %d, %v", n, err)
	}
	cancel()
	if n, err := r.Read(b); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %d, %v", n, err)
	}
}

func TestErrReader(t *testing.T) {
	want := errors.New("gone")
	if _, err := io.ReadAll(ErrReader{Err: want}); err != want {
		t.Fatalf("got %v, want %v", err, want)
	}
}

// countingReader counts the compressed bytes read.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestRatioReader(t *testing.T) {
	errRatio := errors.New("ratio")
	fail := func(n, c int64) error { return fmt.Errorf("%w: %d from %d", errRatio, n, c) }
	cases := []struct {
		name       string
		out, in    int64 // decompressed bytes, compressed bytes read first
		max        float64
		wantErr    bool
		wantAtMost int64 // bytes given before the error
	}{
		{"small stream expands at will", RatioGrace, 1, 1000, false, 0},
		{"within the ratio", 2 * RatioGrace, RatioGrace, 1000, false, 0},
		{"beyond the ratio past the grace", 2 * RatioGrace, 1 << 10, 1000, true, RatioGrace + 64<<10},
		{"nothing compressed read yet", 2 * RatioGrace, 0, 1000, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := &countingReader{r: bytes.NewReader(make([]byte, tc.in))}
			io.Copy(io.Discard, raw)
			q := NewRatioReader(io.LimitReader(zeros{}, tc.out), func() int64 { return raw.n }, tc.max, fail)
			n, err := io.CopyBuffer(io.Discard, q, make([]byte, 32<<10))
			if !tc.wantErr {
				if err != nil || n != tc.out || q.Err() != nil {
					t.Fatalf("got %d bytes, %v (Err %v); want %d, nil", n, err, q.Err(), tc.out)
				}
				return
			}
			if !errors.Is(err, errRatio) || q.Err() != err {
				t.Fatalf("got %v (Err %v), want the ratio error", err, q.Err())
			}
			if n > tc.wantAtMost {
				t.Fatalf("gave %d bytes before failing, more than %d", n, tc.wantAtMost)
			}
			if m, err2 := q.Read(make([]byte, 1)); m != 0 || err2 != err {
				t.Fatalf("after the limit: %d, %v; want 0, the same error", m, err2)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
