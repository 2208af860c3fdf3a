package pkgdb

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
)

// pacmanLocal is where pacman keeps one folder per installed package, named
// <name>-<pkgver>-<pkgrel>, each with a desc file.
const pacmanLocal = "/var/lib/pacman/local/"

// isPacmanDesc says whether p is /var/lib/pacman/local/<entry>/desc.
func isPacmanDesc(p string) bool {
	rest, ok := strings.CutPrefix(p, pacmanLocal)
	if !ok {
		return false
	}
	entry, file, ok := strings.Cut(rest, "/")
	return ok && file == "desc" && entry != "" && entry[0] != '.'
}

// parsePacman reads one desc file of pacman's local database: sections that
// start with a "%KEY%" line and hold one value a line up to a blank line.
// %NAME%, %VERSION%, %ARCH% and %BASE% (the pkgbase, the source package)
// are kept; the rest (%FILES% lives in another file) is skipped. The folder
// name must be %NAME%-%VERSION%, as pacman writes it: a record that says
// otherwise is returned, with an error saying so.
func parsePacman(file string, r io.Reader) ([]Package, error) {
	var (
		fields  = map[string]string{}
		section string
		values  int
		probs   = problems{file: file}
		ls      = newLineScanner(r)
	)
	for ls.Scan() {
		line := bytes.TrimRight(ls.Line(), " \t")
		switch {
		case len(line) == 0:
			section = ""
		case section == "" && len(line) >= 3 && line[0] == '%' && line[len(line)-1] == '%':
			section, values = string(line[1:len(line)-1]), 0
			if _, dup := fields[section]; dup && wantPacman(section) {
				probs.add(ls.start, "section %%%s%% given twice", section)
			}
		case section == "":
			probs.add(ls.start, "value outside a %%SECTION%%")
		default:
			values++
			if wantPacman(section) {
				if values > 1 {
					probs.add(ls.start, "section %%%s%% holds more than one value", section)
					continue
				}
				fields[section] = string(line)
			}
		}
	}
	if err := ls.Err(file); err != nil {
		return nil, err
	}
	name := fields["NAME"]
	if name == "" {
		probs.add(0, "no %%NAME%%")
		return nil, probs.err()
	}
	p := Package{
		Name:          name,
		Version:       fields["VERSION"],
		Arch:          fields["ARCH"],
		Source:        name,
		SourceVersion: fields["VERSION"],
		Ecosystem:     Pacman,
	}
	if b := fields["BASE"]; b != "" {
		p.Source = b
	}
	if p.Version == "" {
		probs.add(0, "package %q: no %%VERSION%%", name)
	}
	if entry := path.Base(path.Dir(file)); entry != "." && entry != "/" && entry != name+"-"+p.Version {
		probs.add(0, "package %s %s lies in folder %q, not %q", name, p.Version, entry, name+"-"+p.Version)
	}
	return []Package{p}, probs.err()
}

func wantPacman(section string) bool {
	switch section {
	case "NAME", "VERSION", "ARCH", "BASE":
		return true
	}
	return false
}

// comparePacman is libalpm's alpm_pkg_vercmp: [epoch:]pkgver[-pkgrel],
// epoch (default 0) first, then pkgver with rpmvercmp, then pkgrel only when
// both sides have one, so "5.6.1" equals "5.6.1-1" as in pacman's own
// dependency checks.
func comparePacman(a, b string) (int, error) {
	for _, v := range []string{a, b} {
		if v == "" || strings.ContainsAny(v, " \t\n\r\x00") {
			return 0, fmt.Errorf("%w: pacman %q: empty or holding white space", ErrVersion, v)
		}
	}
	if a == b {
		return 0, nil
	}
	ea, va, ra, hasRA := alpmEVR(a)
	eb, vb, rb, hasRB := alpmEVR(b)
	if c := rpmvercmp(ea, eb); c != 0 {
		return c, nil
	}
	c := rpmvercmp(va, vb)
	if c == 0 && hasRA && hasRB {
		c = rpmvercmp(ra, rb)
	}
	return c, nil
}

// alpmEVR splits as libalpm's parseEVR does: leading digits followed by ':'
// are the epoch (an empty one is "0"), the release follows the last '-'
// after them.
func alpmEVR(s string) (epoch, version, release string, hasRelease bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	epoch, version = "0", s
	rest := s[i:]
	if strings.HasPrefix(rest, ":") {
		if i > 0 {
			epoch = s[:i]
		}
		version = rest[1:]
	}
	if j := strings.LastIndexByte(version, '-'); j >= 0 {
		return epoch, version[:j], version[j+1:], true
	}
	return epoch, version, "", false
}

// rpmvercmp is libalpm's copy of rpm's segment comparison (lib/libalpm/
// version.c), byte for byte in the C locale: runs of separators are
// skipped, a different number of them decides, digits compare as numbers
// (leading zeros dropped, longer wins), letters as strings, a numeric
// segment beats an alphabetic one, and at the end a remaining alphabetic
// segment loses to nothing while anything else wins.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	one, two := 0, 0 // start of the current segments
	p1, p2 := 0, 0   // end of the previous segments
	for one < len(a) && two < len(b) {
		for one < len(a) && !isAlnum(a[one]) {
			one++
		}
		for two < len(b) && !isAlnum(b[two]) {
			two++
		}
		if one >= len(a) || two >= len(b) {
			break
		}
		if one-p1 != two-p2 {
			if one-p1 < two-p2 {
				return -1
			}
			return 1
		}
		p1, p2 = one, two
		isNum := isDigit(a[p1])
		if isNum {
			for p1 < len(a) && isDigit(a[p1]) {
				p1++
			}
			for p2 < len(b) && isDigit(b[p2]) {
				p2++
			}
		} else {
			for p1 < len(a) && isAlpha(a[p1]) {
				p1++
			}
			for p2 < len(b) && isAlpha(b[p2]) {
				p2++
			}
		}
		if two == p2 {
			// b's segment is of the other kind: numbers are newer.
			if isNum {
				return 1
			}
			return -1
		}
		s1, s2 := a[one:p1], b[two:p2]
		if isNum {
			s1, s2 = strings.TrimLeft(s1, "0"), strings.TrimLeft(s2, "0")
			if len(s1) != len(s2) {
				if len(s1) > len(s2) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(s1, s2); c != 0 {
			return c
		}
		one, two = p1, p2
	}
	if one >= len(a) && two >= len(b) {
		return 0
	}
	if (one >= len(a) && !(two < len(b) && isAlpha(b[two]))) || (one < len(a) && isAlpha(a[one])) {
		return -1
	}
	return 1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
