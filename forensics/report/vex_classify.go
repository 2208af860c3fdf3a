package report

import (
	"sort"
	"strings"

	"github.com/strata-forensics/strata/forensics/pkgdb"
	"github.com/strata-forensics/strata/forensics/rules"
)

// pkgClass is where a version of an xz/liblzma package stands.
type pkgClass int

const (
	pkgOther    pkgClass = iota // outside every range, never affected
	pkgAffected                 // inside a range
	pkgFixed                    // after the end of a range
	pkgUnknown                  // the version cannot be compared
)

// componentNames lists the package names the rules' package rules know,
// by ecosystem: "liblzma5, xz-utils (dpkg); xz, xz-libs (rpm)".
func componentNames(rs *rules.Set) string {
	byEco := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range rs.Rules() {
		if r.Package == nil {
			continue
		}
		for _, n := range r.Package.Names {
			if k := r.Package.Ecosystem + "\x00" + n; !seen[k] {
				seen[k] = true
				byEco[r.Package.Ecosystem] = append(byEco[r.Package.Ecosystem], n)
			}
		}
	}
	ecos := make([]string, 0, len(byEco))
	for e := range byEco {
		ecos = append(ecos, e)
	}
	sort.Strings(ecos)
	var parts []string
	for _, e := range ecos {
		sort.Strings(byEco[e])
		parts = append(parts, strings.Join(byEco[e], ", ")+" ("+e+")")
	}
	return strings.Join(parts, "; ")
}

// classify places a package against the rule set's package rules: ok is
// false for a package no rule names.
func classify(rs *rules.Set, p pkgdb.Package) (cls pkgClass, why string, ok bool) {
	cls = pkgOther
	var fixedWhy, otherWhy []string
	for _, r := range rs.Rules() {
		if r.Package == nil || r.Package.Ecosystem != string(p.Ecosystem) {
			continue
		}
		named := false
		for _, n := range r.Package.Names {
			named = named || n == p.Name
		}
		if !named {
			continue
		}
		ok = true
		for _, rg := range r.Package.Ranges {
			in, err := pkgdb.Range(rg).Contains(p.Ecosystem, p.Version)
			if err != nil {
				return pkgUnknown, err.Error(), true
			}
			if in {
				return pkgAffected, "inside a range of rule " + r.ID, true
			}
			if bound, past := pastRange(p.Ecosystem, p.Version, rg); past {
				fixedWhy = append(fixedWhy, "sorts after "+bound+" of rule "+r.ID)
			}
		}
		otherWhy = append(otherWhy, "in no range of rule "+r.ID)
	}
	if len(fixedWhy) > 0 {
		return pkgFixed, fixedWhy[0], ok
	}
	if len(otherWhy) > 0 {
		why = otherWhy[0]
	}
	return cls, why, ok
}

// pastRange says whether v comes after the end of an affected range, not
// before its start: the version a fix brought. The end is the range's
// fixed version (v at or after it), its last affected version, or, for a
// plain list of versions, the highest listed (v after it); a range open at
// the top has no end. bound describes the end passed.
func pastRange(eco pkgdb.Ecosystem, v string, rg rules.Range) (bound string, ok bool) {
	cmp := func(a, b string) (int, bool) {
		c, err := pkgdb.Compare(eco, a, b)
		return c, err == nil
	}
	lower := rg.Introduced
	if lower == "0" {
		lower = ""
	}
	var upper string
	inclusive := false // v must be above upper, not merely at it
	switch {
	case rg.Fixed != "":
		upper, bound = rg.Fixed, "fixed "+rg.Fixed
	case rg.LastAffected != "":
		upper, inclusive, bound = rg.LastAffected, true, "last affected "+rg.LastAffected
	case rg.Introduced == "" && len(rg.Versions) > 0:
		lo, hi := rg.Versions[0], rg.Versions[0]
		for _, x := range rg.Versions[1:] {
			if c, ok := cmp(x, lo); ok && c < 0 {
				lo = x
			}
			if c, ok := cmp(x, hi); ok && c > 0 {
				hi = x
			}
		}
		lower, upper, inclusive, bound = lo, hi, true, "affected "+hi
	default:
		return "", false
	}
	if lower != "" {
		if c, ok := cmp(v, lower); !ok || c < 0 {
			return "", false
		}
	}
	c, ok := cmp(v, upper)
	if !ok || c < 0 || (inclusive && c == 0) {
		return "", false
	}
	return bound, true
}
