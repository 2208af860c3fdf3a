package detect

import (
	"bytes"
	"math/rand"
	"path"
	"testing"

	"github.com/strata-forensics/strata/forensics/rules"
)

func compile(t testing.TB, srcs ...string) *matcher {
	t.Helper()
	var pats []rules.Pattern
	for _, s := range srcs {
		p, err := rules.ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		pats = append(pats, p)
	}
	return newMatcher(pats)
}

// naive finds the first match of each pattern by brute force.
func naive(m *matcher, data []byte) []int64 {
	out := make([]int64, len(m.pats))
	for i := range m.pats {
		out[i] = -1
		for off := 0; off+m.pats[i].Len() <= len(data); off++ {
			if m.pats[i].Matches(data[off:]) {
				out[i] = int64(off)
				break
			}
		}
	}
	return out
}

func feed(m *matcher, data []byte, chunk int) []int64 {
	s := m.newSearch()
	for len(data) > 0 {
		n := chunk
		if n > len(data) {
			n = len(data)
		}
		s.Write(data[:n])
		data = data[n:]
	}
	return s.first
}

func TestMatcherChunks(t *testing.T) {
	m := compile(t, hexPrologue, hexOp1, hexOp2, hexOp3, "aabbccdd", "ccddeeff", "ddee??aabbccdd")
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 300_000)
	rng.Read(data)
	copy(data[70_000-5:], unhexPattern(t, hexPrologue))
	copy(data[1000:], unhexPattern(t, hexOp1))
	copy(data[131_072-20:], unhexPattern(t, hexOp3))
	copy(data[200_000:], []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}) // overlapping anchors
	copy(data[250_000:], []byte{0xdd, 0xee, 0x01, 0xaa, 0xbb, 0xcc, 0xdd})
	want := naive(m, data)
	if want[0] != 70_000-5 || want[1] != 1000 || want[2] != -1 || want[4] != 200_000 || want[5] != 200_002 || want[6] != 250_000 {
		t.Fatalf("fixture broken: %v", want)
	}
	for _, chunk := range []int{1, 2, 3, 7, 33, 64, 4096, 65536, len(data)} {
		t.Run("chunk"+itoa(chunk), func(t *testing.T) {
			got := feed(m, data, chunk)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("pattern %d: offset %d, want %d", i, got[i], want[i])
				}
			}
		})
	}
}

func TestMatcherRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for iter := 0; iter < 200; iter++ {
		// A small alphabet makes partial and overlapping matches common.
		alpha := []byte{0, 1, 2}
		var srcs []string
		for k := 0; k < 1+rng.Intn(4); k++ {
			n := 4 + rng.Intn(6)
			var b bytes.Buffer
			for i := 0; i < n; i++ {
				if i > 0 && i < n-1 && rng.Intn(5) == 0 && n > 6 {
					b.WriteString("??")
					continue
				}
				b.WriteString("0" + string('0'+rune(alpha[rng.Intn(3)])))
			}
			if _, err := rules.ParsePattern(b.String()); err == nil {
				srcs = append(srcs, b.String())
			}
		}
		if len(srcs) == 0 {
			continue
		}
		m := compile(t, srcs...)
		data := make([]byte, 2000)
		for i := range data {
			data[i] = alpha[rng.Intn(3)]
		}
		want := naive(m, data)
		got := feed(m, data, 1+rng.Intn(50))
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("patterns %v: pattern %d at %d, want %d", srcs, i, got[i], want[i])
			}
		}
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// BenchmarkSignatureSearch measures the one-pass search of all built-in
// signature patterns over random bytes (no matches: the common case).
func BenchmarkSignatureSearch(b *testing.B) {
	rs, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(rs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 64<<10)
	rand.New(rand.NewSource(3)).Read(data)
	const total = 16 << 20
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := e.sigs.newSearch()
		for n := 0; n < total; n += len(data) {
			s.Write(data)
		}
	}
}

// A glob's literal prefix only rules names out early: it matches exactly
// what path.Match matches, escapes, classes and bad patterns included.
func TestGlobMatchesAsPathMatch(t *testing.T) {
	patterns := []string{"xz-5.6.[01].tar.gz", "liblzma.so.5*", "*.so", "configure", `a\*b`, `a\`, "[", "ab[", "a?c", "", "*"}
	names := []string{"xz-5.6.0.tar.gz", "xz-5.6.2.tar.gz", "xz-5.6.1.tar", "liblzma.so.5.6.1", "liblzma.so", "libz.so", "configure", "configure.ac",
		"a*b", "axb", `a\`, "a", "[", "ab[", "abc", "ac", ""}
	for _, p := range patterns {
		g := newGlob(p)
		for _, n := range names {
			want, _ := path.Match(p, n)
			if got := g.match(n); got != want {
				t.Errorf("glob %q on %q: %v, path.Match says %v", p, n, got, want)
			}
		}
	}
}
