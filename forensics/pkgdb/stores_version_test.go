package pkgdb

import (
	"errors"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// cmpCase is one ordered pair: Compare(a, b) must be want and Compare(b,
// a) its opposite.
type cmpCase struct {
	a, b string
	want int
}

func checkCompare(t *testing.T, eco Ecosystem, cmp func(a, b string) (int, error), cases []cmpCase) {
	t.Helper()
	for _, c := range cases {
		got, err := cmp(c.a, c.b)
		if err != nil {
			t.Errorf("%s: compare(%q, %q): %v", eco, c.a, c.b, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: compare(%q, %q) = %d, want %d", eco, c.a, c.b, got, c.want)
		}
		if back, _ := cmp(c.b, c.a); back != -c.want {
			t.Errorf("%s: compare(%q, %q) = %d, want %d", eco, c.b, c.a, back, -c.want)
		}
	}
}

// TestComparePacman runs pacman's own test/util/vercmptest.sh table (every
// case, each also mirrored as the script does).
func TestComparePacman(t *testing.T) {
	checkCompare(t, Pacman, comparePacman, []cmpCase{
		// all similar length, no pkgrel
		{"1.5.0", "1.5.0", 0}, {"1.5.1", "1.5.0", 1},
		// mixed length
		{"1.5.1", "1.5", 1},
		// with pkgrel, simple
		{"1.5.0-1", "1.5.0-1", 0}, {"1.5.0-1", "1.5.0-2", -1}, {"1.5.0-1", "1.5.1-1", -1}, {"1.5.0-2", "1.5.1-1", -1},
		// with pkgrel, mixed lengths
		{"1.5-1", "1.5.1-1", -1}, {"1.5-2", "1.5.1-1", -1}, {"1.5-2", "1.5.1-2", -1},
		// mixed pkgrel inclusion
		{"1.5", "1.5-1", 0}, {"1.5-1", "1.5", 0}, {"1.1-1", "1.1", 0}, {"1.0-1", "1.1", -1}, {"1.1-1", "1.0", 1},
		// alphanumeric versions
		{"1.5b-1", "1.5-1", -1}, {"1.5b", "1.5", -1}, {"1.5b-1", "1.5", -1}, {"1.5b", "1.5.1", -1},
		// from the manpage
		{"1.0a", "1.0alpha", -1}, {"1.0alpha", "1.0b", -1}, {"1.0b", "1.0beta", -1}, {"1.0beta", "1.0rc", -1}, {"1.0rc", "1.0", -1},
		// going crazy? alpha-dotted versions
		{"1.5.a", "1.5", 1}, {"1.5.b", "1.5.a", 1}, {"1.5.1", "1.5.b", 1},
		// alpha dots and dashes
		{"1.5.b-1", "1.5.b", 0}, {"1.5-1", "1.5.b", -1},
		// same/similar content, differing separators
		{"2.0", "2_0", 0}, {"2.0_a", "2_0.a", 0}, {"2.0a", "2.0.a", -1}, {"2___a", "2_a", 1},
		// epoch included version comparisons
		{"0:1.0", "0:1.0", 0}, {"0:1.0", "0:1.1", -1}, {"1:1.0", "0:1.0", 1}, {"1:1.0", "0:1.1", 1}, {"1:1.0", "2:1.1", -1},
		// epoch + sometimes present pkgrel
		{"1:1.0", "0:1.0-1", 1}, {"1:1.0-1", "0:1.1-1", 1},
		// epoch included on one version
		{"0:1.0", "1.0", 0}, {"0:1.0", "1.1", -1}, {"0:1.1", "1.0", 1}, {"1:1.0", "1.0", 1}, {"1:1.0", "1.1", 1}, {"1:1.1", "1.1", 1},
		// CVE-2024-3094 on Arch: 5.6.1-2 is the fix.
		{"5.6.1-1", "5.6.1-2", -1}, {"5.6.0-1", "5.6.1-1", -1}, {"5.4.6-1", "5.6.0-1", -1},
		// long numbers do not overflow
		{"1.20240329123456789", "1.20240329123456788", 1}, {"1.007", "1.7", 0},
	})
}

// TestComparePacmanOracle checks comparePacman against pacman's own vercmp
// on generated pairs, when pacman (Debian's pacman-package-manager) is
// installed.
func TestComparePacmanOracle(t *testing.T) {
	bin, err := exec.LookPath("vercmp")
	if err != nil {
		t.Skip("vercmp not on PATH (Debian: pacman-package-manager)")
	}
	if out, err := exec.Command(bin, "1:1.0", "1.1").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Skipf("%s is not pacman's vercmp: %q %v", bin, out, err)
	}
	parts := []string{"0", "1", "01", "5", "6", "10", "a", "b", "alpha", "rc", "pre", "p", "r", ".", "-", "_", "+", "~", ":", "..", "1:", "2:"}
	rng := rand.New(rand.NewPCG(3094, 2024))
	gen := func() string {
		var b strings.Builder
		for n := 1 + rng.IntN(6); n > 0; n-- {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		return b.String()
	}
	for range 300 {
		a, b := gen(), gen()
		if strings.HasPrefix(a, "-") || strings.HasPrefix(b, "-") {
			continue // vercmp would read them as options
		}
		out, err := exec.Command(bin, a, b).Output()
		if err != nil {
			t.Fatalf("vercmp %q %q: %v", a, b, err)
		}
		want, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		if got, err := comparePacman(a, b); err != nil || got != want {
			t.Errorf("comparePacman(%q, %q) = %d, %v; vercmp says %d", a, b, got, err, want)
		}
	}
}

// TestCompareBrew takes Homebrew's own expectations (version_spec.rb and
// pkg_version_spec.rb, as far as they concern ordering).
func TestCompareBrew(t *testing.T) {
	checkCompare(t, Brew, compareBrew, []cmpCase{
		{"0.1", "0.1.0", 0}, {"0.1", "0.2", -1}, {"1.2.3", "1.2.2", 1}, {"1.2.4", "1.2.4.1", -1},
		{"1.2.3", "1.2.3alpha4", 1}, {"1.2.3", "1.2.3beta2", 1}, {"1.2.3", "1.2.3rc3", 1}, {"1.2.3", "1.2.3-p34", -1},
		{"1.2.3alpha4", "1.2.3beta2", -1}, {"1.2.3beta2", "1.2.3rc3", -1}, {"1.2.3rc3", "1.2.3-p34", -1},
		{"1.0a", "1.0", 1}, {"1.0b1", "1.0b2", -1}, {"1.0pre1", "1.0rc1", -1}, {"1.0.post1", "1.0", 1},
		{"HEAD", "1.0", 1}, {"HEAD-abcdef", "HEAD", 0}, {"1.1.1", "1.1.1a", -1},
		// kegs: the revision, compared only when both name one
		{"5.6.1_1", "5.6.1", 0}, {"5.6.1_1", "5.6.1_2", -1}, {"5.6.1_10", "5.6.1_9", 1}, {"5.6.2", "5.6.1_3", 1},
		{"5.4.6", "5.6.0", -1}, {"5.6.0", "5.6.1", -1},
	})
	for _, bad := range []string{"", "5.6 1"} {
		if _, err := compareBrew(bad, "1"); !errors.Is(err, ErrVersion) {
			t.Errorf("compareBrew(%q) = %v, want ErrVersion", bad, err)
		}
	}
}

// TestCompareNix takes Nix's own compareVersions tests.
func TestCompareNix(t *testing.T) {
	checkCompare(t, Nix, compareNix, []cmpCase{
		{"1.0", "2.3", -1}, {"2.1", "2.3", -1}, {"2.3", "2.3", 0}, {"2.5", "2.3", 1}, {"3.1", "2.3", 1},
		{"2.3.1", "2.3", 1}, {"2.3.1", "2.3a", 1}, {"2.3pre1", "2.3", -1}, {"2.3pre3", "2.3pre12", -1},
		{"2.3a", "2.3c", -1}, {"2.3pre1", "2.3c", -1}, {"2.3pre1", "2.3q", -1},
		{"5.6.1", "5.4.6", 1}, {"5.6.0", "5.6.1", -1}, {"5.6.1", "5.6.1", 0},
	})
}

// TestCompareConda walks the order VersionOrder's documentation gives,
// each version against the next.
func TestCompareConda(t *testing.T) {
	chain := []string{"0.4", "0.4.0", "0.4.1.rc", "=0.4.1.RC", "0.4.1", "0.5a1", "0.5b3", "0.5C1", "0.5", "0.9.6", "0.960923",
		"1.0", "1.1dev1", "1.1a1", "1.1.0dev1", "=1.1.dev1", "1.1.a1", "1.1.0rc1", "1.1.0", "=1.1", "1.1.0post1", "=1.1.post1",
		"1.1post1", "1996.07.12", "1!0.4.1", "1!3.1.1.6", "2!0.4.1"}
	var cases []cmpCase
	for i := 1; i < len(chain); i++ {
		a, b := strings.TrimPrefix(chain[i-1], "="), chain[i]
		want := -1
		if strings.HasPrefix(b, "=") {
			want = 0
		}
		cases = append(cases, cmpCase{a, strings.TrimPrefix(b, "="), want})
	}
	// The 0.4 vs 0.4.0 step: VersionOrder fills with 0, so those are equal.
	cases[0].want = 0
	// conda's test_openssl_convention order: a trailing '_' below the
	// letters, which sort below the plain version, "post" above it.
	openssl := []string{"1.0.1dev", "1.0.1_", "1.0.1a", "1.0.1b", "1.0.1c", "1.0.1d", "1.0.1r", "1.0.1rc", "1.0.1rc1",
		"1.0.1rc2", "1.0.1s", "1.0.1", "1.0.1post.a", "1.0.1post.b", "1.0.1post.z", "1.0.1post.za", "1.0.2"}
	for i := 1; i < len(openssl); i++ {
		cases = append(cases, cmpCase{openssl[i-1], openssl[i], -1})
	}
	cases = append(cases, cmpCase{"5.6.1", "5.4.6", 1}, cmpCase{"1.2-3", "1.2_3", 0}, cmpCase{"1.0+local2", "1.0+local1", 1})
	checkCompare(t, Conda, compareConda, cases)
	for _, bad := range []string{"", "1!2!3", "a!1", "1+2+3", "1..2", "1.2$", "!1"} {
		if _, err := compareConda(bad, "1"); !errors.Is(err, ErrVersion) {
			t.Errorf("compareConda(%q) = %v, want ErrVersion", bad, err)
		}
	}
}

// TestComparePortage runs portage's own test_vercmp.py cases against the
// strict comparison, then the rule that a version without "-rN" stands for
// all its revisions.
func TestComparePortage(t *testing.T) {
	var cases []cmpCase
	for _, p := range [][2]string{{"6.0", "5.0"}, {"5.0", "5"}, {"1.0-r1", "1.0-r0"}, {"1.0-r1", "1.0"},
		{"999999999999999999999999999999", "999999999999999999999999999998"}, {"1.0.0", "1.0"}, {"1.0.0", "1.0b"},
		{"1b", "1"}, {"1b_p1", "1_p1"}, {"1.1b", "1.1"}, {"12.2.5", "12.2b"}} {
		cases = append(cases, cmpCase{p[0], p[1], 1})
	}
	for _, p := range [][2]string{{"4.0", "5.0"}, {"5", "5.0"}, {"1.0_pre2", "1.0_p2"}, {"1.0_alpha2", "1.0_p2"},
		{"1.0_alpha1", "1.0_beta1"}, {"1.0_beta3", "1.0_rc3"}, {"1.001000000000000000001", "1.001000000000000000002"},
		{"1.00100000000", "1.0010000000000000001"}, {"999999999999999999999999999998", "999999999999999999999999999999"},
		{"1.01", "1.1"}, {"1.0-r0", "1.0-r1"}, {"1.0", "1.0-r1"}, {"1.0", "1.0.0"}, {"1.0b", "1.0.0"}, {"1_p1", "1b_p1"},
		{"1", "1b"}, {"1.1", "1.1b"}, {"12.2b", "12.2.5"}} {
		cases = append(cases, cmpCase{p[0], p[1], -1})
	}
	for _, p := range [][2]string{{"4.0", "4.0"}, {"1.0", "1.0"}, {"1.0-r0", "1.0"}, {"1.0", "1.0-r0"}, {"1.0-r0", "1.0-r0"}, {"1.0-r1", "1.0-r1"}} {
		cases = append(cases, cmpCase{p[0], p[1], 0})
	}
	for _, p := range [][2]string{{"1.0_alpha", "1.0_pre"}, {"1.0_beta", "1.0_alpha"}, {"0", "0.0"}} {
		if c, _ := vercmpPortage(p[0], p[1]); c == 0 {
			t.Errorf("vercmpPortage(%q, %q) = 0", p[0], p[1])
		}
	}
	checkCompare(t, Portage, vercmpPortage, cases)
	checkCompare(t, Portage, comparePortage, []cmpCase{
		{"5.6.1", "5.6.1-r1", 0}, {"5.6.1-r1", "5.6.1-r2", -1}, {"5.6.0", "5.6.1-r2", -1}, {"5.4.6", "5.6.0", -1},
		{"5.6.1_p1", "5.6.1-r3", 1},
	})
	for _, bad := range []string{"", "5.6.1-r", "v5", "5.6.1_foo", "5..6"} {
		if _, err := comparePortage(bad, "1"); !errors.Is(err, ErrVersion) {
			t.Errorf("comparePortage(%q) = %v, want ErrVersion", bad, err)
		}
	}
}

// TestRangeNewEcosystems checks the CVE-2024-3094 ranges of the built-in
// rules in each new ecosystem's own order.
func TestRangeNewEcosystems(t *testing.T) {
	tests := []struct {
		eco  Ecosystem
		r    Range
		v    string
		want bool
	}{
		{Pacman, Range{Versions: []string{"5.6.0-1", "5.6.1-1"}}, "5.6.1-1", true},
		{Pacman, Range{Introduced: "5.6.0-1", Fixed: "5.6.1-2"}, "5.6.1-1", true},
		{Pacman, Range{Introduced: "5.6.0-1", Fixed: "5.6.1-2"}, "5.6.1-2", false},
		{Pacman, Range{Introduced: "5.6.0-1", Fixed: "5.6.1-2"}, "5.4.6-1", false},
		{Pacman, Range{Introduced: "5.6.0-1", Fixed: "5.6.1-2"}, "1:5.4.6-1", false},
		{Brew, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.6.1", true},
		{Brew, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.6.1_1", true},
		{Brew, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.4.6", false},
		{Nix, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.6.1", true},
		{Nix, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.6.2", false},
		{Portage, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.6.1-r1", true},
		{Portage, Range{Versions: []string{"5.6.0", "5.6.1"}}, "5.4.2", false},
		{Conda, Range{Introduced: "5.6.0", Fixed: "5.6.2"}, "5.6.1", true},
		{Conda, Range{Introduced: "5.6.0", Fixed: "5.6.2"}, "5.4.6", false},
	}
	for _, tt := range tests {
		got, err := tt.r.Contains(tt.eco, tt.v)
		if err != nil || got != tt.want {
			t.Errorf("%s %+v contains %q = %v, %v; want %v", tt.eco, tt.r, tt.v, got, err, tt.want)
		}
	}
}
