package readahead

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

// fakeCores lends a core when free says so and asks for it back when
// wanted says so; it counts the cores out.
type fakeCores struct {
	free, wanted func() bool
	out          atomic.Int32
	lent         atomic.Int32
}

func (c *fakeCores) TryEnter() (func(), bool) {
	if !c.free() {
		return nil, false
	}
	c.out.Add(1)
	c.lent.Add(1)
	var once sync.Once
	return func() { once.Do(func() { c.out.Add(-1) }) }, true
}

func (c *fakeCores) Wanted() bool { return c.wanted() }

// guarded fails the test when src is read by two goroutines at once.
type guarded struct {
	t    *testing.T
	r    io.Reader
	busy atomic.Bool
}

func (g *guarded) Read(p []byte) (int, error) {
	if !g.busy.CompareAndSwap(false, true) {
		g.t.Error("src read by two goroutines at once")
	}
	defer g.busy.Store(false)
	return g.r.Read(p)
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

func TestReaderReturnsEveryByteInOrder(t *testing.T) {
	data := randomBytes(5<<20+123, 1)
	chance := func(rng *rand.Rand, p float64) func() bool {
		var mu sync.Mutex
		return func() bool { mu.Lock(); defer mu.Unlock(); return rng.Float64() < p }
	}
	cases := []struct {
		name         string
		free, wanted float64
		readSize     int
		wantLent     bool
	}{
		{"no core free", 0, 0, 32 << 10, false},
		{"a core free throughout", 1, 0, 32 << 10, true},
		{"a core free, small reads", 1, 0, 511, true},
		{"a core free, big reads", 1, 0, 3 << 20, true},
		{"core wanted back at once", 1, 1, 64 << 10, true},
		{"cores come and go", 0.5, 0.3, 10 << 10, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			cores := &fakeCores{free: chance(rng, tc.free), wanted: chance(rand.New(rand.NewPCG(uint64(i), 3)), tc.wanted)}
			r := New(&guarded{t: t, r: bytes.NewReader(data)}, cores)
			var got bytes.Buffer
			buf := make([]byte, tc.readSize)
			for {
				n, err := r.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			r.Close()
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("read %d bytes, not the %d written", got.Len(), len(data))
			}
			if out := cores.out.Load(); out != 0 {
				t.Errorf("%d cores not given back", out)
			}
			if lent := cores.lent.Load() > 0; lent != tc.wantLent {
				t.Errorf("a core lent: %v, want %v", lent, tc.wantLent)
			}
		})
	}
}

func TestReaderPassesErrorsAfterTheirData(t *testing.T) {
	boom := errors.New("boom")
	data := randomBytes(700<<10, 4)
	for _, lend := range []bool{false, true} {
		for _, src := range []struct {
			name string
			r    func() io.Reader
			err  error
		}{
			{"error after data", func() io.Reader { return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)) }, boom},
			{"data and error together", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }, io.EOF},
			{"unexpected EOF is kept", func() io.Reader {
				return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(io.ErrUnexpectedEOF))
			}, io.ErrUnexpectedEOF},
			{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data[:10000])) }, io.EOF},
		} {
			t.Run(src.name, func(t *testing.T) {
				cores := &fakeCores{free: func() bool { return lend }, wanted: func() bool { return false }}
				r := New(src.r(), cores)
				got, err := io.ReadAll(r)
				if src.err == io.EOF {
					if err != nil {
						t.Fatalf("err %v, want none", err)
					}
				} else if !errors.Is(err, src.err) {
					t.Fatalf("err %v, want %v", err, src.err)
				}
				want := data
				if src.name == "one byte at a time" {
					want = data[:10000]
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want %d", len(got), len(want))
				}
				// The error stays.
				if n, err2 := r.Read(make([]byte, 10)); n != 0 || (src.err != io.EOF && !errors.Is(err2, src.err)) || (src.err == io.EOF && err2 != io.EOF) {
					t.Fatalf("read after the error: %d, %v", n, err2)
				}
				r.Close()
			})
		}
	}
}

// A source that never makes progress is given up on, not spun on forever.
func TestReaderGivesUpOnAStuckSource(t *testing.T) {
	cores := &fakeCores{free: func() bool { return true }, wanted: func() bool { return false }}
	r := New(stuck{}, cores)
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err %v, want io.ErrNoProgress", err)
	}
	r.Close()
}

type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

// Close stops the reading goroutine, gives its core back, and leaves src
// to the caller, who reads on from where the reading goroutine stopped.
func TestCloseLeavesSourceToTheCaller(t *testing.T) {
	data := randomBytes(3<<20, 5)
	cores := &fakeCores{free: func() bool { return true }, wanted: func() bool { return false }}
	src := &guarded{t: t, r: bytes.NewReader(data)}
	r := New(src, cores)
	head := make([]byte, 1000)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close() // twice is fine
	if out := cores.out.Load(); out != 0 {
		t.Errorf("%d cores not given back", out)
	}
	rest, err := io.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	if read := len(data) - len(rest); read < len(head) || read > len(head)+chunks*chunkSize+chunkSize {
		t.Errorf("%d bytes read ahead of %d returned: more than the buffers hold", read, len(head))
	}
	if !bytes.Equal(rest, data[len(data)-len(rest):]) {
		t.Error("src does not go on where the reading stopped")
	}
}

func TestNilCoresOnlyReads(t *testing.T) {
	data := randomBytes(3<<20, 6)
	got, err := io.ReadAll(New(bytes.NewReader(data), nil))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// An error src returns with its last bytes comes with them out of Read
// too, and one it returns apart comes apart: a tar reader tells a broken
// file from a whole file followed by a broken header by that.
func TestReaderKeepsAnErrorWithItsBytes(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		src  func() io.Reader
		with bool
	}{
		{"with the bytes", func() io.Reader { return &lastWith{data: []byte("abcdef"), err: boom} }, true},
		{"apart", func() io.Reader { return io.MultiReader(bytes.NewReader([]byte("abcdef")), iotest.ErrReader(boom)) }, false},
	} {
		for _, lend := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/lent=%v", tc.name, lend), func(t *testing.T) {
				r := New(tc.src(), &fakeCores{free: func() bool { return lend }, wanted: func() bool { return false }})
				defer r.Close()
				buf := make([]byte, 6)
				n, err := r.Read(buf)
				if n != 6 || (err == boom) != tc.with {
					t.Fatalf("read %d bytes, err %v; want 6 bytes and the error with them: %v", n, err, tc.with)
				}
				if n, err := r.Read(buf); n != 0 || err != boom {
					t.Fatalf("then %d bytes, err %v; want the error", n, err)
				}
			})
		}
	}
}

// lastWith returns its data and its error in one Read.
type lastWith struct {
	data []byte
	err  error
}

func (l *lastWith) Read(p []byte) (int, error) {
	if len(l.data) == 0 {
		return 0, l.err
	}
	n := copy(p, l.data)
	l.data = l.data[n:]
	if len(l.data) == 0 {
		return n, l.err
	}
	return n, nil
}

// A closed Reader's buffers serve the next Readers, whether it was read to
// the end or closed halfway with chunks unread; Readers at once, more than
// the spare buffers cover, each read their own bytes in order (run with
// -race: a buffer given back while still in use would be a race).
func TestBuffersServeTheNextReaders(t *testing.T) {
	for len(spare) > 0 {
		<-spare
	}
	always := func() bool { return true }
	never := func() bool { return false }
	first := New(bytes.NewReader(randomBytes(3*chunkSize, 7)), &fakeCores{free: always, wanted: never})
	if _, err := io.ReadFull(first, make([]byte, chunkSize/2)); err != nil {
		t.Fatal(err)
	}
	first.Close() // halfway: its chunks read ahead and not returned are given back too
	if len(spare) != chunks {
		t.Fatalf("%d buffers kept after Close, want the Reader's %d", len(spare), chunks)
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := randomBytes(2*chunkSize+i*4099, uint64(100+i))
			r := New(bytes.NewReader(data), &fakeCores{free: always, wanted: never})
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("reader %d: %d bytes of %d, %v", i, len(got), len(data), err)
			}
		}()
	}
	wg.Wait()
	if n := len(spare); n == 0 || n > cap(spare) {
		t.Errorf("%d buffers kept, want 1 to %d", n, cap(spare))
	}
}
