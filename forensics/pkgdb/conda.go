package pkgdb

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// isCondaMeta says whether p is a record of conda's: a .json file directly
// in a conda-meta folder, the one every conda environment (the base
// installation, /opt/conda, each envs/<name>) keeps at its root.
func isCondaMeta(p string) bool {
	dir, base := path.Split(p)
	return strings.HasSuffix(dir, "/conda-meta/") && strings.HasSuffix(base, ".json") && len(base) > len(".json") && base[0] != '.'
}

// parseConda reads one conda-meta record, <name>-<version>-<build>.json,
// as a stream: name, version, build and subdir are kept; the file lists
// (files, paths_data), which can run to megabytes, are skipped. A record
// whose file name disagrees with its fields is returned with an error.
func parseConda(file string, r io.Reader) ([]Package, error) {
	var name, version, build, subdir string
	err := readObject(file, r, map[string]any{"name": &name, "version": &version, "build": &build, "subdir": &subdir})
	if name == "" {
		if err == nil {
			err = &FormatError{File: file, Err: fmt.Errorf("%w: no name", ErrMalformed)}
		}
		return nil, err
	}
	p := Package{Name: name, Version: version, Arch: subdir, Source: name, SourceVersion: version, Ecosystem: Conda}
	if err != nil {
		return []Package{p}, err
	}
	if version == "" {
		return []Package{p}, &FormatError{File: file, Err: fmt.Errorf("%w: package %q has no version", ErrMalformed, name)}
	}
	if want := name + "-" + version + "-" + build + ".json"; build != "" && path.Base(file) != want {
		return []Package{p}, &FormatError{File: file, Err: fmt.Errorf("%w: record of %s %s build %s is not named %s", ErrMalformed, name, version, build, want)}
	}
	return []Package{p}, nil
}

// condaKind orders the kinds of a version's subcomponents: strings sort
// below numbers, and "post" above every number.
type condaKind int

const (
	condaStr condaKind = iota
	condaNum
	condaPost
)

type condaPart struct {
	kind condaKind
	s    string // the string, or the digits without leading zeros
}

// condaVersion is conda's VersionOrder: the epoch and the version's
// components, and the local version's, each a list of subcomponents.
type condaVersion struct {
	version, local [][]condaPart
}

// parseCondaVersion follows conda.models.version.VersionOrder: lower case,
// '-' read as '_' when there is no '_', "N!" an epoch, "+" a local version,
// components split at '.' and '_' (a trailing '_' stays on the last one),
// each split into runs of digits and of other characters, with 0 put in
// front of a component that starts with a letter, "dev" below every other
// string and "post" above every number.
func parseCondaVersion(vstr string) (condaVersion, error) {
	bad := func(why string) (condaVersion, error) {
		return condaVersion{}, fmt.Errorf("%w: conda %q: %s", ErrVersion, vstr, why)
	}
	v := strings.ToLower(strings.TrimSpace(vstr))
	if v == "" {
		return bad("empty")
	}
	valid := func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(isDigit(c) || 'a' <= c && c <= 'z' || strings.IndexByte("*.+!_", c) >= 0) {
				return false
			}
		}
		return true
	}
	if !valid(v) {
		if strings.Contains(v, "-") && !strings.Contains(v, "_") {
			v = strings.ReplaceAll(v, "-", "_")
		}
		if !valid(v) {
			return bad("invalid characters")
		}
	}
	epoch := "0"
	if e, rest, ok := strings.Cut(v, "!"); ok {
		if strings.Contains(rest, "!") {
			return bad("duplicated epoch separator '!'")
		}
		if e == "" || strings.TrimLeft(e, "0123456789") != "" {
			return bad("epoch must be an integer")
		}
		epoch, v = e, rest
	}
	main, local, hasLocal := strings.Cut(v, "+")
	if strings.Contains(local, "+") {
		return bad("duplicated local version separator '+'")
	}
	if main == "" {
		return bad("empty version")
	}
	var comps []string
	if strings.HasSuffix(main, "_") {
		comps = strings.Split(strings.ReplaceAll(main[:len(main)-1], "_", "."), ".")
		comps[len(comps)-1] += "_"
	} else {
		comps = strings.Split(strings.ReplaceAll(main, "_", "."), ".")
	}
	var out condaVersion
	var err error
	if out.version, err = condaComponents(append([]string{epoch}, comps...)); err != nil {
		return bad(err.Error())
	}
	if hasLocal {
		if out.local, err = condaComponents(strings.Split(strings.ReplaceAll(local, "_", "."), ".")); err != nil {
			return bad(err.Error())
		}
	}
	return out, nil
}

func condaComponents(comps []string) ([][]condaPart, error) {
	out := make([][]condaPart, 0, len(comps))
	for _, c := range comps {
		if c == "" {
			return nil, fmt.Errorf("empty version component")
		}
		var parts []condaPart
		if !isDigit(c[0]) {
			parts = append(parts, condaPart{kind: condaNum, s: ""}) // the fill value 0
		}
		for i := 0; i < len(c); {
			j := i + 1
			switch {
			case isDigit(c[i]):
				for j < len(c) && isDigit(c[j]) {
					j++
				}
				parts = append(parts, condaPart{kind: condaNum, s: strings.TrimLeft(c[i:j], "0")})
			case c[i] == '*':
				for j < len(c) && c[j] == '*' {
					j++
				}
				parts = append(parts, condaPart{kind: condaStr, s: c[i:j]})
			default:
				for j < len(c) && !isDigit(c[j]) && c[j] != '*' {
					j++
				}
				switch s := c[i:j]; s {
				case "post":
					parts = append(parts, condaPart{kind: condaPost})
				case "dev":
					// Upper case sorts below '_' and every lower-case string.
					parts = append(parts, condaPart{kind: condaStr, s: "DEV"})
				default:
					parts = append(parts, condaPart{kind: condaStr, s: s})
				}
			}
			i = j
		}
		out = append(out, parts)
	}
	return out, nil
}

func compareConda(a, b string) (int, error) {
	va, err := parseCondaVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseCondaVersion(b)
	if err != nil {
		return 0, err
	}
	if c := condaCompareLists(va.version, vb.version); c != 0 {
		return c, nil
	}
	return condaCompareLists(va.local, vb.local), nil
}

// condaCompareLists compares component lists as VersionOrder does, a
// missing component or subcomponent counting as the number 0.
func condaCompareLists(a, b [][]condaPart) int {
	zero := condaPart{kind: condaNum}
	for i := 0; i < max(len(a), len(b)); i++ {
		var ca, cb []condaPart
		if i < len(a) {
			ca = a[i]
		}
		if i < len(b) {
			cb = b[i]
		}
		for j := 0; j < max(len(ca), len(cb)); j++ {
			pa, pb := zero, zero
			if j < len(ca) {
				pa = ca[j]
			}
			if j < len(cb) {
				pb = cb[j]
			}
			if c := condaComparePart(pa, pb); c != 0 {
				return c
			}
		}
	}
	return 0
}

func condaComparePart(a, b condaPart) int {
	switch {
	case a.kind == condaStr && b.kind == condaStr:
		return strings.Compare(a.s, b.s)
	case a.kind == condaStr:
		return -1
	case b.kind == condaStr:
		return 1
	case a.kind != b.kind: // a number and "post"
		if a.kind == condaPost {
			return 1
		}
		return -1
	case a.kind == condaPost:
		return 0
	}
	return compareDigits(a.s, b.s)
}

// compareDigits compares two runs of digits without leading zeros as
// numbers of any length.
func compareDigits(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
