package pkgdb

import (
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// brewCellars are the Cellars of Homebrew's default prefixes: Intel macOS,
// Apple silicon macOS; Linuxbrew's /home/linuxbrew/.linuxbrew and
// ~/.linuxbrew are found by their ".linuxbrew/Cellar" wherever they lie.
var brewCellars = [...]string{"/usr/local/Cellar/", "/opt/homebrew/Cellar/"}

const linuxbrewCellar = "/.linuxbrew/Cellar/"

// brewReceipt is the file Homebrew writes into every keg it installs.
const brewReceipt = "INSTALL_RECEIPT.json"

// brewStore reads <cellar>/<formula>/<version>[/...]: a keg, whose folder
// name is the installed version with its revision ("5.6.1", "5.6.1_1").
func brewStore(p string) (Package, string, bool) {
	cellar := ""
	for _, c := range brewCellars {
		if strings.HasPrefix(p, c) {
			cellar = c
			break
		}
	}
	if cellar == "" {
		i := strings.Index(p, linuxbrewCellar)
		if i < 0 {
			return Package{}, "", false
		}
		cellar = p[:i+len(linuxbrewCellar)]
	}
	name, rest, ok := strings.Cut(p[len(cellar):], "/")
	if !ok || name == "" || name[0] == '.' {
		return Package{}, "", false
	}
	version, _, _ := strings.Cut(rest, "/")
	if version == "" || version[0] == '.' || badBrewVersion(version) {
		return Package{}, "", false
	}
	root := p[:len(cellar)+len(name)+1+len(version)] // a slice of p: no copy per file
	v, _, _ := splitBrewRevision(version)
	return Package{Name: name, Version: version, Source: name, SourceVersion: v, Ecosystem: Brew, Path: root}, root, true
}

func isBrewReceipt(p string) bool {
	if path.Base(p) != brewReceipt {
		return false
	}
	_, root, ok := brewStore(p)
	return ok && p == root+"/"+brewReceipt
}

// brewReceiptData is what strata keeps of an INSTALL_RECEIPT.json.
type brewReceiptData struct {
	Source struct {
		Spec     string `json:"spec"`
		Tap      string `json:"tap"`
		Versions struct {
			Stable string `json:"stable"`
			Head   string `json:"head"`
		} `json:"versions"`
	}
	PouredFromBottle *bool
	Arch             string
	BuiltOn          struct {
		OS        string `json:"os"`
		CPUFamily string `json:"cpu_family"`
	}
}

// parseBrewReceipt reads a keg's INSTALL_RECEIPT.json: the package is the
// keg's (name and version from its folder), with what the receipt adds:
// how it was installed (poured from a bottle or built from source), the
// formula version it was installed at, the architecture. A receipt whose
// formula version is not the keg's is returned with an error: Homebrew
// writes both at once.
func parseBrewReceipt(file string, r io.Reader) ([]Package, error) {
	p, root, ok := brewStore(file)
	if !ok || file != root+"/"+brewReceipt {
		return nil, &FormatError{File: file, Err: fmt.Errorf("%w: not the %s of a Homebrew keg", ErrMalformed, brewReceipt)}
	}
	var d brewReceiptData
	err := readObject(file, r, map[string]any{
		"source": &d.Source, "poured_from_bottle": &d.PouredFromBottle, "arch": &d.Arch, "built_on": &d.BuiltOn,
	})
	if err != nil {
		return []Package{p}, err
	}
	if d.PouredFromBottle != nil {
		p.Status = "built from source"
		if *d.PouredFromBottle {
			p.Status = "poured from bottle"
		}
	}
	p.Arch = d.Arch
	if p.Arch == "" {
		p.Arch = d.BuiltOn.CPUFamily
	}
	formula := d.Source.Versions.Stable
	if d.Source.Spec == "head" {
		formula = d.Source.Versions.Head
	}
	if formula != "" {
		kegVersion, _, _ := splitBrewRevision(p.Version)
		p.SourceVersion = formula
		if d.Source.Spec != "head" && formula != kegVersion {
			return []Package{p}, &FormatError{File: file, Err: fmt.Errorf("%w: the receipt says %s %s, the keg folder %s", ErrMalformed, p.Name, formula, p.Version)}
		}
	}
	return []Package{p}, nil
}

func badBrewVersion(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] == 0x7f {
			return true
		}
	}
	return false
}

var brewRevisionRE = regexp.MustCompile(`_([0-9]+)$`)

// splitBrewRevision splits a keg version into the formula version and its
// revision, as Homebrew's PkgVersion.parse does (the "_N" at the end).
func splitBrewRevision(s string) (version, revision string, ok bool) {
	if m := brewRevisionRE.FindStringSubmatchIndex(s); m != nil && m[0] > 0 {
		return s[:m[0]], strings.TrimLeft(s[m[2]:m[3]], "0"), true
	}
	return s, "", false
}

// compareBrew orders keg versions as Homebrew's PkgVersion does: the
// formula versions with Version#<=>, then the revisions, except that, as
// rpm's comparison does here, a version without "_N" equals every revision
// of itself: a rule naming 5.6.1 covers the keg 5.6.1_1.
func compareBrew(a, b string) (int, error) {
	for _, v := range []string{a, b} {
		if v == "" || badBrewVersion(v) {
			return 0, fmt.Errorf("%w: brew %q: empty or holding white space or control characters", ErrVersion, v)
		}
	}
	va, ra, hasA := splitBrewRevision(a)
	vb, rb, hasB := splitBrewRevision(b)
	if c := brewVersionCmp(va, vb); c != 0 || !hasA || !hasB {
		return c, nil
	}
	return compareDigits(ra, rb), nil
}

// Homebrew's version tokens (Library/Homebrew/version.rb), in the order its
// scanner tries them.
type brewTokKind int

const (
	brewNull brewTokKind = iota
	brewString
	brewNumeric
	brewAlpha
	brewBeta
	brewPre
	brewRC
	brewPatch
	brewPost
)

type brewTok struct {
	kind brewTokKind
	s    string // as scanned; for numbers, the digits without leading zeros
	rev  string // composite tokens: their first run of digits, without leading zeros
}

var (
	brewScanRE = regexp.MustCompile(`(?i)alpha[0-9]*|a[0-9]+|beta[0-9]*|b[0-9]+|pre[0-9]*|rc[0-9]*|p[0-9]*|.post[0-9]+|[0-9]+|[a-z]+`)
	brewKinds  = []struct {
		re   *regexp.Regexp
		kind brewTokKind
	}{
		{regexp.MustCompile(`(?i)^(?:alpha[0-9]*|a[0-9]+)$`), brewAlpha},
		{regexp.MustCompile(`(?i)^(?:beta[0-9]*|b[0-9]+)$`), brewBeta},
		{regexp.MustCompile(`(?i)^rc[0-9]*$`), brewRC},
		{regexp.MustCompile(`(?i)^pre[0-9]*$`), brewPre},
		{regexp.MustCompile(`(?i)^p[0-9]*$`), brewPatch},
		{regexp.MustCompile(`(?i)^.post[0-9]+$`), brewPost},
		{regexp.MustCompile(`^[0-9]+$`), brewNumeric},
		{regexp.MustCompile(`(?i)^[a-z]+$`), brewString},
	}
	brewDigitsRE = regexp.MustCompile(`[0-9]+`)
	brewHeadRE   = regexp.MustCompile(`^HEAD(?:-.*)?$`)
)

func brewTokens(v string) []brewTok {
	var out []brewTok
	for _, s := range brewScanRE.FindAllString(v, -1) {
		t := brewTok{kind: brewString, s: s}
		for _, k := range brewKinds {
			if k.re.MatchString(s) {
				t.kind = k.kind
				break
			}
		}
		switch t.kind {
		case brewNumeric:
			t.s = strings.TrimLeft(s, "0")
		case brewAlpha, brewBeta, brewPre, brewRC, brewPatch, brewPost:
			t.rev = strings.TrimLeft(brewDigitsRE.FindString(s), "0")
		}
		out = append(out, t)
	}
	return out
}

func (t brewTok) composite() bool { return t.kind >= brewAlpha }

// brewTokCmp is Token#<=> of each token class.
func brewTokCmp(a, b brewTok) int {
	switch a.kind {
	case brewNull:
		switch {
		case b.kind == brewNull:
			return 0
		case b.kind == brewNumeric:
			if b.s == "" {
				return 0
			}
			return -1
		case b.kind == brewAlpha || b.kind == brewBeta || b.kind == brewPre || b.kind == brewRC:
			return 1
		}
		return -1
	case brewNumeric:
		switch b.kind {
		case brewNumeric:
			return compareDigits(a.s, b.s)
		case brewNull:
			return -brewTokCmp(b, a)
		}
		return 1 // every string token
	}
	// a is a string token, plain or composite.
	if a.composite() && b.kind == a.kind {
		return compareDigits(a.rev, b.rev)
	}
	if a.composite() {
		// The pre-release and post-release classes against each other.
		rank := map[brewTokKind]int{brewAlpha: 1, brewBeta: 2, brewPre: 3, brewRC: 4, brewPatch: 5, brewPost: 5}
		ra, rb := rank[a.kind], rank[b.kind]
		switch {
		case a.kind <= brewRC && rb > 0: // alpha, beta, pre, rc: below what ranks higher
			return sign(ra - rb)
		case (a.kind == brewPatch || a.kind == brewPost) && rb > 0 && rb < 5:
			return 1
		}
	}
	switch b.kind {
	case brewNumeric, brewNull:
		return -brewTokCmp(b, a)
	}
	return strings.Compare(a.s, b.s)
}

// brewVersionCmp is Version#<=>: HEAD versions above all others; equal
// strings equal; else token by token, where a number facing a string is
// passed over when it is zero (1.0 equals 1.0.0, 1.0a below 1.0) and wins
// otherwise.
func brewVersionCmp(a, b string) int {
	if a == b {
		return 0
	}
	ha, hb := brewHeadRE.MatchString(a), brewHeadRE.MatchString(b)
	switch {
	case ha && !hb:
		return 1
	case !ha && hb:
		return -1
	case ha && hb:
		return 0
	}
	lt, rt := brewTokens(a), brewTokens(b)
	null := brewTok{kind: brewNull}
	// Homebrew loops while the left index is below the longer list's
	// length, which makes its order asymmetric when zeros are skipped on
	// one side only ("pppp0-0" against "0:0!0!0!0"); going on until both
	// lists are used up gives the same answer for real versions and an
	// antisymmetric one for the rest.
	for l, r := 0, 0; l < len(lt) || r < len(rt); {
		x, y := null, null
		if l < len(lt) {
			x = lt[l]
		}
		if r < len(rt) {
			y = rt[r]
		}
		c := brewTokCmp(x, y)
		switch {
		case c == 0:
			l, r = l+1, r+1
		case x.kind == brewNumeric && y.kind != brewNumeric:
			if brewTokCmp(x, null) > 0 {
				return 1
			}
			l++
		case x.kind != brewNumeric && y.kind == brewNumeric:
			if brewTokCmp(y, null) > 0 {
				return -1
			}
			r++
		default:
			return c
		}
	}
	return 0
}
