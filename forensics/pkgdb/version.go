package pkgdb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	apkver "github.com/knqyf263/go-apk-version"
	debver "github.com/knqyf263/go-deb-version"
	rpmver "github.com/knqyf263/go-rpm-version"
)

// ErrVersion reports a version string the ecosystem's rules cannot parse.
var ErrVersion = errors.New("pkgdb: invalid version")

// Compare orders two versions with the ecosystem's own rules and returns
// -1, 0 or +1.
//
//   - dpkg (go-deb-version): epochs, "~" before everything (5.6.0~rc1 <
//     5.6.0), and "+" after (5.6.1+really5.4.5-1 > 5.6.1-1).
//   - rpm (go-rpm-version): EVR; a missing epoch is 0, and, as rpm itself
//     does when matching dependencies, the release is compared only when
//     both sides have one, so "5.6.1" equals "5.6.1-1.1" and a range bound
//     without release covers every release of that version.
//   - apk (go-apk-version): apk-tools' rules (_rc, _p, -rN).
//   - pacman: libalpm's alpm_pkg_vercmp (epoch:pkgver-pkgrel, rpmvercmp
//     segments; pkgrel compared only when both sides have one).
//   - brew: Homebrew's PkgVersion (version tokens with alpha, beta, pre,
//     rc, p and .post ranks, then the "_N" revision, compared only when
//     both sides have one).
//   - nix: Nix's compareVersions ("pre" below everything, 2.3a < 2.3.1).
//   - conda: conda's VersionOrder (epoch "N!", "dev" < strings < numbers <
//     "post", 1.1 == 1.1.0, "+local" compared last).
//   - portage: portage's vercmp (PMS: letter, _alpha < _beta < _pre < _rc
//     < none < _p, -rN compared only when both sides have one).
func Compare(eco Ecosystem, a, b string) (int, error) {
	switch eco {
	case Dpkg:
		va, err := debver.NewVersion(a)
		if err != nil {
			return 0, fmt.Errorf("%w: dpkg %q: %v", ErrVersion, a, err)
		}
		vb, err := debver.NewVersion(b)
		if err != nil {
			return 0, fmt.Errorf("%w: dpkg %q: %v", ErrVersion, b, err)
		}
		return sign(va.Compare(vb)), nil
	case RPM:
		va, err := parseEVR(a)
		if err != nil {
			return 0, err
		}
		vb, err := parseEVR(b)
		if err != nil {
			return 0, err
		}
		if va.Release() == "" || vb.Release() == "" {
			va = rpmver.NewVersion(fmt.Sprintf("%d:%s", va.Epoch(), va.Version()))
			vb = rpmver.NewVersion(fmt.Sprintf("%d:%s", vb.Epoch(), vb.Version()))
		}
		return sign(va.Compare(vb)), nil
	case APK:
		va, err := apkver.NewVersion(a)
		if err != nil {
			return 0, fmt.Errorf("%w: apk %q: %v", ErrVersion, a, err)
		}
		vb, err := apkver.NewVersion(b)
		if err != nil {
			return 0, fmt.Errorf("%w: apk %q: %v", ErrVersion, b, err)
		}
		return sign(va.Compare(vb)), nil
	case Pacman:
		return comparePacman(a, b)
	case Brew:
		return compareBrew(a, b)
	case Nix:
		return compareNix(a, b)
	case Conda:
		return compareConda(a, b)
	case Portage:
		return comparePortage(a, b)
	}
	return 0, fmt.Errorf("%w %q", ErrEcosystem, eco)
}

// parseEVR checks what go-rpm-version silently accepts: it reads a bad
// epoch as 0 and an empty version as the lowest, which would put garbage
// inside every range.
func parseEVR(s string) (rpmver.Version, error) {
	bad := func(why string) (rpmver.Version, error) {
		return rpmver.Version{}, fmt.Errorf("%w: rpm %q: %s", ErrVersion, s, why)
	}
	if strings.TrimSpace(s) != s || s == "" {
		return bad("empty or padded with spaces")
	}
	ev := s
	if e, rest, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 {
			return bad("epoch is not a non-negative number")
		}
		ev = rest
	}
	if v, _, _ := strings.Cut(ev, "-"); v == "" {
		return bad("empty version")
	}
	return rpmver.NewVersion(s), nil
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// Range is a version range; empty fields are open. Affected when
// Introduced <= v < Fixed, or Introduced <= v <= LastAffected; Versions
// lists exact affected versions, matched with Compare so that "0:5.6.0-1"
// and "5.6.0-1" are one version while "1:5.6.0-1" is another.
//
// As in OSV, Introduced "0" means "from the first version". A Range whose
// three bounds are all empty covers nothing but its Versions, so a rule that
// lists only exact versions does not match everything else.
type Range struct {
	Introduced   string   `json:"introduced,omitempty"`
	Fixed        string   `json:"fixed,omitempty"`
	LastAffected string   `json:"last_affected,omitempty"`
	Versions     []string `json:"versions,omitempty"`
}

// Contains says whether v is affected. Some cases from CVE-2024-3094:
//
//   - dpkg, introduced 5.5.1alpha-0.1, last_affected 5.6.1-1: 5.6.0-0.1,
//     5.6.0-0.2 and 5.6.1-1 are in; Debian's fix 5.6.1+really5.4.5-1 sorts
//     after 5.6.1-1 ("+" beats the end of the string) and is out.
//   - rpm, openSUSE's fix 5.6.1.revertto5.4-1.1: rpmvercmp splits the
//     version into 5, 6, 1, "revertto", 5, 4 and the side with segments
//     left over is newer, so it sorts after every 5.6.1-R. With fixed
//     "5.6.1.revertto5.4" (or last_affected "5.6.1", release-less so every
//     5.6.1 release is covered) the revert is out and 5.6.1-1.1 is in.
//     Versions can list exact builds where the order alone cannot tell.
//   - apk, introduced 5.6.1-r0, fixed 5.6.1-r2: r0 and r1 are in, r2 out.
func (r Range) Contains(eco Ecosystem, v string) (bool, error) {
	for _, x := range r.Versions {
		c, err := Compare(eco, v, x)
		if err != nil {
			return false, fmt.Errorf("range version %q: %w", x, err)
		}
		if c == 0 {
			return true, nil
		}
	}
	if r.Introduced == "" && r.Fixed == "" && r.LastAffected == "" {
		if len(r.Versions) == 0 {
			// Still check v, so a bad version is reported the same way
			// whatever the range holds.
			if _, err := Compare(eco, v, v); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	if r.Introduced != "" && r.Introduced != "0" {
		c, err := Compare(eco, v, r.Introduced)
		if err != nil {
			return false, fmt.Errorf("range introduced %q: %w", r.Introduced, err)
		}
		if c < 0 {
			return false, nil
		}
	}
	if r.Fixed != "" {
		c, err := Compare(eco, v, r.Fixed)
		if err != nil {
			return false, fmt.Errorf("range fixed %q: %w", r.Fixed, err)
		}
		if c >= 0 {
			return false, nil
		}
	}
	if r.LastAffected != "" {
		c, err := Compare(eco, v, r.LastAffected)
		if err != nil {
			return false, fmt.Errorf("range last_affected %q: %w", r.LastAffected, err)
		}
		if c > 0 {
			return false, nil
		}
	}
	if r.Introduced == "0" {
		// The open lower bound still has to reject an unparsable v.
		if _, err := Compare(eco, v, v); err != nil {
			return false, err
		}
	}
	return true, nil
}
