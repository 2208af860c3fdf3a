package pkgdb

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// portageVDB is Gentoo's installed-package database: one folder per
// package, /var/db/pkg/<category>/<name>-<version>[-r<N>].
const portageVDB = "/var/db/pkg/"

// portageVersionRE is PMS's version syntax, as portage's versions.py has it:
// numbers with dots, an optional letter, suffixes, an optional revision.
var portageVersionRE = regexp.MustCompile(`^(\d+)((?:\.\d+)*)([a-z]?)((?:_(?:pre|p|beta|alpha|rc)\d*)*)(?:-r(\d+))?$`)

var portageSuffixRE = regexp.MustCompile(`^(alpha|beta|rc|pre|p)(\d*)$`)

// portageNameRE is PMS's package name: letters, digits, '+', '_' and '-',
// not starting with '-' (portage's "-MERGING-" folders of an interrupted
// merge are thereby left out).
var portageNameRE = regexp.MustCompile(`^[A-Za-z0-9_+][A-Za-z0-9_+-]*$`)

// portageStore reads /var/db/pkg/<category>/<pf>[/...]: the package is
// "<category>/<name>" at the version the folder names.
func portageStore(p string) (Package, string, bool) {
	rest, ok := strings.CutPrefix(p, portageVDB)
	if !ok {
		return Package{}, "", false
	}
	cat, rest, ok := strings.Cut(rest, "/")
	if !ok || cat == "" || cat[0] == '.' || cat[0] == '-' {
		return Package{}, "", false
	}
	pf, _, _ := strings.Cut(rest, "/")
	name, version, ok := splitPortagePF(pf)
	if !ok {
		return Package{}, "", false
	}
	// Slices of p: no copy per file.
	root := p[:len(portageVDB)+len(cat)+1+len(pf)]
	full := p[len(portageVDB) : len(portageVDB)+len(cat)+1+len(name)]
	return Package{Name: full, Version: version, Source: full, SourceVersion: version, Ecosystem: Portage, Path: root}, root, true
}

// splitPortagePF splits "<name>-<version>" at the first '-' after which a
// valid version runs to the end, as PMS requires a name never to end in
// something that looks like a version.
func splitPortagePF(pf string) (name, version string, ok bool) {
	for i := 1; i < len(pf); i++ {
		if pf[i] == '-' && portageVersionRE.MatchString(pf[i+1:]) && portageNameRE.MatchString(pf[:i]) {
			return pf[:i], pf[i+1:], true
		}
	}
	return "", "", false
}

var portageSuffixValue = map[string]int{"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "p": 0}

// comparePortage is vercmpPortage, except that, as rpm's comparison does
// here, a version without "-rN" equals every revision of itself: a rule
// naming 5.6.1 covers 5.6.1-r1 and 5.6.1-r2, as Gentoo's revisions rebuild
// one upstream release.
func comparePortage(a, b string) (int, error) {
	ra, rb := portageRevRE.FindStringIndex(a), portageRevRE.FindStringIndex(b)
	if ra != nil && rb == nil {
		a = a[:ra[0]]
	} else if ra == nil && rb != nil {
		b = b[:rb[0]]
	}
	return vercmpPortage(a, b)
}

var portageRevRE = regexp.MustCompile(`-r\d+$`)

// vercmpPortage is portage's vercmp (lib/portage/versions.py), which PMS
// §3.3 describes: the first number as an integer; the other dotted parts
// as integers unless one starts with 0, then as decimal fractions; a
// missing part counts as -1, so 1.0.0 > 1.0; the letter; the suffixes
// (_alpha < _beta < _pre < _rc < none < _p); the revision, -r0 when none.
func vercmpPortage(a, b string) (int, error) {
	ma := portageVersionRE.FindStringSubmatch(a)
	if ma == nil {
		return 0, fmt.Errorf("%w: portage %q", ErrVersion, a)
	}
	mb := portageVersionRE.FindStringSubmatch(b)
	if mb == nil {
		return 0, fmt.Errorf("%w: portage %q", ErrVersion, b)
	}
	num := func(s string) *big.Int {
		n, _ := new(big.Int).SetString(s, 10)
		return n
	}
	minus1 := big.NewInt(-1)
	l1, l2 := []*big.Int{num(ma[1])}, []*big.Int{num(mb[1])}
	var v1, v2 []string
	if ma[2] != "" {
		v1 = strings.Split(ma[2][1:], ".")
	}
	if mb[2] != "" {
		v2 = strings.Split(mb[2][1:], ".")
	}
	for i := 0; i < max(len(v1), len(v2)); i++ {
		switch {
		case i >= len(v1):
			l1, l2 = append(l1, minus1), append(l2, num(v2[i]))
		case i >= len(v2):
			l1, l2 = append(l1, num(v1[i])), append(l2, minus1)
		case v1[i][0] != '0' && v2[i][0] != '0':
			l1, l2 = append(l1, num(v1[i])), append(l2, num(v2[i]))
		default:
			// Decimal fractions: pad to one length, then compare.
			n := max(len(v1[i]), len(v2[i]))
			l1 = append(l1, num(v1[i]+strings.Repeat("0", n-len(v1[i]))))
			l2 = append(l2, num(v2[i]+strings.Repeat("0", n-len(v2[i]))))
		}
	}
	if ma[3] != "" {
		l1 = append(l1, big.NewInt(int64(ma[3][0])))
	}
	if mb[3] != "" {
		l2 = append(l2, big.NewInt(int64(mb[3][0])))
	}
	for i := 0; i < max(len(l1), len(l2)); i++ {
		switch {
		case i >= len(l1):
			return -1, nil
		case i >= len(l2):
			return 1, nil
		}
		if c := l1[i].Cmp(l2[i]); c != 0 {
			return c, nil
		}
	}
	s1, s2 := portageSuffixes(ma[4]), portageSuffixes(mb[4])
	for i := 0; i < max(len(s1), len(s2)); i++ {
		// A missing suffix is _p-1: below _p0, above every pre-release.
		x, y := [2]string{"p", "-1"}, [2]string{"p", "-1"}
		if i < len(s1) {
			x = s1[i]
		}
		if i < len(s2) {
			y = s2[i]
		}
		if x[0] != y[0] {
			return sign(portageSuffixValue[x[0]] - portageSuffixValue[y[0]]), nil
		}
		if x[1] != y[1] {
			r1, r2 := num(x[1]), num(y[1])
			if r1 == nil {
				r1 = new(big.Int)
			}
			if r2 == nil {
				r2 = new(big.Int)
			}
			if c := r1.Cmp(r2); c != 0 {
				return c, nil
			}
		}
	}
	r1, r2 := new(big.Int), new(big.Int)
	if ma[5] != "" {
		r1 = num(ma[5])
	}
	if mb[5] != "" {
		r2 = num(mb[5])
	}
	return r1.Cmp(r2), nil
}

func portageSuffixes(s string) [][2]string {
	var out [][2]string
	for _, x := range strings.Split(s, "_")[1:] {
		m := portageSuffixRE.FindStringSubmatch(x)
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}
